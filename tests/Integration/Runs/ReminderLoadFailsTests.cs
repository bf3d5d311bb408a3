using AwesomeAssertions;
using MeshHook.Grains;
using MeshHook.Grains.Runs;
using MeshHook.Silo.Ops;
using MeshHook.Tests.Integration.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Orleans.TestingHost;

namespace MeshHook.Tests.Integration.Runs;

/// <summary>
/// One silo whose reminder service's range reads fail, as when Postgres refuses its connections: after the third
/// failure Orleans gives up waiting and fails every registration at once, until a later read succeeds.
/// </summary>
public sealed class ReminderLoadFailsCluster : MeshHookCluster
{
    public ReminderRangeGate Gate { get; private set; } = null!;

    protected override short InitialSilos => 1;

    protected override Dictionary<string, string?> Settings
    {
        get
        {
            var settings = base.Settings;
            // Orleans retries a failed first load at this period: it gives up within a few seconds, and recovers as soon.
            settings["Orleans:ReminderService:RefreshReminderListPeriod"] = "00:00:01";
            return settings;
        }
    }

    protected override async Task PrepareDatabaseAsync()
    {
        Gate = new ReminderRangeGate(ConnectionString);
        await Gate.InstallAsync(ReminderRangeGate.Fail);
    }

    protected override void Configure(TestClusterBuilder builder) => builder.AddSiloBuilderConfigurator<CapturedLogs.Configurator>();
}

public sealed class ReminderLoadFailsTests(ReminderLoadFailsCluster cluster) : IClassFixture<ReminderLoadFailsCluster>
{
    [Fact]
    public async Task ReminderServiceGaveUp_RunsStartWithAWarning_TheReminderIsRetriedUntilItLands_AndRemovedAtTheEnd()
    {
        var silo = cluster.Cluster.Silos.Single();
        var readiness = ActivatorUtilities.CreateInstance<ReminderServiceHealthCheck>(cluster.ServicesOf(silo));
        await Poll.UntilAsync(
            () => Task.FromResult(CapturedLogs.Mentioning(cluster, "ReminderService failed initial load of reminders and cannot guarantee").Any()),
            "Orleans' reminder service to give up its first load (third failed read)",
            TimeSpan.FromSeconds(60));
        (await readiness.CheckHealthAsync(new HealthCheckContext())).Status.Should().Be(HealthStatus.Unhealthy);

        var quickSlug = await cluster.PublishAsync(Workflows.Linear(cluster.Sink.BaseAddress, "/gave-up"));
        var waitingSlug = await cluster.PublishAsync(Workflows.Delayed(600_000));
        var quick = await cluster.TriggerAsync(quickSlug, """{"order": 8, "amount": 2}""");
        var waiting = await cluster.TriggerAsync(waitingSlug);

        (await cluster.WaitFinishedAsync(quick)).Status.Should().Be(RunStatus.Succeeded, "a run needs no reminder to run");
        foreach (var runId in new[] { quick, waiting })
        {
            // Orleans fails the registration at once now, so the warning comes at once, with Orleans' reason.
            CapturedLogs.Mentioning(cluster, $"Run {runId} started without its reminder").Should().ContainSingle()
                .Which.Message.Should().Contain("ReminderService failed initial load");
        }

        var waitingGrain = cluster.Grains.GetGrain<IWorkflowRunGrain>(waiting);
        await Poll.UntilAsync(
            async () => (await waitingGrain.GetViewAsync()).Steps.Single(s => s.NodeId == "wait").Status == StepStatus.Running,
            "the waiting run to reach its delay step while the reminder service is down");
        (await ReminderCountAsync(waiting)).Should().Be(0);

        await cluster.Gate.SetAsync(ReminderRangeGate.Open);

        await Poll.UntilAsync(
            async () => (await readiness.CheckHealthAsync(new HealthCheckContext())).Status == HealthStatus.Healthy,
            "readiness to turn healthy once a later read of the range succeeded (no restart)",
            TimeSpan.FromSeconds(30));
        await Poll.UntilAsync(
            async () => await ReminderCountAsync(waiting) == 1,
            "the waiting run's reminder to land through its background retries (they back off to 30 s)",
            TimeSpan.FromSeconds(60));
        await Poll.UntilAsync(
            () => Task.FromResult(CapturedLogs.Mentioning(cluster, $"Run {waiting}: reminder registered").Any()),
            "the waiting run to log that its reminder landed");
        CapturedLogs.Mentioning(cluster, $"Run {waiting}: reminder registered").Single().Message.Should().NotContain("(1 attempt(s))", "the first attempts failed");
        (await ReminderCountAsync(quick)).Should().Be(0, "the finished run registered nothing and keeps nothing");

        (await waitingGrain.CancelAsync()).Status.Should().Be(RunStatus.Canceled);
        await Poll.UntilAsync(async () => await ReminderCountAsync(waiting) == 0, "the canceled run's reminder to be removed");
    }

    private Task<long> ReminderCountAsync(Guid runId) => cluster.ReminderCountAsync(runId);
}
