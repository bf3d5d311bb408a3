using AwesomeAssertions;
using MeshHook.Grains.Draining;
using MeshHook.Grains;
using MeshHook.Grains.Runs;
using MeshHook.Silo.Ops;
using MeshHook.Silo.Shutdown;
using MeshHook.Tests.Integration.Infrastructure;
using MeshHook.Tests.Integration.Runs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Orleans.TestingHost;

namespace MeshHook.Tests.Integration.Shutdown;

/// <summary>Three silos, a generous drain: steps in flight finish during a stop.</summary>
public sealed class DrainCluster : MeshHookCluster
{
    protected override short InitialSilos => 3;

    protected override Dictionary<string, string?> Settings => new(base.Settings)
    {
        ["MeshHook:Shutdown:DrainTimeout"] = "00:00:10",
        [TestShutdownHooks.EnableKey] = "true",
    };
}

/// <summary>Two silos and a one-second drain: longer steps are cut off.</summary>
public sealed class ShortDrainCluster : MeshHookCluster
{
    protected override Dictionary<string, string?> Settings => new(base.Settings)
    {
        ["MeshHook:Shutdown:DrainTimeout"] = "00:00:01",
    };
}

public sealed class GracefulShutdownTests(DrainCluster cluster) : IClassFixture<DrainCluster>
{
    [Fact]
    public async Task StopSilo_RunsMidStep_StepsCompleteRunsMoveToASurvivorAndEachStepRunsOnce()
    {
        const int runs = 24;
        var slug = await cluster.PublishAsync(Workflows.TwoCalls(cluster.Sink.BaseAddress, slowMs: 1500));
        var runIds = await Task.WhenAll(Enumerable.Range(0, runs).Select(i => cluster.TriggerAsync(slug, $$"""{"n": {{i}}}""")));
        await Poll.UntilAsync(
            () => Task.FromResult(runIds.All(id => cluster.Sink.CountFor($"mh-{id}-second") >= 1)),
            "every run is inside its slow step");
        var victim = cluster.Cluster.SecondarySilos[^1];
        var services = cluster.ServicesOf(victim);
        var coordinator = services.GetRequiredService<ShutdownCoordinator>();
        var drain = services.GetRequiredService<SiloDrain>();
        var readiness = ActivatorUtilities.CreateInstance<SiloActiveHealthCheck>(services);
        TestShutdownHooks.Ran.Clear();

        var stopping = cluster.Cluster.StopSiloAsync(victim);
        await Poll.UntilAsync(() => Task.FromResult(drain.IsDraining), "the victim starts draining");
        var ready = await readiness.CheckHealthAsync(new HealthCheckContext());
        await stopping;
        var report = await coordinator.Report.WaitAsync(TimeSpan.FromSeconds(5));

        ready.Status.Should().Be(HealthStatus.Unhealthy, "readiness flips as soon as the stop begins");
        var views = await Task.WhenAll(runIds.Select(id => cluster.WaitFinishedAsync(id, TimeSpan.FromSeconds(30))));
        views.Should().AllSatisfy(v => v.Status.Should().Be(RunStatus.Succeeded));
        var handedOff = 0;
        foreach (var runId in runIds)
        {
            cluster.Sink.CountFor($"mh-{runId}-first").Should().Be(1);
            cluster.Sink.CountFor($"mh-{runId}-second").Should().Be(1, "a step in flight finishes during the drain and is not repeated");
            var events = await cluster.Store.ReadEventsAsync(runId, CancellationToken.None);
            History.ShouldBeConsistent(events);
            events.Types().Should().NotContain(RunEventTypes.RunInterrupted);
            if (events.Types().Contains(RunEventTypes.RunHandedOff))
            {
                handedOff++;
                var afterHandOff = events.SkipWhile(e => e.Type != RunEventTypes.RunHandedOff).Skip(1).ToList();
                afterHandOff.First().Type.Should().Be(RunEventTypes.RunResumed, "the survivor picks the run up right after the hand-off");
            }
        }

        handedOff.Should().BeGreaterThan(0, "the stopped silo hosted some of the runs");
        report.RunsHandedOff.Should().Be(handedOff);
        // Each handed-off run finished at most one step during the drain (no new step starts); a run whose slow step
        // ended just before the signal (the runs were triggered over a second or more on a loaded machine) finished none.
        report.StepsCompleted.Should().BeInRange(1, handedOff, "the victim's steps in flight completed during the drain");
        report.StepsInterrupted.Should().Be(0);
        report.Forced.Should().BeFalse();
        report.HooksFailed.Should().Be(2, "one hook throws and one overruns its limit");
        TestShutdownHooks.Ran.Should().Equal("first", "throws", "hangs", "last");
        await using var command = cluster.DataSource.CreateCommand(
            "SELECT runs_handed_off, steps_interrupted, hooks_failed, forced FROM meshhook_shutdowns WHERE silo_name = @name");
        command.Parameters.AddWithValue("name", report.SiloName);
        await using var reader = await command.ExecuteReaderAsync();
        (await reader.ReadAsync()).Should().BeTrue("the report row is in Postgres");
        (reader.GetInt32(0), reader.GetInt32(1), reader.GetInt32(2), reader.GetBoolean(3)).Should().Be((handedOff, 0, 2, false));
    }
}

