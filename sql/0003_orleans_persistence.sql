-- Orleans grain storage (Microsoft.Orleans.Persistence.AdoNet, invariant "Npgsql").
--
-- One row per (service, state name, grain). The provider's @GrainTypeString is in practice the state name of
-- [PersistentState("name")], and the grain is identified by its key: @GrainIdHash (a hash of the key, kept
-- as the leading index column because it is selective), @GrainIdN0/@GrainIdN1 (the 128 bits of a Guid key,
-- or 0 and the long key) and @GrainIdExtensionString (the key extension, or the whole key of a string-keyed
-- grain; null when there is none). @GrainTypeHash is recorded but deliberately not part of the key: a hash
-- alone could make two records one (see Orleans issue #8746 for the keying discussion).
--
-- Versions are the etag. A write names the version it last saw (null: "I saw no record"); it succeeds only
-- on a match and returns the new version. On a conflict it returns null, which the provider turns into an
-- InconsistentStateException. Parameter types: text, int4 hashes and version, int8 N0/N1, bytea payload.

CREATE TABLE orleans_storage (
    grain_id_hash            int         NOT NULL,
    grain_id_n0              bigint      NOT NULL,
    grain_id_n1              bigint      NOT NULL,
    service_id               text        NOT NULL,
    grain_type_string        text        NOT NULL,
    grain_id_extension_string text       NULL,
    grain_type_hash          int         NOT NULL,
    -- Null after a clear: the record then reads as "does not exist" but keeps counting versions.
    payload_binary           bytea       NULL,
    version                  int         NOT NULL,
    modified_on              timestamptz NOT NULL DEFAULT now(),
    -- NULLS NOT DISTINCT: a grain without a key extension is one record, not one per write.
    CONSTRAINT orleans_storage_grain_key UNIQUE NULLS NOT DISTINCT
        (grain_id_hash, grain_id_n0, grain_id_n1, service_id, grain_type_string, grain_id_extension_string)
);

-- Writes a grain's state; returns the new version, or null when p_version is not the stored version
-- (including "no version given but a record exists" and "a version given but no record").
CREATE FUNCTION orleans_storage_write(
    p_service_id text, p_grain_type_string text, p_grain_type_hash int, p_grain_id_hash int,
    p_grain_id_n0 bigint, p_grain_id_n1 bigint, p_grain_id_extension_string text,
    p_version int, p_payload bytea)
RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    v_new_version int;
BEGIN
    IF p_version IS NULL THEN
        -- First write of this grain. If another activation got there first the insert does nothing
        -- (the unique key arbitrates, even between concurrent transactions) and null reports the conflict.
        INSERT INTO orleans_storage (grain_id_hash, grain_id_n0, grain_id_n1, service_id, grain_type_string,
                                     grain_id_extension_string, grain_type_hash, payload_binary, version)
        VALUES (p_grain_id_hash, p_grain_id_n0, p_grain_id_n1, p_service_id, p_grain_type_string,
                p_grain_id_extension_string, p_grain_type_hash, p_payload, 1)
        ON CONFLICT ON CONSTRAINT orleans_storage_grain_key DO NOTHING
        RETURNING version INTO v_new_version;
        RETURN v_new_version;
    END IF;

    UPDATE orleans_storage
    SET payload_binary = p_payload, grain_type_hash = p_grain_type_hash,
        version = version + 1, modified_on = now()
    WHERE grain_id_hash = p_grain_id_hash AND grain_id_n0 = p_grain_id_n0 AND grain_id_n1 = p_grain_id_n1
      AND service_id = p_service_id AND grain_type_string = p_grain_type_string
      AND grain_id_extension_string IS NOT DISTINCT FROM p_grain_id_extension_string
      AND version = p_version
    RETURNING version INTO v_new_version;
    RETURN v_new_version;
END $$;

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES
('WriteToStorageKey', $$
SELECT orleans_storage_write(@ServiceId, @GrainTypeString, @GrainTypeHash, @GrainIdHash, @GrainIdN0, @GrainIdN1,
                             @GrainIdExtensionString, @GrainStateVersion, @PayloadBinary) AS "NewGrainStateVersion"
$$),

('ReadFromStorageKey', $$
SELECT payload_binary AS "PayloadBinary",
       version        AS "Version"
FROM orleans_storage
WHERE grain_id_hash = @GrainIdHash AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
  AND service_id = @ServiceId AND grain_type_string = @GrainTypeString
  AND grain_id_extension_string IS NOT DISTINCT FROM @GrainIdExtensionString
$$),

-- A clear keeps the row with a null payload and a new version, so a stale writer still conflicts.
-- No row back (stale version) means a conflict to the provider.
('ClearStorageKey', $$
UPDATE orleans_storage
SET payload_binary = NULL, version = version + 1, modified_on = now()
WHERE grain_id_hash = @GrainIdHash AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
  AND service_id = @ServiceId AND grain_type_string = @GrainTypeString
  AND grain_id_extension_string IS NOT DISTINCT FROM @GrainIdExtensionString
  AND version = @GrainStateVersion
RETURNING version AS "Version"
$$),

-- Used instead of ClearStorageKey with DeleteStateOnClear: the row goes, and the provider expects the
-- deleted version + 1 back as proof that the delete matched.
('DeleteStorageKey', $$
DELETE FROM orleans_storage
WHERE grain_id_hash = @GrainIdHash AND grain_id_n0 = @GrainIdN0 AND grain_id_n1 = @GrainIdN1
  AND service_id = @ServiceId AND grain_type_string = @GrainTypeString
  AND grain_id_extension_string IS NOT DISTINCT FROM @GrainIdExtensionString
  AND version = @GrainStateVersion
RETURNING version + 1 AS "Version"
$$);
