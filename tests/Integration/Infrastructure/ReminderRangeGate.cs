using Npgsql;

namespace MeshHook.Tests.Integration.Infrastructure;

/// <summary>
/// Controls, within one test database, whether Orleans' reminder service can read its range of the reminder table:
/// the two range queries in <c>OrleansQuery</c> (ReadRangeRows1Key, ReadRangeRows2Key, sql/0004) are rewritten to read
/// through a function that, while the gate is not open, waits (<see cref="Hang"/>, as a read stuck behind a busy
/// server) or fails (<see cref="Fail"/>, as a refused connection). Nothing else is touched: registering, reading
/// and removing one reminder work as usual, so what the tests see is the reminder service's first load failing.
/// Install before the silos start: the ADO.NET providers read <c>OrleansQuery</c> once, at start.
/// </summary>
public sealed class ReminderRangeGate(string connectionString)
{
    public const string Open = "open";
    public const string Hang = "hang";
    public const string Fail = "fail";

    /// <summary>The error a range read gets while the gate fails them.</summary>
    public const string FailureMessage = "reminder range reads refused by the test";

    public async Task InstallAsync(string initialState)
    {
        if (initialState is not (Open or Hang or Fail))
        {
            throw new ArgumentOutOfRangeException(nameof(initialState), initialState, "open, hang or fail");
        }

        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            $$"""
            CREATE TABLE test_reminder_gate (state text NOT NULL);
            INSERT INTO test_reminder_gate VALUES ('{{initialState}}');
            CREATE FUNCTION test_gated_reminders() RETURNS SETOF orleans_reminders LANGUAGE plpgsql AS $fn$
            DECLARE current_state text;
            BEGIN
              LOOP
                -- A volatile function takes a fresh snapshot per statement: it sees the test opening the gate.
                SELECT state INTO current_state FROM test_reminder_gate;
                EXIT WHEN current_state = 'open';
                IF current_state = 'fail' THEN
                  RAISE EXCEPTION '{{FailureMessage}}';
                END IF;
                PERFORM pg_sleep(0.05);
              END LOOP;
              RETURN QUERY SELECT * FROM orleans_reminders;
            END
            $fn$;
            UPDATE OrleansQuery SET QueryText = replace(QueryText, 'FROM orleans_reminders', 'FROM test_gated_reminders() AS orleans_reminders')
            WHERE QueryKey IN ('ReadRangeRows1Key', 'ReadRangeRows2Key');
            """,
            connection);
        await command.ExecuteNonQueryAsync();
        await using var check = new NpgsqlCommand(
            "SELECT count(*) FROM OrleansQuery WHERE QueryKey IN ('ReadRangeRows1Key', 'ReadRangeRows2Key') AND QueryText LIKE '%test_gated_reminders()%'",
            connection);
        if ((long)(await check.ExecuteScalarAsync())! != 2)
        {
            throw new InvalidOperationException("the reminder range queries were not rewritten: sql/0004 changed its FROM clause?");
        }
    }

    public async Task SetAsync(string state)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("UPDATE test_reminder_gate SET state = @state", connection);
        command.Parameters.AddWithValue("state", state);
        await command.ExecuteNonQueryAsync();
    }
}
