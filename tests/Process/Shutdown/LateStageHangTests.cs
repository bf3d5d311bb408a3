using System.Diagnostics;
using AwesomeAssertions;
using MeshHook.Tests.Integration.Infrastructure;
using MeshHook.Tests.Integration.Runs;
using MeshHook.Tests.Process.Infrastructure;

namespace MeshHook.Tests.Process.Shutdown;

/// <summary>
/// Soak bug 20: a silo wrote its report (graceful) and was then held by one of Orleans' own late stop stages until the
/// grace period killed it. Once the report is written nothing of MeshHook's is left, so Orleans' remaining stages get
/// MeshHook:Shutdown:AfterReportTimeout (5 s) and the process then exits 0 (AfterReportWatchdog). Here a late stage is
/// made to hang for real: after the silo has written its status ShuttingDown (at the start of its stop), the test locks
/// the membership table against writes, so the silo's last membership write (Dead, in a stage after the report) waits.
/// </summary>
[Collection(SiloProcessesCollection.Name)]
public sealed class LateStageHangTests
{
    private const int SlowMs = 2500;
    private static readonly TimeSpan AfterReportTimeout = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task Sigterm_WhenALateOrleansStageHangsAfterTheReport_ExitsZeroAtTheAfterReportLimit_NotAtTheGracePeriod()
    {
        await using var cluster = await ProcessCluster.CreateAsync("proc_latestage", new Dictionary<string, string?>());
        var silo = (await cluster.StartSilosAsync("a"))[0];
        var slug = await cluster.PublishAsync(Workflows.TwoCalls(cluster.Sink.BaseAddress, SlowMs));
        var runId = (await cluster.Database.CreateRunsAsync(slug, 1))[0];
        // A step in flight keeps the drain busy for a while: the window in which the test takes its lock.
        await Poll.UntilAsync(() => Task.FromResult(cluster.Sink.CountFor($"mh-{runId}-second") == 1), "the run is inside its slow step", TimeSpan.FromSeconds(60));

        var clock = Stopwatch.StartNew();
        silo.Process.Terminate();
        await Poll.UntilAsync(
            async () => (await cluster.Database.MembershipStatusesAsync(cluster.ClusterId, silo.SiloPort)).FirstOrDefault() == 4,
            "the silo writes its status ShuttingDown", TimeSpan.FromSeconds(10));
        await using var membership = await TableLock.TakeAsync(cluster.ConnectionString, "orleans_membership", "EXCLUSIVE");

        (await cluster.Database.ShutdownsAsync(silo.AddressPrefix)).Should().BeEmpty("the lock is in place before the report, which comes after the drain");
        var exitCode = await silo.WaitForExitAsync(TimeSpan.FromSeconds(40), "the silo exits");
        var signalToExit = clock.Elapsed;
        await membership.DisposeAsync();

        exitCode.Should().Be(0, silo.Process.Output);
        silo.Process.Output.Should().Contain("Orleans' remaining stop stages have not ended 5 s after the report", "the late stage really hung");
        // The drain (the slow step), the report, then the after-report limit; far below the 30 s grace period.
        signalToExit.Should().BeLessThan(TimeSpan.FromMilliseconds(SlowMs) + AfterReportTimeout + TimeSpan.FromSeconds(6));
        var report = (await cluster.Database.ShutdownsAsync(silo.AddressPrefix)).Should().ContainSingle().Subject;
        report.Forced.Should().BeFalse("the stop was graceful: the hang came after the report");
    }
}
