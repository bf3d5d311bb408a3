using System.Diagnostics;
using AwesomeAssertions;
using MeshHook.Grains;
using MeshHook.Grains.Runs;
using MeshHook.Silo.Ops;
using MeshHook.Tests.Integration.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Orleans.TestingHost;

namespace MeshHook.Tests.Integration.Runs;

/// <summary>
/// One silo, so that it owns the whole reminder ring, whose reminder service cannot load its range when it starts:
/// its range reads hang (as behind a Postgres that refuses or starves connections) until the test opens the gate.
/// Orleans would then hold every registration for up to 20 s and fail it; runs register nothing through it (their
/// checkpoints write their reminder rows), so they do not notice.
/// </summary>
public sealed class ReminderOutageCluster : MeshHookCluster
{
    public ReminderRangeGate Gate { get; private set; } = null!;

    protected override short InitialSilos => 1;

    protected override Dictionary<string, string?> Settings
    {
        get
        {
            var settings = base.Settings;
            // A range read that timed out on the client is tried again soon, not 5 minutes later.
            settings["Orleans:ReminderService:RefreshReminderListPeriod"] = "00:00:02";
            return settings;
        }
    }

    protected override async Task PrepareDatabaseAsync()
    {
        Gate = new ReminderRangeGate(ConnectionString);
        await Gate.InstallAsync(ReminderRangeGate.Hang);
    }

    protected override void Configure(TestClusterBuilder builder) => builder.AddSiloBuilderConfigurator<CapturedLogs.Configurator>();
}

public sealed class ReminderOutageTests(ReminderOutageCluster cluster) : IClassFixture<ReminderOutageCluster>
{
    // Orleans holds a registration this long while the reminder service loads (LocalReminderService.InitialReadMaxWaitTimeForUpdates).
    private static readonly TimeSpan OrleansHold = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task ReminderServiceNotLoaded_RunsStartAndHoldTheirReminderRows_SiloNotReadyUntilItLoads_ThenTheRemindersTick()
    {
        using var reminderEvents = new ReminderEventLog();
        var readiness = ActivatorUtilities.CreateInstance<ReminderServiceHealthCheck>(cluster.ServicesOf(cluster.Cluster.Silos.Single()));

        var notReady = await readiness.CheckHealthAsync(new HealthCheckContext());
        notReady.Status.Should().Be(HealthStatus.Unhealthy, "the silo's reminder service cannot read its range");
        notReady.Description.Should().Contain("has not loaded this silo's reminder range");

        // A run that finishes at once, and one that waits (a 10-minute delay) until the test cancels it.
        var quickSlug = await cluster.PublishAsync(Workflows.Linear(cluster.Sink.BaseAddress, "/outage"));
        var waitingSlug = await cluster.PublishAsync(Workflows.Delayed(600_000));
        var clock = Stopwatch.StartNew();
        var quick = await cluster.TriggerAsync(quickSlug, """{"order": 7, "amount": 1}""");
        var waiting = await cluster.TriggerAsync(waitingSlug);

        clock.Elapsed.Should().BeLessThan(OrleansHold / 2, "starting a run must not wait for the reminder service (Orleans holds a registration 20 s)");
        var quickView = await cluster.WaitFinishedAsync(quick);
        quickView.Status.Should().Be(RunStatus.Succeeded, "a run needs no reminder service to run");
        cluster.Sink.CountFor($"mh-{quick}-call").Should().Be(1);
        var quickHistory = await cluster.Store.ReadEventsAsync(quick, CancellationToken.None);
        History.ShouldBeConsistent(quickHistory);
        quickHistory.Types().Should().EndWith(RunEventTypes.RunCompleted);
        (await ReminderCountAsync(quick)).Should().Be(0, "the finished run's last checkpoint deleted the reminder its first one wrote");
        var waitingGrain = cluster.Grains.GetGrain<IWorkflowRunGrain>(waiting);
        await Poll.UntilAsync(
            async () => await ReminderCountAsync(waiting) == 1,
            "the waiting run's reminder row, written by the checkpoint of its delay's start while the reminder service cannot read");
        reminderEvents.For(waiting).Should().BeEmpty("the row comes from the run's checkpoint, not from a registration through Orleans");
        reminderEvents.TicksFor(waiting).Should().Be(0);
        (await readiness.CheckHealthAsync(new HealthCheckContext())).Status.Should().Be(HealthStatus.Unhealthy, "the gate is still closed");

        await cluster.Gate.SetAsync(ReminderRangeGate.Open);

        await Poll.UntilAsync(
            async () => (await readiness.CheckHealthAsync(new HealthCheckContext())).Status == HealthStatus.Healthy,
            "readiness to turn healthy once the reminder service loaded its range",
            TimeSpan.FromSeconds(60));
        // Proof that Orleans reads the row as its own: it ticks the run (reminder period 5 s in these tests).
        await Poll.UntilAsync(
            () => Task.FromResult(reminderEvents.TicksFor(waiting) > 0),
            "Orleans' reminder service to tick the waiting run from the row its checkpoint wrote",
            TimeSpan.FromSeconds(60));
        (await waitingGrain.GetViewAsync()).Status.Should().Be(RunStatus.Running, "a tick of a running run changes nothing");

        // The end of a run deletes its reminder row, in its final checkpoint.
        (await waitingGrain.CancelAsync()).Status.Should().Be(RunStatus.Canceled);
        (await ReminderCountAsync(waiting)).Should().Be(0, "the canceled run's final checkpoint deleted its reminder row");
        reminderEvents.For(waiting).Should().BeEmpty("nothing was registered or removed through Orleans");
        (await readiness.CheckHealthAsync(new HealthCheckContext())).Status.Should().Be(HealthStatus.Healthy, "once loaded, the reminder service stays ready");
    }

    private Task<long> ReminderCountAsync(Guid runId) => cluster.ReminderCountAsync(runId);
}
