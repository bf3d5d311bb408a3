using AwesomeAssertions;
using MeshHook.Grains;
using MeshHook.Grains.Runs;
using MeshHook.Silo.Shutdown;
using MeshHook.Tests.Integration.Infrastructure;
using MeshHook.Tests.Integration.Runs;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace MeshHook.Tests.Integration.Shutdown;

/// <summary>Two silos and a ten-second drain, for a drain during which Postgres goes away for a few seconds.</summary>
public sealed class OutageDrainCluster : MeshHookCluster
{
    protected override Dictionary<string, string?> Settings => new(base.Settings)
    {
        ["MeshHook:Shutdown:DrainTimeout"] = "00:00:10",
    };
}

/// <summary>
/// The chaos soak stopped Postgres and then sent SIGTERM to a silo: each run's checkpoint after a finished step was
/// tried five times (about 3 s) and given up; the run was deactivated and resumed from its previous checkpoint, so the
/// step it had finished ran again, and the drain counted it interrupted. A checkpoint during a drain now keeps trying
/// until the drain limit (or, in the hand-off, the hand-off budget) ends.
/// </summary>
public sealed class PostgresDownDuringDrainTests(OutageDrainCluster cluster) : IClassFixture<OutageDrainCluster>
{
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(6);

    [Fact]
    public async Task StopSilo_PostgresUnreachableWhenItsRunsCheckpoint_TheyKeepTryingThroughTheDrain_NoStepRunsAgain()
    {
        const int runs = 8;
        const int slowMs = 2000;
        var slug = await cluster.PublishAsync(Workflows.TwoCalls(cluster.Sink.BaseAddress, slowMs));
        var runIds = await Task.WhenAll(Enumerable.Range(0, runs).Select(i => cluster.TriggerAsync(slug, $$"""{"n": {{i}}}""")));
        await Poll.UntilAsync(
            () => Task.FromResult(runIds.All(id => cluster.Sink.CountFor($"mh-{id}-second") >= 1)),
            "every run is inside its slow step");
        var victim = cluster.Cluster.SecondarySilos[0];
        var services = cluster.ServicesOf(victim);
        var coordinator = services.GetRequiredService<ShutdownCoordinator>();
        var victimRuns = await RunsCheckpointedByAsync(services.GetRequiredService<ILocalSiloDetails>().SiloAddress.ToString(), runIds);
        victimRuns.Should().NotBeEmpty("the client spreads new runs over both silos");

        // Postgres goes away while the slow steps run; they end, and each run's next checkpoint (the step's success
        // with the next step's start) fails. A second after the steps ended, and before five attempts (about 3 s)
        // are used up, the silo is stopped: from then on the checkpoint keeps trying within the drain limit.
        var stepsEnd = DateTime.UtcNow + TimeSpan.FromMilliseconds(slowMs);
        await PostgresServer.SetDatabaseReachableAsync(cluster.ConnectionString, reachable: false);
        Task stopping;
        try
        {
            await Task.Delay(stepsEnd - DateTime.UtcNow + TimeSpan.FromSeconds(1), TestContext.Current.CancellationToken);
            stopping = cluster.Cluster.StopSiloAsync(victim);
            await Task.Delay(Outage - TimeSpan.FromMilliseconds(slowMs + 1000), TestContext.Current.CancellationToken);
        }
        finally
        {
            await PostgresServer.SetDatabaseReachableAsync(cluster.ConnectionString, reachable: true);
            // The test's own pooled connections were ended too.
            cluster.DataSource.Clear();
        }

        await stopping;
        var report = await coordinator.Report.WaitAsync(TimeSpan.FromSeconds(10));
        var views = await Task.WhenAll(runIds.Select(id => cluster.WaitFinishedAsync(id, TimeSpan.FromSeconds(60))));

        views.Should().AllSatisfy(v => v.Status.Should().Be(RunStatus.Succeeded));
        foreach (var runId in victimRuns)
        {
            var events = await cluster.Store.ReadEventsAsync(runId, CancellationToken.None);
            History.ShouldBeConsistent(events);
            events.Types().Should().NotContain(RunEventTypes.RunInterrupted, "the drain limit (10 s) outlasts the outage");
            cluster.Sink.CountFor($"mh-{runId}-second").Should().Be(1, $"run {runId}: its slow step ended before the stop and its success was saved once Postgres was back");
        }

        report.Forced.Should().BeFalse();
        report.StepsInterrupted.Should().Be(0);
    }

    /// <summary>The runs whose last checkpoint the silo at <paramref name="address"/> wrote (workflow_runs.silo).</summary>
    private async Task<List<Guid>> RunsCheckpointedByAsync(string address, Guid[] runIds)
    {
        await using var command = cluster.DataSource.CreateCommand("SELECT id FROM workflow_runs WHERE silo = @silo AND id = ANY(@ids)");
        command.Parameters.AddWithValue("silo", address);
        command.Parameters.AddWithValue("ids", runIds);
        var ids = new List<Guid>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            ids.Add(reader.GetGuid(0));
        }

        return ids;
    }
}
