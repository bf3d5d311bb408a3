using System.Diagnostics;
using AwesomeAssertions;
using MeshHook.Silo.Shutdown;
using MeshHook.Tests.Integration.Infrastructure;
using MeshHook.Tests.Integration.Runs;
using Microsoft.Extensions.DependencyInjection;

namespace MeshHook.Tests.Integration.Shutdown;

/// <summary>Two silos whose run starts can be held (<see cref="HangingStarts"/>).</summary>
public sealed class HangingStartsCluster : MeshHookCluster
{
    protected override Dictionary<string, string?> Settings => new(base.Settings)
    {
        [HangingStarts.EnableKey] = "true",
        ["MeshHook:Recovery:UnstartedAfter"] = "00:00:00",
    };
}

/// <summary>
/// Soak bug 16: in the hour-long process soak, stops were forced at 29 s one after another while a killed silo was not
/// yet declared dead. Each stopping silo's recovery sweep was waiting for run starts that Orleans kept retrying against
/// the dead silo, and the silo lifecycle's Active stage waited for the sweep.
/// </summary>
public sealed class SweepDuringStopTests(HangingStartsCluster cluster) : IClassFixture<HangingStartsCluster>
{
    [Fact]
    public async Task Stop_WhileTheSweepWaitsOnAStartThatHangs_IsNotHeldUpByIt()
    {
        var victim = cluster.Cluster.SecondarySilos[0];
        var services = cluster.ServicesOf(victim);
        var hanging = services.GetRequiredService<HangingStarts>();
        hanging.SwitchOn();

        // Queued runs nobody starts: the sweeps split them by run id, and the victim's share hangs in its start.
        var slug = await cluster.PublishAsync(Workflows.Delayed(1));
        for (var i = 0; i < 12; i++)
        {
            await cluster.Store.CreateRunAsync(slug, """{"headers": {}, "body": {}}""", idempotencyKey: null, CancellationToken.None);
        }

        await Poll.UntilAsync(() => Task.FromResult(!hanging.Held.IsEmpty), "the victim's sweep to be inside a start that hangs");
        var coordinator = services.GetRequiredService<ShutdownCoordinator>();
        var clock = Stopwatch.StartNew();

        await cluster.Cluster.StopSiloAsync(victim);

        clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(10), "a sweep's start is abandoned when the silo stops (before the fix: about 29 s, forced)");
        (await coordinator.Report.WaitAsync(TimeSpan.FromSeconds(5))).Forced.Should().BeFalse();
    }
}
