-- The W3C trace context (traceparent) in which a run was created, when the gateway traced the request. Every
-- activation of the run, on any silo and after a hand-off or a crash, parents its spans on it, so that a run
-- reads as one trace from the webhook to its last step. NULL when tracing was off.
ALTER TABLE workflow_runs ADD COLUMN trace_parent text NULL;

-- As in 0104, and the run row keeps the trace context it was created in. The old four-argument function is
-- replaced, not overloaded: a caller that passes four arguments gets the default (no trace).
DROP FUNCTION meshhook_create_run(uuid, text, jsonb, text);

CREATE FUNCTION meshhook_create_run(
    p_run_id uuid, p_slug text, p_trigger jsonb, p_idempotency_key text, p_trace_parent text DEFAULT NULL)
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

    INSERT INTO workflow_runs AS r (id, workflow_id, slug, status, trigger, idempotency_key, last_seq, trace_parent)
    VALUES (p_run_id, v_workflow_id, p_slug, 'queued', p_trigger, p_idempotency_key, 1, p_trace_parent)
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
