-- Operations that more than one program performs (the gateway, the silo, tools) live here once.

-- Publishes a new immutable version of a workflow; returns the version number.
-- Concurrent publishes of one slug are serialised by a transaction-scoped advisory lock.
CREATE FUNCTION meshhook_publish_workflow(p_slug text, p_name text, p_definition jsonb, p_secret text)
RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    v_version int;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('meshhook.publish:' || p_slug, 0));
    SELECT coalesce(max(version), 0) + 1 INTO v_version FROM workflow_definitions WHERE slug = p_slug;
    INSERT INTO workflow_definitions (slug, version, name, definition, secret)
    VALUES (p_slug, v_version, p_name, p_definition, p_secret);
    RETURN v_version;
END $$;

-- Creates a run of the latest published version of p_slug, durably and idempotently:
-- the run row (queued) and its run_created event (seq 1) commit together.
-- With an idempotency key that was used before for this slug, nothing is written and the
-- earlier run's id comes back with created = false.
-- An unknown slug raises SQLSTATE P0002 (no_data_found).
CREATE FUNCTION meshhook_create_run(p_run_id uuid, p_slug text, p_trigger jsonb, p_idempotency_key text)
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

    INSERT INTO workflow_runs AS r (id, workflow_id, slug, status, trigger, idempotency_key)
    VALUES (p_run_id, v_workflow_id, p_slug, 'queued', p_trigger, p_idempotency_key)
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
