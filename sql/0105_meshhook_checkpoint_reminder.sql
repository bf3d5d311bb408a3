-- A run's Orleans reminder is written by its checkpoints, not registered through Orleans: the checkpoint that
-- leaves the run unfinished makes sure the run's orleans_reminders row exists, and the checkpoint that finishes
-- the run deletes it, each in the checkpoint's own transaction. Registering and removing it through Orleans' reminder
-- service cost two more write transactions and a read per run, and could not start a run while that service had not
-- loaded its range. Orleans' reminder service takes up rows it did not write itself: every silo re-reads its range of
-- the table every ReminderOptions.RefreshReminderListPeriod and on every range change (a silo joining or leaving),
-- adding the rows it finds and dropping the ones gone.
--
-- The row is the one Orleans' ADO.NET reminder table would write (sql/0004): grain_id is GrainId.ToString(),
-- grain_hash its uniform hash cast to a signed int4, period in milliseconds, version 0 for a new row (the etag
-- Orleans needs to remove it itself). An existing row is left as it is: its schedule already runs.
--
-- The function of 0104 stays for silos of the previous version during a rolling upgrade; it writes no reminder
-- (those silos register it through Orleans).
CREATE FUNCTION meshhook_checkpoint(
    p_run_id uuid, p_expected_seq int, p_ts timestamptz[], p_types text[], p_payloads text[],
    p_status text, p_output text, p_error text, p_silo text,
    p_reminder_service text, p_reminder_grain text, p_reminder_name text, p_reminder_hash int, p_reminder_period_ms bigint)
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
        reminder_missing = false,
        started_at = CASE WHEN p_status <> 'queued' THEN coalesce(started_at, now()) ELSE started_at END,
        finished_at = CASE WHEN p_status IN ('succeeded', 'failed', 'canceled') THEN coalesce(finished_at, now()) ELSE NULL END,
        updated_at = now()
    WHERE id = p_run_id;

    IF p_reminder_grain IS NOT NULL THEN
        IF p_status IN ('succeeded', 'failed', 'canceled') THEN
            DELETE FROM orleans_reminders
            WHERE service_id = p_reminder_service AND grain_id = p_reminder_grain AND reminder_name = p_reminder_name;
        ELSE
            INSERT INTO orleans_reminders (service_id, grain_id, reminder_name, start_time, period, grain_hash, version)
            VALUES (p_reminder_service, p_reminder_grain, p_reminder_name,
                    now() + p_reminder_period_ms * interval '1 millisecond', p_reminder_period_ms, p_reminder_hash, 0)
            ON CONFLICT (service_id, grain_id, reminder_name) DO NOTHING;
        END IF;
    END IF;

    RETURN p_expected_seq + v_count;
END $$;
