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
/// failure Orleans gives up waiting and would fail every registration at once, until a later read succeeds. Runs
/// register nothing through it: their checkpoints write their reminder rows.
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
    public async Task ReminderServiceGaveUp_RunsStartAndHoldTheirReminderRows_WhichTickOnceALaterReadSucceeds()
    {
        using var reminderEvents = new ReminderEventLog();
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

        (await cluster.WaitFinishedAsync(quick)).Status.Should().Be(RunStatus.Succeeded, "a run needs no reminder service to run");
        (await ReminderCountAsync(quick)).Should().Be(0, "a finished run keeps no reminder");
        await Poll.UntilAsync(
            async () => await ReminderCountAsync(waiting) == 1,
            "the waiting run's reminder row, written by its checkpoint although Orleans fails every registration now");
        CapturedLogs.Mentioning(cluster, $"Run {waiting}").Should().NotContain(
            l => l.Level >= LogLevel.Warning, "a run does not depend on the reminder service, so it has nothing to warn about");

        await cluster.Gate.SetAsync(ReminderRangeGate.Open);

        await Poll.UntilAsync(
            async () => (await readiness.CheckHealthAsync(new HealthCheckContext())).Status == HealthStatus.Healthy,
            "readiness to turn healthy once a later read of the range succeeded (no restart)",
            TimeSpan.FromSeconds(30));
        await Poll.UntilAsync(
            () => Task.FromResult(reminderEvents.TicksFor(waiting) > 0),
            "Orleans' reminder service to tick the waiting run from the row its checkpoint wrote",
            TimeSpan.FromSeconds(60));

        var waitingGrain = cluster.Grains.GetGrain<IWorkflowRunGrain>(waiting);
        (await waitingGrain.CancelAsync()).Status.Should().Be(RunStatus.Canceled);
        (await ReminderCountAsync(waiting)).Should().Be(0, "the canceled run's final checkpoint deleted its reminder row");
    }

    private Task<long> ReminderCountAsync(Guid runId) => cluster.ReminderCountAsync(runId);
}
