using AwesomeAssertions;
using MeshHook.Grains;
using MeshHook.Grains.Runs;
using MeshHook.Tests.Integration.Infrastructure;
using Npgsql;

namespace MeshHook.Tests.Integration.Runs;

/// <summary>
/// A checkpoint is one transaction that appends a run's new events and sets its row (sql/0104), and keeps the run's
/// reminder row (sql/0105): all of it or none, refused for a stale activation, and safe to retry when its answer was lost.
/// </summary>
public sealed class RunCheckpointTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2030, 1, 2, 3, 4, 5, TimeSpan.Zero);

    private NpgsqlDataSource _dataSource = null!;
    private RunStore _store = null!;
    private Guid _runId;

    public async ValueTask InitializeAsync()
    {
        _dataSource = NpgsqlDataSource.Create(await PostgresServer.CreateDatabaseAsync("checkpoint"));
        _store = new RunStore(_dataSource);
        await _store.PublishAsync("cp", "checkpoint", Workflows.Linear(new Uri("http://127.0.0.1:9/")), secret: null, CancellationToken.None);
        (_runId, _) = await _store.CreateRunAsync("cp", """{"headers": {}, "body": {}}""", idempotencyKey: null, CancellationToken.None);
    }

    public async ValueTask DisposeAsync() => await _dataSource.DisposeAsync();

    [Fact]
    public async Task Checkpoint_AppendsTheEventsAndSetsTheRow_AndALoadReadsThemBack()
    {
        var events = Events(from: 2, "step_started", "step_succeeded");

        (await _store.CheckpointAsync(_runId, 1, events, Row(RunStatus.Running), CancellationToken.None)).Should().Be(3);

        var stored = (await _store.LoadAsync(_runId, CancellationToken.None))!;
        stored.Record.MaxSeq.Should().Be(3);
        stored.Record.Status.Should().Be(RunStatus.Running);
        stored.Events.Select(e => e.Type).Should().Equal("run_created", "step_started", "step_succeeded");
        stored.Events[1].Timestamp.Should().Be(T0.AddSeconds(2));
    }

    [Fact]
    public async Task Checkpoint_FromAStaleSeq_IsRefused_AndWritesNothing()
    {
        await _store.CheckpointAsync(_runId, 1, Events(from: 2, "step_started"), Row(RunStatus.Running), CancellationToken.None);

        // A second activation that read the run before that write.
        var stale = () => _store.CheckpointAsync(_runId, 1, Events(from: 2, "step_started", "step_succeeded", at: 50), Row(RunStatus.Succeeded), CancellationToken.None);

        await stale.Should().ThrowAsync<StaleRunException>();
        var stored = (await _store.LoadAsync(_runId, CancellationToken.None))!;
        stored.Events.Should().HaveCount(2);
        stored.Record.Status.Should().Be(RunStatus.Running);
    }

    [Fact]
    public async Task Checkpoint_RetriedAfterItCommitted_SucceedsWithoutWritingTwice()
    {
        var events = Events(from: 2, "step_started", "step_succeeded");
        await _store.CheckpointAsync(_runId, 1, events, Row(RunStatus.Running), CancellationToken.None);

        // The same write again, as after a connection lost between the commit and its answer.
        (await _store.CheckpointAsync(_runId, 1, events, Row(RunStatus.Running), CancellationToken.None)).Should().Be(3);

        (await _store.LoadAsync(_runId, CancellationToken.None))!.Events.Should().HaveCount(3);
    }

    [Fact]
    public async Task Checkpoint_ConnectionKilledBetweenItsStatements_LeavesNothing_AndTheRetryWrites()
    {
        // Park the checkpoint after its event insert, before its row update: an insert trigger waits on a lock the
        // test holds. Then end its backend, as Postgres sees a silo process die mid-transaction.
        await using (var setup = _dataSource.CreateCommand("""
            CREATE FUNCTION test_park() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN PERFORM pg_advisory_xact_lock(4242); RETURN NEW; END $$;
            CREATE TRIGGER test_park AFTER INSERT ON workflow_events FOR EACH STATEMENT EXECUTE FUNCTION test_park();
            """))
        {
            await setup.ExecuteNonQueryAsync();
        }

        await using var holder = await _dataSource.OpenConnectionAsync();
        await using var hold = await holder.BeginTransactionAsync();
        await using (var take = new NpgsqlCommand("SELECT pg_advisory_xact_lock(4242)", holder, hold))
        {
            await take.ExecuteNonQueryAsync();
        }

        var events = Events(from: 2, "step_started", "step_succeeded");
        var parked = _store.CheckpointAsync(_runId, 1, events, Row(RunStatus.Succeeded), CancellationToken.None);
        await Poll.UntilAsync(
            async () => await ScalarAsync<long>("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%meshhook_checkpoint%'") == 1,
            "the checkpoint to wait between its insert and its update");
        // Only the parked checkpoint: pg_stat_activity.query is also the last query of idle connections, and tests of
        // other classes (other databases) run checkpoints at the same time; ending theirs failed them with 57P01.
        (await ScalarAsync<bool>(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' " +
            "AND query LIKE 'SELECT meshhook_checkpoint%' AND pid <> pg_backend_pid()")).Should().BeTrue();
        await FluentActions.Awaiting(() => parked).Should().ThrowAsync<Exception>();
        await hold.RollbackAsync();

        var afterKill = (await _store.LoadAsync(_runId, CancellationToken.None))!;
        afterKill.Events.Should().ContainSingle("none of the killed checkpoint's events may stay");
        afterKill.Record.MaxSeq.Should().Be(1);
        afterKill.Record.Status.Should().Be(RunStatus.Queued);

        (await _store.CheckpointAsync(_runId, 1, events, Row(RunStatus.Succeeded), CancellationToken.None)).Should().Be(3);
        (await _store.LoadAsync(_runId, CancellationToken.None))!.Record.Status.Should().Be(RunStatus.Succeeded);
    }

    [Fact]
    public async Task Checkpoint_EventsNotNumberedFromTheExpectedSeq_AreRefusedBeforeAnyWrite()
    {
        var act = () => _store.CheckpointAsync(_runId, 1, Events(from: 3, "step_started"), Row(RunStatus.Running), CancellationToken.None);

        await act.Should().ThrowAsync<ArgumentException>();
        (await _store.LoadAsync(_runId, CancellationToken.None))!.Events.Should().ContainSingle();
    }

    [Fact]
    public async Task Checkpoint_OfAnUnfinishedRun_WritesItsReminderRowAsOrleansWould_Once()
    {
        var reminder = Reminder();

        await _store.CheckpointAsync(_runId, 1, Events(from: 2, "step_started"), Row(RunStatus.Running, reminder), CancellationToken.None);
        var first = await ReminderRowAsync(reminder);
        await _store.CheckpointAsync(_runId, 2, Events(from: 3, "step_succeeded"), Row(RunStatus.Running, reminder), CancellationToken.None);
        var second = await ReminderRowAsync(reminder);

        first.Should().NotBeNull("an unfinished run holds its reminder from its first checkpoint on");
        first!.Value.Hash.Should().Be(reminder.GrainHash);
        first.Value.Period.Should().Be(90_000);
        first.Value.Version.Should().Be(0);
        (first.Value.Start - DateTimeOffset.UtcNow).Should().BeCloseTo(TimeSpan.FromSeconds(90), TimeSpan.FromSeconds(15), "the first tick is one period on");
        second.Should().Be(first, "a later checkpoint leaves the reminder's schedule and etag alone");
    }

    [Fact]
    public async Task Checkpoint_ThatFinishesTheRun_DeletesItsReminderRow_InTheSameTransaction()
    {
        var reminder = Reminder();
        await _store.CheckpointAsync(_runId, 1, Events(from: 2, "step_started"), Row(RunStatus.Running, reminder), CancellationToken.None);

        // Stale: refused, and the reminder stays with the unfinished run.
        var stale = () => _store.CheckpointAsync(_runId, 1, Events(from: 2, "run_completed"), Row(RunStatus.Succeeded, reminder), CancellationToken.None);
        await stale.Should().ThrowAsync<StaleRunException>();
        (await ReminderRowAsync(reminder)).Should().NotBeNull();

        await _store.CheckpointAsync(_runId, 2, Events(from: 3, "run_completed"), Row(RunStatus.Succeeded, reminder), CancellationToken.None);

        (await ReminderRowAsync(reminder)).Should().BeNull("a finished run keeps no reminder");
    }

    [Fact]
    public async Task Checkpoint_WithoutAReminder_LeavesTheReminderTableAlone()
    {
        var reminder = Reminder();
        await _store.CheckpointAsync(_runId, 1, Events(from: 2, "step_started"), Row(RunStatus.Running, reminder), CancellationToken.None);

        await _store.CheckpointAsync(_runId, 2, Events(from: 3, "run_completed"), Row(RunStatus.Succeeded), CancellationToken.None);

        (await ReminderRowAsync(reminder)).Should().NotBeNull("a checkpoint that names no reminder (a caller outside a grain) does not touch one");
    }

    private RunReminderRow Reminder() =>
        RunReminderRow.For("checkpoint-tests", GrainId.Create("workflowrun", _runId.ToString("N")), WorkflowRunGrain.ReminderName, TimeSpan.FromSeconds(90));

    private async Task<(DateTimeOffset Start, long Period, int Hash, int Version)?> ReminderRowAsync(RunReminderRow reminder)
    {
        await using var command = _dataSource.CreateCommand(
            "SELECT start_time, period, grain_hash, version FROM orleans_reminders WHERE service_id = @s AND grain_id = @g AND reminder_name = @n");
        command.Parameters.AddWithValue("s", reminder.ServiceId);
        command.Parameters.AddWithValue("g", reminder.GrainId);
        command.Parameters.AddWithValue("n", reminder.Name);
        await using var reader = await command.ExecuteReaderAsync();
        return await reader.ReadAsync()
            ? (reader.GetFieldValue<DateTimeOffset>(0), reader.GetInt64(1), reader.GetInt32(2), reader.GetInt32(3))
            : null;
    }

    private static RunEvent[] Events(int from, params string[] types) => Events(from, types, at: 0);

    private static RunEvent[] Events(int from, string t1, string t2, int at) => Events(from, [t1, t2], at);

    private static RunEvent[] Events(int from, string[] types, int at) =>
        types.Select((type, i) => new RunEvent(from + i, T0.AddSeconds(at + from + i), type, """{"nodeId":"hook"}""")).ToArray();

    private static RunRowUpdate Row(RunStatus status, RunReminderRow? reminder = null) =>
        new(status, OutputJson: null, Error: null, Silo: "S127.0.0.1:1:1", reminder);

    private async Task<T> ScalarAsync<T>(string sql)
    {
        await using var command = _dataSource.CreateCommand(sql);
        return (T)(await command.ExecuteScalarAsync())!;
    }
}
