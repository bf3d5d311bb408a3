-- A workflow with a secret may ask that its webhooks be signed with a timestamp (replay protection): the signature
-- then covers "<timestamp>.<body>", and intake refuses a timestamp older (or further ahead) than the window.
-- Null: the signature covers the body alone, as before.
ALTER TABLE workflow_definitions ADD COLUMN signature_max_age_seconds int
    CHECK (signature_max_age_seconds IS NULL OR signature_max_age_seconds > 0);

-- As in 0101, with the window. The function of 0101 stays for gateways of the previous version during a rolling
-- upgrade; it publishes without a window.
CREATE FUNCTION meshhook_publish_workflow(p_slug text, p_name text, p_definition jsonb, p_secret text, p_signature_max_age_seconds int)
RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    v_version int;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('meshhook.publish:' || p_slug, 0));
    SELECT coalesce(max(version), 0) + 1 INTO v_version FROM workflow_definitions WHERE slug = p_slug;
    INSERT INTO workflow_definitions (slug, version, name, definition, secret, signature_max_age_seconds)
    VALUES (p_slug, v_version, p_name, p_definition, p_secret, p_signature_max_age_seconds);
    RETURN v_version;
END $$;