/// <summary>
/// A run whose last step is in flight when its silo stops. The in-process chaos soak found run_handed_off written after
/// run_completed: the hand-off checked that the run was unfinished before waiting for its step, not after.
/// </summary>
public sealed class LastStepDuringDrainTests(DrainCluster cluster) : IClassFixture<DrainCluster>
{
    [Fact]
    public async Task StopSilo_RunsLastStepInFlight_TheyFinishDuringTheDrain_TerminalEventStaysLast_NothingHandedOff()
    {
        const int runs = 12;
        var slug = await cluster.PublishAsync($$$"""
            {
              "nodes": [
                {"id": "hook", "type": "webhook"},
                {"id": "last", "type": "http_call", "data": {"method": "POST", "url": "{{{new Uri(cluster.Sink.BaseAddress, "/last?ms=1500")}}}", "body": "trigger.body", "timeoutMs": 20000}}
              ],
              "edges": [{"source": "hook", "target": "last"}]
            }
            """);
        var runIds = await Task.WhenAll(Enumerable.Range(0, runs).Select(i => cluster.TriggerAsync(slug, $$"""{"n": {{i}}}""")));
        await Poll.UntilAsync(
            () => Task.FromResult(runIds.All(id => cluster.Sink.CountFor($"mh-{id}-last") >= 1)),
            "every run is inside its last step");
        var victim = cluster.Cluster.SecondarySilos[^1];
        var coordinator = cluster.ServicesOf(victim).GetRequiredService<ShutdownCoordinator>();

        await cluster.Cluster.StopSiloAsync(victim);
        var report = await coordinator.Report.WaitAsync(TimeSpan.FromSeconds(5));
        var views = await Task.WhenAll(runIds.Select(id => cluster.WaitFinishedAsync(id, TimeSpan.FromSeconds(30))));

        views.Should().AllSatisfy(v => v.Status.Should().Be(RunStatus.Succeeded));
        foreach (var runId in runIds)
        {
            var events = await cluster.Store.ReadEventsAsync(runId, CancellationToken.None);
            History.ShouldBeConsistent(events);
            events[^1].Type.Should().Be(RunEventTypes.RunCompleted, $"run {runId}: nothing follows the terminal event");
            events.Types().Should().NotContain(RunEventTypes.RunHandedOff, "a run that finished during the drain has nothing to hand off");
            cluster.Sink.CountFor($"mh-{runId}-last").Should().Be(1);
        }

        report.StepsCompleted.Should().BePositive("the victim hosted some of the runs; their last steps completed during the drain");
        report.RunsHandedOff.Should().Be(0);
        report.Forced.Should().BeFalse();
    }
}

public sealed class DrainLimitTests(ShortDrainCluster cluster) : IClassFixture<ShortDrainCluster>
{
    [Fact]
    public async Task StopSilo_StepLongerThanDrainTimeout_IsInterruptedAndRunsAgainElsewhereWithTheSameKey()
    {
        const int runs = 10;
        var slug = await cluster.PublishAsync(Workflows.TwoCalls(cluster.Sink.BaseAddress, slowMs: 5000));
        var runIds = await Task.WhenAll(Enumerable.Range(0, runs).Select(i => cluster.TriggerAsync(slug, $$"""{"n": {{i}}}""")));
        await Poll.UntilAsync(
            () => Task.FromResult(runIds.All(id => cluster.Sink.CountFor($"mh-{id}-second") >= 1)),
            "every run is inside its slow step");
        var victim = cluster.Cluster.SecondarySilos[0];
        var coordinator = cluster.ServicesOf(victim).GetRequiredService<ShutdownCoordinator>();

        await cluster.Cluster.StopSiloAsync(victim);
        var report = await coordinator.Report.WaitAsync(TimeSpan.FromSeconds(5));
        var views = await Task.WhenAll(runIds.Select(id => cluster.WaitFinishedAsync(id, TimeSpan.FromSeconds(40))));

        views.Should().AllSatisfy(v => v.Status.Should().Be(RunStatus.Succeeded));
        var interrupted = 0;
        foreach (var runId in runIds)
        {
            var events = await cluster.Store.ReadEventsAsync(runId, CancellationToken.None);
            History.ShouldBeConsistent(events);
            cluster.Sink.CountFor($"mh-{runId}-first").Should().Be(1);
            if (events.Types().Contains(RunEventTypes.RunInterrupted))
            {
                interrupted++;
                events.Types().Should().ContainInOrder(RunEventTypes.RunInterrupted, RunEventTypes.RunHandedOff, RunEventTypes.RunResumed);
                var keys = cluster.Sink.Requests.Where(r => r.Path == "/second" && r.IdempotencyKey == $"mh-{runId}-second").ToList();
                keys.Should().HaveCount(2, "the cut-off step runs again once, elsewhere, with the same Idempotency-Key");
            }
            else
            {
                cluster.Sink.CountFor($"mh-{runId}-second").Should().Be(1);
            }
        }

        interrupted.Should().BeGreaterThan(0);
        report.StepsInterrupted.Should().Be(interrupted);
        report.Forced.Should().BeTrue("steps were still running at the drain limit");
        report.Duration.Should().BeLessThan(TimeSpan.FromSeconds(5), "the stop ends soon after the one-second drain limit");
    }
}
