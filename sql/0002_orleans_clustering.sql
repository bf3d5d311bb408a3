-- Orleans cluster membership (Microsoft.Orleans.Clustering.AdoNet, invariant "Npgsql").
--
-- Every cluster (the provider's @DeploymentId is the ClusterId) has one row in orleans_membership_version.
-- Its version is the etag of the whole membership table: a silo reads the table, decides, and writes back
-- naming the version it read. A write succeeds only if nobody wrote in between, and then bumps the version;
-- a stale write changes nothing and answers false, and Orleans re-reads and tries again.
--
-- Parameter types, as the provider binds them: strings as text, @Port/@Generation/@Status/@ProxyPort/@Version
-- as int4, @StartTime/@IAmAliveTime as DateTime (Kind=Utc, DbType.DateTime), which Npgsql sends as timestamptz.
-- Result columns are read by name, so every query aliases its columns to the provider's spelling.

CREATE TABLE orleans_membership_version (
    deployment_id text        NOT NULL PRIMARY KEY,
    version       int         NOT NULL DEFAULT 0,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE orleans_membership (
    deployment_id   text        NOT NULL REFERENCES orleans_membership_version (deployment_id) ON DELETE CASCADE,
    address         text        NOT NULL,
    port            int         NOT NULL,
    generation      int         NOT NULL,
    silo_name       text        NOT NULL,
    host_name       text        NOT NULL,
    -- 1 Joining, 2 Created, 3 Active, 4 ShuttingDown, 5 Stopping, 6 Dead (Orleans.Runtime.SiloStatus).
    status          int         NOT NULL,
    proxy_port      int         NOT NULL,
    -- "silo,date|silo,date": who suspects this silo and since when, in Orleans' own text format.
    suspect_times   text        NULL,
    start_time      timestamptz NOT NULL,
    i_am_alive_time timestamptz NOT NULL,
    -- A silo is its endpoint plus generation (its start epoch): a restarted silo is a new row.
    CONSTRAINT orleans_membership_pkey PRIMARY KEY (deployment_id, address, port, generation)
);

-- Inserts a silo's row if @Version is still the cluster's version and the silo is not there yet.
-- The version row is locked first, so concurrent writers of one cluster queue here and each sees the
-- others' committed rows; checking before writing means a refusal leaves the version untouched.
CREATE FUNCTION orleans_membership_insert(
    p_deployment_id text, p_address text, p_port int, p_generation int, p_silo_name text, p_host_name text,
    p_status int, p_proxy_port int, p_start_time timestamptz, p_i_am_alive_time timestamptz, p_version int)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    v_version int;
BEGIN
    SELECT version INTO v_version
    FROM orleans_membership_version
    WHERE deployment_id = p_deployment_id
    FOR UPDATE;

    IF v_version IS NULL OR v_version <> p_version THEN
        RETURN false;
    END IF;

    IF EXISTS (SELECT 1 FROM orleans_membership
               WHERE deployment_id = p_deployment_id AND address = p_address
                 AND port = p_port AND generation = p_generation) THEN
        RETURN false;
    END IF;

    INSERT INTO orleans_membership (deployment_id, address, port, generation, silo_name, host_name, status,
                                    proxy_port, start_time, i_am_alive_time)
    VALUES (p_deployment_id, p_address, p_port, p_generation, p_silo_name, p_host_name, p_status,
            p_proxy_port, p_start_time, p_i_am_alive_time);

    UPDATE orleans_membership_version
    SET version = version + 1, updated_at = now()
    WHERE deployment_id = p_deployment_id;

    RETURN true;
END $$;

-- Updates a silo's status, suspicions and liveness time under the same rule as the insert.
CREATE FUNCTION orleans_membership_update(
    p_deployment_id text, p_address text, p_port int, p_generation int, p_status int, p_suspect_times text,
    p_i_am_alive_time timestamptz, p_version int)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    v_version int;
BEGIN
    SELECT version INTO v_version
    FROM orleans_membership_version
    WHERE deployment_id = p_deployment_id
    FOR UPDATE;

    IF v_version IS NULL OR v_version <> p_version THEN
        RETURN false;
    END IF;

    UPDATE orleans_membership
    SET status = p_status, suspect_times = p_suspect_times, i_am_alive_time = p_i_am_alive_time
    WHERE deployment_id = p_deployment_id AND address = p_address
      AND port = p_port AND generation = p_generation;

    IF NOT FOUND THEN
        RETURN false;
    END IF;

    UPDATE orleans_membership_version
    SET version = version + 1, updated_at = now()
    WHERE deployment_id = p_deployment_id;

    RETURN true;
END $$;

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES
-- Creates the cluster's version row once; true only for the silo that created it.
('InsertMembershipVersionKey', $$
WITH created AS (
    INSERT INTO orleans_membership_version (deployment_id)
    VALUES (@DeploymentId)
    ON CONFLICT (deployment_id) DO NOTHING
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM created)
$$),

('InsertMembershipKey', $$
SELECT orleans_membership_insert(@DeploymentId, @Address, @Port, @Generation, @SiloName, @HostName,
                                 @Status, @ProxyPort, @StartTime, @IAmAliveTime, @Version)
$$),

('UpdateMembershipKey', $$
SELECT orleans_membership_update(@DeploymentId, @Address, @Port, @Generation, @Status, @SuspectTimes,
                                 @IAmAliveTime, @Version)
$$),

-- The heartbeat: no version check and no version bump, so it never races the membership protocol.
('UpdateIAmAlivetimeKey', $$
UPDATE orleans_membership
SET i_am_alive_time = @IAmAliveTime
WHERE deployment_id = @DeploymentId AND address = @Address AND port = @Port AND generation = @Generation
$$),

-- Both reads start from the version row and outer-join the members, so the table version comes back
-- even when there is no (matching) member; Orleans tells the two apart by a null StartTime.
('MembershipReadRowKey', $$
SELECT v.version         AS "Version",
       m.address         AS "Address",
       m.port            AS "Port",
       m.generation      AS "Generation",
       m.silo_name       AS "SiloName",
       m.host_name       AS "HostName",
       m.status          AS "Status",
       m.proxy_port      AS "ProxyPort",
       m.suspect_times   AS "SuspectTimes",
       m.start_time      AS "StartTime",
       m.i_am_alive_time AS "IAmAliveTime"
FROM orleans_membership_version v
LEFT JOIN orleans_membership m
       ON m.deployment_id = v.deployment_id
      AND m.address = @Address AND m.port = @Port AND m.generation = @Generation
WHERE v.deployment_id = @DeploymentId
$$),

('MembershipReadAllKey', $$
SELECT v.version         AS "Version",
       m.address         AS "Address",
       m.port            AS "Port",
       m.generation      AS "Generation",
       m.silo_name       AS "SiloName",
       m.host_name       AS "HostName",
       m.status          AS "Status",
       m.proxy_port      AS "ProxyPort",
       m.suspect_times   AS "SuspectTimes",
       m.start_time      AS "StartTime",
       m.i_am_alive_time AS "IAmAliveTime"
FROM orleans_membership_version v
LEFT JOIN orleans_membership m ON m.deployment_id = v.deployment_id
WHERE v.deployment_id = @DeploymentId
$$),

('DeleteMembershipTableEntriesKey', $$
WITH members AS (
    DELETE FROM orleans_membership WHERE deployment_id = @DeploymentId
)
DELETE FROM orleans_membership_version WHERE deployment_id = @DeploymentId
$$),

-- Forgets silos that are no longer active and have not been heard of since @IAmAliveTime.
('CleanupDefunctSiloEntriesKey', $$
DELETE FROM orleans_membership
WHERE deployment_id = @DeploymentId AND i_am_alive_time < @IAmAliveTime AND status <> 3
$$),

-- What clients connect to: the gateway endpoint of every silo in @Status (Active).
('GatewaysQueryKey', $$
SELECT address    AS "Address",
       proxy_port AS "ProxyPort",
       generation AS "Generation"
FROM orleans_membership
WHERE deployment_id = @DeploymentId AND status = @Status AND proxy_port > 0
$$);
