using System.Diagnostics;
using AwesomeAssertions;
using MeshHook.Grains;
using MeshHook.Grains.Runs;
using MeshHook.Silo.Ops;
using MeshHook.Tests.Integration.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Orleans.Core.Internal;
using Orleans.TestingHost;

namespace MeshHook.Tests.Integration.Runs;

/// <summary>
/// One silo, so that it owns the whole reminder ring, whose reminder service cannot load its range when it starts:
/// its range reads hang (as behind a Postgres that refuses or starves connections) until the test opens the gate.
/// Orleans then holds every registration for up to 20 s and fails it.
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
    public async Task ReminderServiceNotLoaded_RunsStartAndFinishWithoutIt_SiloNotReadyUntilItLoads_ThenRemindersLandAndAreRemoved()
    {
        using var reminderEvents = new ReminderEventLog();
        var readiness = ActivatorUtilities.CreateInstance<ReminderServiceHealthCheck>(cluster.ServicesOf(cluster.Cluster.Silos.Single()));

        var notReady = await readiness.CheckHealthAsync(new HealthCheckContext());
        notReady.Status.Should().Be(HealthStatus.Unhealthy, "the silo's reminder service cannot read its range");
        notReady.Description.Should().Contain("has not loaded this silo's reminder range");

        // A run that finishes at once, and one that waits (a 10-minute delay) until the test cancels it.
        var quickSlug = await cluster.PublishAsync(Workflows.Linear(cluster.Sink.BaseAddress, "/outage"));
        var waitingSlug = await cluster.PublishAsync(Workflows.Delayed(600_000));
        var sinceQuickStarted = Stopwatch.StartNew();
        var quick = await cluster.TriggerAsync(quickSlug, """{"order": 7, "amount": 1}""");
        var quickStart = sinceQuickStarted.Elapsed;
        var clock = Stopwatch.StartNew();
        var waiting = await cluster.TriggerAsync(waitingSlug);
        var waitingStart = clock.Elapsed;

        quickStart.Should().BeLessThan(OrleansHold / 2, "starting a run must not wait for the reminder service (Orleans holds the registration 20 s)");
        waitingStart.Should().BeLessThan(OrleansHold / 2, "starting a run must not wait for the reminder service (Orleans holds the registration 20 s)");
        var quickView = await cluster.WaitFinishedAsync(quick);
        quickView.Status.Should().Be(RunStatus.Succeeded, "a run needs no reminder to run");
        cluster.Sink.CountFor($"mh-{quick}-call").Should().Be(1);
        var quickHistory = await cluster.Store.ReadEventsAsync(quick, CancellationToken.None);
        History.ShouldBeConsistent(quickHistory);
        quickHistory.Types().Should().EndWith(RunEventTypes.RunCompleted);
        var waitingGrain = cluster.Grains.GetGrain<IWorkflowRunGrain>(waiting);
        await Poll.UntilAsync(
            async () => (await waitingGrain.GetViewAsync()).Steps.Single(s => s.NodeId == "wait").Status == StepStatus.Running,
            "the waiting run to reach its delay step while the reminder service is down");
        (await ReminderCountAsync(quick)).Should().Be(0, "nothing could be registered while the range read hangs");
        (await ReminderCountAsync(waiting)).Should().Be(0, "nothing could be registered while the range read hangs");
        // A registration merely slowed by load is not worth a warning; one that has not landed within 5 s is.
        await Poll.UntilAsync(
            () => Task.FromResult(CapturedLogs.Mentioning(cluster, $"Run {waiting} started without its reminder").Any()),
            "the waiting run to warn that it runs without its reminder");
        CapturedLogs.Mentioning(cluster, $"Run {waiting} started without its reminder").Should().ContainSingle()
            .Which.Level.Should().Be(LogLevel.Warning, "an operator must see that the run is not covered by its reminder");

        (await readiness.CheckHealthAsync(new HealthCheckContext())).Status.Should().Be(HealthStatus.Unhealthy, "the gate is still closed");

        // The waiting run's activation goes away: the next one learns from the checkpoint that the reminder is missing.
        await waitingGrain.AsReference<IGrainManagementExtension>().DeactivateOnIdle();
        await Poll.UntilAsync(
            () => Task.FromResult(CapturedLogs.Mentioning(cluster, $"Run {waiting} resumed without its reminder").Any()),
            "the waiting run to come back and register its missing reminder again");

        // The quick run's first registration is still held by Orleans (for 20 s), so it lands once the range loads.
        sinceQuickStarted.Elapsed.Should().BeLessThan(OrleansHold - TimeSpan.FromSeconds(3), "the phases before the gate opens must fit in Orleans' hold");
        await cluster.Gate.SetAsync(ReminderRangeGate.Open);

        await Poll.UntilAsync(
            async () => (await readiness.CheckHealthAsync(new HealthCheckContext())).Status == HealthStatus.Healthy,
            "readiness to turn healthy once the reminder service loaded its range",
            TimeSpan.FromSeconds(60));
        await Poll.UntilAsync(
            async () => await ReminderCountAsync(waiting) == 1,
            "the unfinished run's reminder to be registered in the background after the reminder service loaded its range",
            TimeSpan.FromSeconds(60));
        await Poll.UntilAsync(
            () => Task.FromResult(CapturedLogs.Mentioning(cluster, $"Run {waiting}: reminder registered").Any()),
            "the waiting run to log that its reminder landed");
        (await waitingGrain.GetViewAsync()).Status.Should().Be(RunStatus.Running);

        // The finished run's registration, held by Orleans until the range loaded, lands and is removed again.
        await Poll.UntilAsync(
            () => Task.FromResult(reminderEvents.For(quick).Contains("Unregistered")),
            "the finished run's late registration to be removed",
            TimeSpan.FromSeconds(60));
        reminderEvents.For(quick).Should().Equal("Registered", "Unregistered");
        (await ReminderCountAsync(quick)).Should().Be(0, "a finished run keeps no reminder");

        // The end of a run still removes its reminder.
        (await waitingGrain.CancelAsync()).Status.Should().Be(RunStatus.Canceled);
        await Poll.UntilAsync(async () => await ReminderCountAsync(waiting) == 0, "the canceled run's reminder to be removed");
        (await readiness.CheckHealthAsync(new HealthCheckContext())).Status.Should().Be(HealthStatus.Healthy, "once loaded, the reminder service stays ready");
    }

    private Task<long> ReminderCountAsync(Guid runId) => cluster.ReminderCountAsync(runId);
}
