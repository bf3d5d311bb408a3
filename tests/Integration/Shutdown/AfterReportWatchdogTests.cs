using AwesomeAssertions;
using MeshHook.Silo.Shutdown;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace MeshHook.Tests.Integration.Shutdown;

/// <summary>
/// Once the report is written, Orleans' remaining stop stages get <c>AfterReportTimeout</c>; past it the process exits
/// instead of waiting for the container's kill (soak bug 20). The decision only: the exit itself is FastExit's.
/// </summary>
public sealed class AfterReportWatchdogTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private readonly FakeTimeProvider _time = new();
    private readonly TaskCompletionSource<ShutdownReport> _report = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _exits;
    private DateTimeOffset? _exitedAt;

    [Fact]
    public async Task HostStillStopping_PastTheLimitAfterTheReport_Exits()
    {
        var watching = Watch();
        _time.Advance(TimeSpan.FromSeconds(30));
        await Task.Delay(50, TestContext.Current.CancellationToken);
        _exits.Should().Be(0, "before the report nothing is known to be saved, however long the stop takes");

        _report.SetResult(Report());
        var reportAt = _time.GetUtcNow();
        await AdvanceUntilAsync(() => watching.IsCompleted, Limit * 3);

        (await watching.WaitAsync(Deadline, TestContext.Current.CancellationToken)).Should().BeTrue();
        _exits.Should().Be(1);
        // The clock moves in 100 ms steps while the watchdog arms its timer on its own thread: allow a few steps late.
        (_exitedAt!.Value - reportAt).Should().BeGreaterThanOrEqualTo(Limit).And.BeLessThan(Limit + TimeSpan.FromSeconds(2));
    }

    [Fact]
    public async Task HostStopsWithinTheLimit_DoesNotExit()
    {
        var watching = Watch();
        _report.SetResult(Report());
        await AdvanceUntilAsync(() => false, Limit / 2);

        _stopped.SetResult();
        await AdvanceUntilAsync(() => watching.IsCompleted, Limit * 2);

        (await watching.WaitAsync(Deadline, TestContext.Current.CancellationToken)).Should().BeFalse();
        _exits.Should().Be(0);
    }

    [Fact]
    public async Task HostStopsWithoutAReport_DoesNotExit()
    {
        var watching = Watch();
        _time.Advance(Limit * 10);

        _stopped.SetResult();

        (await watching.WaitAsync(Deadline, TestContext.Current.CancellationToken)).Should().BeFalse("without a report nothing says the runs are saved");
        _exits.Should().Be(0);
    }

    private Task<bool> Watch() =>
        AfterReportWatchdog.WatchAsync(_report.Task, _stopped.Task, Limit, () =>
        {
            _exitedAt = _time.GetUtcNow();
            Interlocked.Increment(ref _exits);
            return Task.CompletedTask;
        }, _time, NullLogger.Instance);

    private async Task AdvanceUntilAsync(Func<bool> done, TimeSpan most)
    {
        for (var advanced = TimeSpan.Zero; !done() && advanced < most; advanced += TimeSpan.FromMilliseconds(100))
        {
            _time.Advance(TimeSpan.FromMilliseconds(100));
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
    }

    private static ShutdownReport Report() => new(
        "silo", "S127.0.0.1:1:1", DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1),
        TimeSpan.Zero, TimeSpan.Zero, 0, 0, 0, 0, false);
}
