using AwesomeAssertions;
using MeshHook.Grains.Definitions;
using MeshHook.Grains.Steps;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Newtonsoft.Json.Linq;
using Xunit;

namespace MeshHook.Tests.Unit.Steps;

public sealed class DelayExecutorTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(5);
    private static readonly DateTimeOffset Start = new(2030, 1, 2, 3, 4, 5, TimeSpan.Zero);

    private readonly FakeTimeProvider _time = new(Start);
    private readonly DelayExecutor _executor;

    public DelayExecutorTests() => _executor = new DelayExecutor(_time, NullLogger<DelayExecutor>.Instance);

    [Fact]
    public async Task Delay_BeforeDue_DoesNotCompleteUntilTimeIsAdvanced()
    {
        var execution = _executor.ExecuteAsync(Invocation(TimeSpan.FromSeconds(10), firstStartedAt: Start), TestContext.Current.CancellationToken);

        _time.Advance(TimeSpan.FromSeconds(9.9));
        execution.IsCompleted.Should().BeFalse("the delay is not due before 10 s");

        _time.Advance(TimeSpan.FromSeconds(0.1));
        var outcome = await execution.WaitAsync(Deadline, TestContext.Current.CancellationToken);

        outcome.Should().BeOfType<StepOutcome.Succeeded>()
            .Which.Output.ShouldBeJson("""{"waitedUntil": "2030-01-02T03:04:15.0000000Z"}""");
    }

    [Fact]
    public async Task Delay_FirstStartedLongAgo_CompletesImmediately()
    {
        var execution = _executor.ExecuteAsync(
            Invocation(TimeSpan.FromSeconds(10), firstStartedAt: Start - TimeSpan.FromHours(1)), TestContext.Current.CancellationToken);

        execution.IsCompletedSuccessfully.Should().BeTrue("a step resumed after its due time must not wait again");
        (await execution).Should().BeOfType<StepOutcome.Succeeded>();
    }

    [Fact]
    public async Task Delay_ResumedPartWay_WaitsOnlyForWhatIsLeft()
    {
        var execution = _executor.ExecuteAsync(
            Invocation(TimeSpan.FromSeconds(10), firstStartedAt: Start - TimeSpan.FromSeconds(7)), TestContext.Current.CancellationToken);

        _time.Advance(TimeSpan.FromSeconds(2.9));
        execution.IsCompleted.Should().BeFalse("3 s were left at resume");

        _time.Advance(TimeSpan.FromSeconds(0.1));
        (await execution.WaitAsync(Deadline, TestContext.Current.CancellationToken)).Should().BeOfType<StepOutcome.Succeeded>();
    }

    [Fact]
    public async Task Delay_LongerThanATimerCanWait_CompletesWhenDue()
    {
        // Task.Delay alone refuses more than ~49.7 days.
        var execution = _executor.ExecuteAsync(Invocation(TimeSpan.FromDays(60), firstStartedAt: Start), TestContext.Current.CancellationToken);

        execution.IsCompleted.Should().BeFalse();
        _time.Advance(TimeSpan.FromDays(60));

        (await execution.WaitAsync(Deadline, TestContext.Current.CancellationToken)).Should().BeOfType<StepOutcome.Succeeded>();
    }

    [Fact]
    public async Task Delay_Canceled_ThrowsOperationCanceled()
    {
        using var cancellation = new CancellationTokenSource();
        var execution = _executor.ExecuteAsync(Invocation(TimeSpan.FromMinutes(5), firstStartedAt: Start), cancellation.Token);

        await cancellation.CancelAsync();

        await FluentActions.Awaiting(() => execution.WaitAsync(Deadline, TestContext.Current.CancellationToken))
            .Should().ThrowAsync<OperationCanceledException>();
    }

    [Fact]
    public async Task Delay_SiloStopping_SuspendsWithoutWaiting()
    {
        using var stopping = new CancellationTokenSource();
        var invocation = Invocation(TimeSpan.FromMinutes(5), firstStartedAt: Start) with { SiloStopping = stopping.Token };
        var execution = _executor.ExecuteAsync(invocation, TestContext.Current.CancellationToken);

        await stopping.CancelAsync();

        (await execution.WaitAsync(Deadline, TestContext.Current.CancellationToken)).Should().BeOfType<StepOutcome.Suspended>();
    }

    [Fact]
    public async Task Delay_CanceledWhileTheSiloStops_IsACancelNotASuspension()
    {
        using var stopping = new CancellationTokenSource();
        using var cancellation = new CancellationTokenSource();
        var invocation = Invocation(TimeSpan.FromMinutes(5), firstStartedAt: Start) with { SiloStopping = stopping.Token };
        var execution = _executor.ExecuteAsync(invocation, cancellation.Token);

        await cancellation.CancelAsync();
        await stopping.CancelAsync();

        await FluentActions.Awaiting(() => execution.WaitAsync(Deadline, TestContext.Current.CancellationToken))
            .Should().ThrowAsync<OperationCanceledException>();
    }

    [Fact]
    public async Task Delay_AlreadyDue_SucceedsEvenWhenTheSiloStops()
    {
        using var stopping = new CancellationTokenSource();
        await stopping.CancelAsync();
        var invocation = Invocation(TimeSpan.FromSeconds(1), firstStartedAt: Start - TimeSpan.FromSeconds(2)) with { SiloStopping = stopping.Token };

        (await _executor.ExecuteAsync(invocation, TestContext.Current.CancellationToken)).Should().BeOfType<StepOutcome.Succeeded>();
    }

    private static StepInvocation Invocation(TimeSpan duration, DateTimeOffset firstStartedAt) =>
        new(Guid.NewGuid(), new DelayNode("wait", duration), new JObject(), firstStartedAt, new RecordingObserver());
}
