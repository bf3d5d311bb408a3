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
-- The function of 0104 does the checkpoint itself, and stays for silos of the previous version during a rolling
-- upgrade (they register the reminder through Orleans); this one calls it, then keeps the reminder. A retried
-- checkpoint that had committed keeps it again, which changes nothing.
CREATE FUNCTION meshhook_checkpoint(
    p_run_id uuid, p_expected_seq int, p_ts timestamptz[], p_types text[], p_payloads text[],
    p_status text, p_output text, p_error text, p_silo text,
    p_reminder_service text, p_reminder_grain text, p_reminder_name text, p_reminder_hash int, p_reminder_period_ms bigint)
RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    v_last int;
BEGIN
    v_last := meshhook_checkpoint(p_run_id, p_expected_seq, p_ts, p_types, p_payloads, p_status, p_output, p_error, p_silo, false);
    IF v_last < 0 OR p_reminder_grain IS NULL THEN
        RETURN v_last;
    END IF;

    IF p_status IN ('succeeded', 'failed', 'canceled') THEN
        DELETE FROM orleans_reminders
        WHERE service_id = p_reminder_service AND grain_id = p_reminder_grain AND reminder_name = p_reminder_name;
    ELSE
        INSERT INTO orleans_reminders (service_id, grain_id, reminder_name, start_time, period, grain_hash, version)
        VALUES (p_reminder_service, p_reminder_grain, p_reminder_name,
                now() + p_reminder_period_ms * interval '1 millisecond', p_reminder_period_ms, p_reminder_hash, 0)
        ON CONFLICT (service_id, grain_id, reminder_name) DO NOTHING;
    END IF;

    RETURN v_last;
END $$;
