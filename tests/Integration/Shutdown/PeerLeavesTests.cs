using AwesomeAssertions;
using MeshHook.Grains;
using MeshHook.Grains.Runs;
using MeshHook.Tests.Integration.Infrastructure;
using MeshHook.Tests.Integration.Runs;
using Xunit.Sdk;

namespace MeshHook.Tests.Integration.Shutdown;

/// <summary>Three silos, one of which leaves during the test.</summary>
public sealed class PeerLeavesCluster : MeshHookCluster
{
    protected override short InitialSilos => 3;
}

public sealed class PeerLeavesTests(PeerLeavesCluster cluster, ITestOutputHelper output) : IClassFixture<PeerLeavesCluster>
{
    [Fact]
    public async Task StopOneSilo_RunsOnTheSurvivors_DoNotPause()
    {
        const int runs = 30;
        const int stepMs = 100;
        var slug = await cluster.PublishAsync(Workflows.DelayChain(steps: 40, ms: stepMs));
        var runIds = await Task.WhenAll(Enumerable.Range(0, runs).Select(_ => cluster.TriggerAsync(slug)));
        await Poll.UntilAsync(async () => (await Task.WhenAll(runIds.Select(async id => (await cluster.Store.ReadEventsAsync(id, CancellationToken.None)).Count))).All(c => c > 10),
            "every run is a few steps in");

        var stopStarted = DateTimeOffset.UtcNow;
        await cluster.Cluster.StopSiloAsync(cluster.Cluster.SecondarySilos[0]);
        var stopEnded = DateTimeOffset.UtcNow;
        var views = await Task.WhenAll(runIds.Select(id => cluster.WaitFinishedAsync(id, TimeSpan.FromSeconds(60))));

        views.Should().AllSatisfy(v => v.Status.Should().Be(RunStatus.Succeeded));
        var survivorGaps = new List<TimeSpan>();
        var baselineGaps = new List<TimeSpan>();
        var handedOff = 0;
        foreach (var runId in runIds)
        {
            var events = await cluster.Store.ReadEventsAsync(runId, CancellationToken.None);
            History.ShouldBeConsistent(events);
            if (events.Types().Contains(RunEventTypes.RunHandedOff))
            {
                handedOff++;
                continue;
            }

            var starts = events.Where(e => e.Type == RunEventTypes.StepStarted).Select(e => e.Timestamp).ToList();
            for (var i = 1; i < starts.Count; i++)
            {
                var gap = starts[i] - starts[i - 1];
                var overlapsStop = starts[i] >= stopStarted && starts[i - 1] <= stopEnded;
                (overlapsStop ? survivorGaps : baselineGaps).Add(gap);
            }
        }

        handedOff.Should().BeGreaterThan(0, "the stopped silo hosted some runs");
        survivorGaps.Should().NotBeEmpty("runs on the survivors were stepping while the peer left");
        var baseline = baselineGaps.Order().ElementAt((int)(baselineGaps.Count * 0.99));
        var worst = survivorGaps.Max();
        output.WriteLine($"step gap on survivors: p99 without the stop {baseline.TotalMilliseconds:0} ms, worst during the stop {worst.TotalMilliseconds:0} ms ({survivorGaps.Count} gaps)");
        worst.Should().BeLessThan(TimeSpan.FromMilliseconds(Math.Max(3 * baseline.TotalMilliseconds, 750)),
            "a peer leaving must not pause runs living elsewhere (no directory-failure deactivation, no waiting for a reminder)");
    }
}
