-- A run's history is its journal: a checkpoint appends the run's new events and updates its row in one
-- statement (one transaction), and an activation rebuilds the run from its row and its history.

-- The seq of the run's last event. It is the checkpoint's version: a write states the last_seq it started
-- from, and a stale activation (one that another activation has written past) is refused.
ALTER TABLE workflow_runs ADD COLUMN last_seq int NOT NULL DEFAULT 0;

-- The run went on without its Orleans reminder (the reminder service did not take it in time) and it has not
-- been seen to land since: whichever activation holds the run next keeps registering it.
ALTER TABLE workflow_runs ADD COLUMN reminder_missing boolean NOT NULL DEFAULT false;

UPDATE workflow_runs r SET last_seq = e.max_seq
FROM (SELECT run_id, max(seq) AS max_seq FROM workflow_events GROUP BY run_id) e
WHERE e.run_id = r.id;

-- As in 0101, and the run row records that run_created took seq 1.
CREATE OR REPLACE FUNCTION meshhook_create_run(p_run_id uuid, p_slug text, p_trigger jsonb, p_idempotency_key text)
RETURNS TABLE (run_id uuid, created boolean) LANGUAGE plpgsql AS $$
DECLARE
    v_workflow_id uuid;
    v_version     int;
    v_inserted    uuid;
BEGIN
    SELECT d.id, d.version INTO v_workflow_id, v_version
    FROM workflow_definitions d
    WHERE d.slug = p_slug AND d.status = 'published'
    ORDER BY d.version DESC
    LIMIT 1;

    IF v_workflow_id IS NULL THEN
        RAISE EXCEPTION 'no published workflow with slug %', p_slug USING ERRCODE = 'no_data_found';
    END IF;

    INSERT INTO workflow_runs AS r (id, workflow_id, slug, status, trigger, idempotency_key, last_seq)
    VALUES (p_run_id, v_workflow_id, p_slug, 'queued', p_trigger, p_idempotency_key, 1)
    ON CONFLICT (slug, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING r.id INTO v_inserted;

    IF v_inserted IS NULL THEN
        RETURN QUERY
            SELECT r.id, false FROM workflow_runs r
            WHERE r.slug = p_slug AND r.idempotency_key = p_idempotency_key;
        RETURN;
    END IF;

    INSERT INTO workflow_events (run_id, seq, type, payload)
    VALUES (v_inserted, 1, 'run_created', jsonb_build_object('slug', p_slug, 'version', v_version));

    RETURN QUERY SELECT v_inserted, true;
END $$;

-- One checkpoint of a run: appends the events numbered p_expected_seq + 1, + 2, ... and sets the run's row,
-- all or nothing. Returns the run's last seq afterwards, or -1 when the run's last seq is not
-- p_expected_seq (another activation wrote since; nothing is written). A retry of a checkpoint that
-- committed but whose answer was lost finds its own last event in place and returns success again.
-- A missing run raises SQLSTATE P0002 (no_data_found).
CREATE FUNCTION meshhook_checkpoint(
    p_run_id uuid, p_expected_seq int, p_ts timestamptz[], p_types text[], p_payloads text[],
    p_status text, p_output text, p_error text, p_silo text, p_reminder_missing boolean)
RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    v_last  int;
    v_count int := coalesce(array_length(p_types, 1), 0);
BEGIN
    SELECT r.last_seq INTO v_last FROM workflow_runs r WHERE r.id = p_run_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no run %', p_run_id USING ERRCODE = 'no_data_found';
    END IF;

    IF v_last <> p_expected_seq THEN
        IF v_count > 0 AND v_last = p_expected_seq + v_count AND EXISTS (
            SELECT 1 FROM workflow_events e
            WHERE e.run_id = p_run_id AND e.seq = v_last AND e.ts = p_ts[v_count] AND e.type = p_types[v_count]) THEN
            RETURN v_last;
        END IF;
        RETURN -1;
    END IF;

    IF v_count > 0 THEN
        INSERT INTO workflow_events (run_id, seq, ts, type, payload)
        SELECT p_run_id, p_expected_seq + e.n::int, e.ts, e.type, e.payload::jsonb
        FROM unnest(p_ts, p_types, p_payloads) WITH ORDINALITY AS e(ts, type, payload, n);
    END IF;

    UPDATE workflow_runs SET
        last_seq = p_expected_seq + v_count,
        status = p_status,
        output = p_output::jsonb,
        error = p_error,
        silo = p_silo,
        reminder_missing = p_reminder_missing,
        started_at = CASE WHEN p_status <> 'queued' THEN coalesce(started_at, now()) ELSE started_at END,
        finished_at = CASE WHEN p_status IN ('succeeded', 'failed', 'canceled') THEN coalesce(finished_at, now()) ELSE NULL END,
        updated_at = now()
    WHERE id = p_run_id;

    RETURN p_expected_seq + v_count;
END $$;
