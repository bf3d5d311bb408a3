using AwesomeAssertions;
using MeshHook.Grains.Draining;
using MeshHook.Grains.Runs;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Orleans.Storage;

namespace MeshHook.Tests.Unit.Runs;

/// <summary>How long a failing checkpoint write is retried: briefly, through the drain, through the hand-off.</summary>
public sealed class RunCheckpointerTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(5);

    private readonly FakeTimeProvider _time = new();
    private readonly SiloDrain _drain = new();
    private readonly RunCheckpointer _checkpointer;
    private int _calls;

    public RunCheckpointerTests() => _checkpointer = new RunCheckpointer(_drain, _time, NullLogger<RunCheckpointer>.Instance);

    [Fact]
    public async Task Write_Failing_IsTriedFiveTimes_ThenFails()
    {
        var writing = _checkpointer.WriteAsync(Guid.NewGuid(), Failing);

        await AdvanceWhilePendingAsync(writing, TimeSpan.FromSeconds(10));

        await FluentActions.Awaiting(() => writing).Should().ThrowAsync<TimeoutException>();
        _calls.Should().Be(RunCheckpointer.Attempts);
    }

    [Fact]
    public async Task Write_FailingWhileDraining_IsRetriedUntilTheDrainLimit()
    {
        _drain.Begin(TimeSpan.FromSeconds(30), _time);
        var writing = _checkpointer.WriteAsync(Guid.NewGuid(), Failing);

        await AdvanceWhilePendingAsync(writing, TimeSpan.FromSeconds(20));
        writing.IsCompleted.Should().BeFalse("the drain limit is 30 s away");
        _calls.Should().BeGreaterThan(RunCheckpointer.Attempts);

        await AdvanceWhilePendingAsync(writing, TimeSpan.FromSeconds(15));
        await FluentActions.Awaiting(() => writing).Should().ThrowAsync<TimeoutException>();
    }

    [Fact]
    public async Task Write_FailingDuringTheHandOff_IsRetriedUntilItsBudgetEnds_AndSucceedsWhenPostgresIsBack()
    {
        using var budget = new CancellationTokenSource();
        var failuresLeft = 12;
        var writing = _checkpointer.WriteAsync(
            Guid.NewGuid(), () => Interlocked.Decrement(ref failuresLeft) >= 0 ? Failing() : Task.CompletedTask, budget.Token);

        await AdvanceWhilePendingAsync(writing, TimeSpan.FromSeconds(30));

        await writing.WaitAsync(Deadline, TestContext.Current.CancellationToken);
        failuresLeft.Should().BeNegative("the write went through on its 13th attempt");
    }

    [Fact]
    public async Task Write_ByAStaleActivation_IsNotRetried()
    {
        _drain.Begin(TimeSpan.FromSeconds(30), _time);

        var act = () => _checkpointer.WriteAsync(Guid.NewGuid(), () =>
        {
            _calls++;
            throw new InconsistentStateException("written by another activation");
        });

        await act.Should().ThrowAsync<InconsistentStateException>();
        _calls.Should().Be(1);
    }

    public void Dispose() => _drain.Dispose();

    private Task Failing()
    {
        _calls++;
        return Task.FromException(new TimeoutException("Postgres is restarting"));
    }

    private async Task AdvanceWhilePendingAsync(Task writing, TimeSpan total)
    {
        for (var waited = TimeSpan.Zero; waited < total && !writing.IsCompleted; waited += TimeSpan.FromMilliseconds(100))
        {
            // Let the retry loop reach its next delay before the clock moves.
            await Task.Delay(1, TestContext.Current.CancellationToken);
            _time.Advance(TimeSpan.FromMilliseconds(100));
        }
    }
}
