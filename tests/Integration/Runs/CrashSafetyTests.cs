using AwesomeAssertions;
using MeshHook.Grains;
using MeshHook.Grains.Runs;
using MeshHook.Tests.Integration.Infrastructure;

namespace MeshHook.Tests.Integration.Runs;

/// <summary>A cluster of its own: these tests kill silos.</summary>
public sealed class CrashCluster : MeshHookCluster;

public sealed class CrashSafetyTests(CrashCluster cluster) : IClassFixture<CrashCluster>
{
    [Fact]
    public async Task KillSilo_RunsMidStep_AllFinishOnTheSurvivorWithoutRepeatingACheckpointedStep()
    {
        const int runs = 20;
        var slug = await cluster.PublishAsync(Workflows.TwoCalls(cluster.Sink.BaseAddress, slowMs: 4000));
        var runIds = await Task.WhenAll(Enumerable.Range(0, runs).Select(i => cluster.TriggerAsync(slug, $$"""{"n": {{i}}}""")));

        // Every run is inside its slow second step: the first step is checkpointed, the second is not.
        await Poll.UntilAsync(
            () => Task.FromResult(runIds.All(id => cluster.Sink.CountFor($"mh-{id}-second") >= 1)),
            "every run reached its slow step");
        var victim = cluster.Cluster.SecondarySilos[0];
        await cluster.Cluster.KillSiloAsync(victim);

        var views = await Task.WhenAll(runIds.Select(id => cluster.WaitFinishedAsync(id, TimeSpan.FromSeconds(90))));

        views.Should().AllSatisfy(v => v.Status.Should().Be(RunStatus.Succeeded));
        var resumed = 0;
        foreach (var runId in runIds)
        {
            cluster.Sink.CountFor($"mh-{runId}-first").Should().Be(1, $"run {runId}'s first step was checkpointed before the kill");
            var events = await cluster.Store.ReadEventsAsync(runId, CancellationToken.None);
            History.ShouldBeConsistent(events);
            events.Types().Should().EndWith(RunEventTypes.RunCompleted);
            if (events.Types().Contains(RunEventTypes.RunResumed))
            {
                resumed++;
                cluster.Sink.CountFor($"mh-{runId}-second").Should().Be(2, "the cut-off step runs again, once, with the same key");
            }
            else
            {
                cluster.Sink.CountFor($"mh-{runId}-second").Should().Be(1);
            }

            (await cluster.RowStatusAsync(runId)).Should().Be("succeeded");
        }

        resumed.Should().BeGreaterThan(0, "some runs lived on the killed silo (placement spreads 20 runs over 2 silos)");
    }
}
