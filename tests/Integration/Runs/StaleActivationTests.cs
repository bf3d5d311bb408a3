using AwesomeAssertions;
using MeshHook.Grains;
using MeshHook.Grains.Runs;
using MeshHook.Tests.Integration.Infrastructure;
using Orleans.TestingHost;

namespace MeshHook.Tests.Integration.Runs;

/// <summary>
/// An activation that another activation has written past (two activations after a crash, or during the directory's
/// hand-over) must not write again: its checkpoint is refused, it stops, and the run goes on from what is in Postgres.
/// </summary>
public sealed class StaleActivationTests(StaleActivationTests.LoggedCluster cluster) : IClassFixture<StaleActivationTests.LoggedCluster>
{
    /// <summary>A cluster whose silos' log lines the test can read.</summary>
    public sealed class LoggedCluster : MeshHookCluster
    {
        protected override void Configure(TestClusterBuilder builder) => builder.AddSiloBuilderConfigurator<CapturedLogs.Configurator>();
    }

    [Fact]
    public async Task Activation_WrittenPastByAnother_IsRefused_StopsAndTheRunFinishesFromPostgres()
    {
        var slug = await cluster.PublishAsync(Workflows.Delayed(3000));
        var runId = await cluster.TriggerAsync(slug);
        // The view shows a step running as soon as it starts in memory; wait until its start is in Postgres.
        StoredRun? stored = null;
        await Poll.UntilAsync(
            async () => (stored = await cluster.Store.LoadAsync(runId, CancellationToken.None))!.Events[^1].Type == RunEventTypes.StepStarted
                && History.NodeOf(stored.Events[^1]) == "wait",
            "the run to wait in its delay, its start checkpointed");

        // Another activation of the run writes meanwhile, as its first checkpoint after resuming would.
        var other = new RunEvent(stored!.Record.MaxSeq + 1, DateTimeOffset.UtcNow, RunEventTypes.RunResumed, """{"silo":"another","address":"S127.0.0.1:1:1"}""");
        await cluster.Store.CheckpointAsync(runId, stored.Record.MaxSeq, [other], new RunRowUpdate(RunStatus.Running, null, null, "S127.0.0.1:1:1"), CancellationToken.None);

        var view = await cluster.WaitFinishedAsync(runId, TimeSpan.FromSeconds(60));

        view.Status.Should().Be(RunStatus.Succeeded);
        CapturedLogs.Mentioning(cluster, $"Run {runId}: state was written by another activation").Should().NotBeEmpty(
            "the first activation's final checkpoint started from a seq that was no longer the run's last");
        var events = await cluster.Store.ReadEventsAsync(runId, CancellationToken.None);
        History.ShouldBeConsistent(events);
        events.Should().ContainSingle(e => e.Type == RunEventTypes.RunResumed && e.PayloadJson.Contains("another"), "the other activation's write stands");
        events.Count(e => e.Type == RunEventTypes.RunCompleted).Should().Be(1);
        events.Types().Last().Should().Be(RunEventTypes.RunCompleted);
    }

    [Fact]
    public async Task Activation_WrittenPastWhileWaitingToRetryACall_IsRefusedBeforeItCallsThePeerAgain()
    {
        await using var sink = await HttpSink.StartAsync();
        // The peer answers 1.5 s after a request arrives: the test writes while the first attempt waits for its 503.
        var slug = await cluster.PublishAsync(Workflows.Flaky(sink.BaseAddress, failures: 1, answerAfterMs: 1500, retryDelayMs: 100));
        var runId = await cluster.TriggerAsync(slug);
        var key = $"mh-{runId}-call";
        // The call's start is checkpointed before its first attempt goes out.
        await Poll.UntilAsync(() => Task.FromResult(sink.CountFor(key) == 1), "the first attempt to reach the peer (to be answered 503)");
        var stored = await cluster.Store.LoadAsync(runId, CancellationToken.None);
        stored!.Events[^1].Type.Should().Be(RunEventTypes.StepStarted);

        // While the first activation's attempt is in flight, another activation resumes the run and writes it.
        var other = new RunEvent(stored.Record.MaxSeq + 1, DateTimeOffset.UtcNow, RunEventTypes.RunResumed, """{"silo":"another","address":"S127.0.0.1:1:1"}""");
        await cluster.Store.CheckpointAsync(runId, stored.Record.MaxSeq, [other], new RunRowUpdate(RunStatus.Running, null, null, "S127.0.0.1:1:1"), CancellationToken.None);

        var view = await cluster.WaitFinishedAsync(runId, TimeSpan.FromSeconds(60));

        view.Status.Should().Be(RunStatus.Succeeded);
        CapturedLogs.Mentioning(cluster, $"Run {runId}: state was written by another activation").Should().NotBeEmpty(
            "the retry's checkpoint started from a seq that was no longer the run's last");
        var events = await cluster.Store.ReadEventsAsync(runId, CancellationToken.None);
        History.ShouldBeConsistent(events);
        var restarted = events.Where(e => e.Seq > other.Seq && e.Type == RunEventTypes.StepStarted && History.NodeOf(e) == "call").ToList();
        restarted.Should().NotBeEmpty("the run goes on from Postgres in a new activation, which starts the call again");
        var requests = sink.Requests.Where(r => r.IdempotencyKey == key).OrderBy(r => r.ReceivedAt).ToList();
        requests.Skip(1).Should().OnlyContain(
            r => r.ReceivedAt >= restarted[0].Timestamp,
            "the stale activation must be refused before its retry; only the activation that restarted the call may call again");
        requests.Should().HaveCount(2, "one 503 to the first activation, one 200 to the activation that took over");
    }
}
