-- Named secrets for http_call headers ({"secret": "NAME", "prefix"?: "Bearer "}). value is what SecretBox stored:
-- "mhenc:v1:<key id>:<base64>" (AES-256-GCM, bound to the name) unless the cluster runs with
-- MeshHook:Secrets:AllowUnencrypted. No API returns a value; silos read it when they prepare a request.
CREATE TABLE meshhook_secrets (
    name       text        PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$'),
    value      text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
