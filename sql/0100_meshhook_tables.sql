-- MeshHook's own tables: workflow definitions (immutable published versions), runs, and each run's
-- append-only history. Names and columns are the ones the MeshHook web app reads.

CREATE TABLE workflow_definitions (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    slug        text        NOT NULL,
    version     int         NOT NULL CHECK (version > 0),
    name        text        NOT NULL,
    definition  jsonb       NOT NULL,
    status      text        NOT NULL DEFAULT 'published' CHECK (status IN ('published', 'archived')),
    -- HMAC-SHA256 secret for webhook signatures; null means unsigned intake.
    secret      text        NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT workflow_definitions_slug_version_key UNIQUE (slug, version),
    CONSTRAINT workflow_definitions_slug_format CHECK (slug ~ '^[a-z0-9][a-z0-9_-]{0,99}$')
);

-- A published version is immutable: only its status may change (to archive it).
CREATE FUNCTION meshhook_definitions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.slug IS DISTINCT FROM OLD.slug OR NEW.version IS DISTINCT FROM OLD.version
       OR NEW.name IS DISTINCT FROM OLD.name OR NEW.definition IS DISTINCT FROM OLD.definition
       OR NEW.secret IS DISTINCT FROM OLD.secret OR NEW.id IS DISTINCT FROM OLD.id THEN
        RAISE EXCEPTION 'workflow % version % is published and immutable', OLD.slug, OLD.version
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER workflow_definitions_immutable
    BEFORE UPDATE ON workflow_definitions
    FOR EACH ROW EXECUTE FUNCTION meshhook_definitions_immutable();

CREATE TABLE workflow_runs (
    id              uuid        PRIMARY KEY,
    workflow_id     uuid        NOT NULL REFERENCES workflow_definitions (id),
    -- Denormalised from the definition so that listing runs by workflow needs no join.
    slug            text        NOT NULL,
    status          text        NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'paused', 'canceled')),
    -- What the webhook delivered: {"headers": {...}, "body": ...}. Signature headers are never stored.
    trigger         jsonb       NOT NULL,
    idempotency_key text        NULL,
    output          jsonb       NULL,
    error           text        NULL,
    started_at      timestamptz NULL,
    finished_at     timestamptz NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX workflow_runs_idempotency_key
    ON workflow_runs (slug, idempotency_key) WHERE idempotency_key IS NOT NULL;

-- The recovery sweep looks for unfinished runs only.
CREATE INDEX workflow_runs_unfinished ON workflow_runs (created_at) WHERE status IN ('queued', 'running', 'paused');

CREATE INDEX workflow_runs_workflow ON workflow_runs (workflow_id, created_at DESC);

CREATE TABLE workflow_events (
    id      bigserial   PRIMARY KEY,
    run_id  uuid        NOT NULL REFERENCES workflow_runs (id),
    seq     int         NOT NULL CHECK (seq > 0),
    ts      timestamptz NOT NULL DEFAULT now(),
    type    text        NOT NULL CHECK (type IN (
                'run_created', 'step_started', 'http_attempted', 'step_succeeded', 'step_failed',
                'run_completed', 'run_canceled', 'run_interrupted', 'run_handed_off', 'run_resumed')),
    payload jsonb       NOT NULL DEFAULT '{}'::jsonb,
    CONSTRAINT workflow_events_run_id_seq_key UNIQUE (run_id, seq)
);

-- History is append-only.
CREATE FUNCTION meshhook_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'workflow_events is append-only' USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER workflow_events_append_only
    BEFORE UPDATE OR DELETE ON workflow_events
    FOR EACH ROW EXECUTE FUNCTION meshhook_events_append_only();
