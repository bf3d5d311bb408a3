-- Orleans reminders (Microsoft.Orleans.Reminders.AdoNet, invariant "Npgsql").
--
-- One row per (service, grain, reminder name). Each silo owns a range of the consistent-hash ring and reads
-- the reminders whose grain hash falls in it. Hashes are uint32 in Orleans but arrive cast to signed int4
-- (@GrainHash, @BeginHash, @EndHash), and the provider picks the query by comparing the signed values,
-- so the column stores the signed value and both range queries compare signed integers.
--
-- @Period is milliseconds: int4 when it fits, int8 otherwise; the column is bigint for both.
-- @StartTime is a DateTime with Kind=Utc, which Npgsql sends as timestamptz.
-- The version is the reminder's etag: every upsert changes it, and a delete must name the current one.

CREATE TABLE orleans_reminders (
    service_id    text        NOT NULL,
    grain_id      text        NOT NULL,
    reminder_name text        NOT NULL,
    start_time    timestamptz NOT NULL,
    period        bigint      NOT NULL,
    grain_hash    int         NOT NULL,
    version       int         NOT NULL,
    CONSTRAINT orleans_reminders_pkey PRIMARY KEY (service_id, grain_id, reminder_name)
);

-- The ring-range reads, done by every silo at start and on every range change.
CREATE INDEX orleans_reminders_ring ON orleans_reminders (service_id, grain_hash);

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES
('UpsertReminderRowKey', $$
INSERT INTO orleans_reminders AS r (service_id, grain_id, reminder_name, start_time, period, grain_hash, version)
VALUES (@ServiceId, @GrainId, @ReminderName, @StartTime, @Period, @GrainHash, 0)
ON CONFLICT (service_id, grain_id, reminder_name) DO UPDATE
SET start_time = EXCLUDED.start_time,
    period     = EXCLUDED.period,
    grain_hash = EXCLUDED.grain_hash,
    version    = r.version + 1
RETURNING r.version AS "Version"
$$),

('ReadReminderRowKey', $$
SELECT grain_id AS "GrainId", reminder_name AS "ReminderName", start_time AS "StartTime",
       period AS "Period", version AS "Version"
FROM orleans_reminders
WHERE service_id = @ServiceId AND grain_id = @GrainId AND reminder_name = @ReminderName
$$),

('ReadReminderRowsKey', $$
SELECT grain_id AS "GrainId", reminder_name AS "ReminderName", start_time AS "StartTime",
       period AS "Period", version AS "Version"
FROM orleans_reminders
WHERE service_id = @ServiceId AND grain_id = @GrainId
$$),

-- The range (begin, end] when begin < end (signed).
('ReadRangeRows1Key', $$
SELECT grain_id AS "GrainId", reminder_name AS "ReminderName", start_time AS "StartTime",
       period AS "Period", version AS "Version"
FROM orleans_reminders
WHERE service_id = @ServiceId AND grain_hash > @BeginHash AND grain_hash <= @EndHash
$$),

-- The range that wraps past the top of the ring, begin >= end: (begin, max] and [min, end].
-- With begin = end this is the whole ring, which is what a lone silo owns.
('ReadRangeRows2Key', $$
SELECT grain_id AS "GrainId", reminder_name AS "ReminderName", start_time AS "StartTime",
       period AS "Period", version AS "Version"
FROM orleans_reminders
WHERE service_id = @ServiceId AND (grain_hash > @BeginHash OR grain_hash <= @EndHash)
$$),

-- True when the row with that etag was deleted; false (row kept) when the etag is stale.
('DeleteReminderRowKey', $$
WITH deleted AS (
    DELETE FROM orleans_reminders
    WHERE service_id = @ServiceId AND grain_id = @GrainId AND reminder_name = @ReminderName
      AND version = @Version
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM deleted)
$$),

('DeleteReminderRowsKey', $$
DELETE FROM orleans_reminders WHERE service_id = @ServiceId
$$);
