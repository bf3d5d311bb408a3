using AwesomeAssertions;
using MeshHook.Grains.Definitions;
using MeshHook.Grains.Runs;
using MeshHook.Grains.Steps;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Newtonsoft.Json.Linq;
using System.Diagnostics.Metrics;

namespace MeshHook.Tests.Unit.Runs;

/// <summary>
/// Each way a step can be stopped reaches the run as its own outcome, decided from which signal fired, not from the
/// state of the silo at the moment the exception arrives.
/// </summary>
public sealed class StepRunnerTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(5);

    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly FakeTimeProvider _time = new();
    private readonly CancellationTokenSource _runCanceled = new();
    private readonly CancellationTokenSource _siloStopping = new();
    private readonly CancellationTokenSource _cutOff = new();
    private readonly CancellationTokenSource _deactivating = new();
    private readonly BlockingExecutor _blocking = new();
    private readonly StepRunner _runner;
    private readonly RunMetrics _metrics;

    public StepRunnerTests()
    {
        _metrics = new RunMetrics(_services.GetRequiredService<IMeterFactory>());
        var executors = new StepExecutors([_blocking, new DelayExecutor(_time, NullLogger<DelayExecutor>.Instance)]);
        _runner = new StepRunner(executors, _metrics, _time);
    }

    private StepSignals Signals => new(_runCanceled.Token, _siloStopping.Token, _cutOff.Token, () => "drain limit reached", _deactivating.Token);

    [Fact]
    public async Task Step_RunCanceledWhileItRuns_EndsCanceled()
    {
        var running = Run(new TransformNode("t", null!));
        await _blocking.Started.WaitAsync(Deadline, TestContext.Current.CancellationToken);

        await _runCanceled.CancelAsync();

        (await running.WaitAsync(Deadline, TestContext.Current.CancellationToken)).Outcome.Should().BeOfType<StepOutcome.Canceled>();
    }

    [Fact]
    public async Task Step_CutOff_EndsInterruptedWithTheReason_AndKeepsTheAttemptsItMade()
    {
        var running = Run(new TransformNode("t", null!));
        await _blocking.Started.WaitAsync(Deadline, TestContext.Current.CancellationToken);

        await _cutOff.CancelAsync();
        var result = await running.WaitAsync(Deadline, TestContext.Current.CancellationToken);

        result.Outcome.Should().Be(new StepOutcome.Interrupted("drain limit reached"));
        result.Attempts.Should().ContainSingle().Which.StatusCode.Should().Be(503, "the attempt before the cut-off belongs in the history");
    }

    [Fact]
    public async Task Step_SiloStopping_IsIgnoredByAStepThatIsNotADurableWait()
    {
        var running = Run(new TransformNode("t", null!));
        await _blocking.Started.WaitAsync(Deadline, TestContext.Current.CancellationToken);

        await _siloStopping.CancelAsync();
        await Task.Delay(50, TestContext.Current.CancellationToken);
        running.IsCompleted.Should().BeFalse("a step in flight finishes during the drain");

        _blocking.Finish();
        (await running.WaitAsync(Deadline, TestContext.Current.CancellationToken)).Outcome.Should().BeOfType<StepOutcome.Succeeded>();
    }

    [Fact]
    public async Task Delay_SiloStopping_Suspends()
    {
        var running = Run(new DelayNode("wait", TimeSpan.FromMinutes(5)));

        await _siloStopping.CancelAsync();

        (await running.WaitAsync(Deadline, TestContext.Current.CancellationToken)).Outcome.Should().BeOfType<StepOutcome.Suspended>();
    }

    [Fact]
    public async Task Step_Deactivating_Throws_SoNothingIsRecorded()
    {
        var running = Run(new TransformNode("t", null!));
        await _blocking.Started.WaitAsync(Deadline, TestContext.Current.CancellationToken);

        await _deactivating.CancelAsync();
        await _cutOff.CancelAsync();

        await FluentActions.Awaiting(() => running.WaitAsync(Deadline, TestContext.Current.CancellationToken))
            .Should().ThrowAsync<OperationCanceledException>();
    }

    [Fact]
    public async Task Step_ExecutorThrows_FailsTheStepWithTheMessage()
    {
        _blocking.ThrowOnStart = new InvalidOperationException("broken executor");

        var result = await Run(new TransformNode("t", null!)).WaitAsync(Deadline, TestContext.Current.CancellationToken);

        result.Outcome.Should().Be(new StepOutcome.Failed("broken executor"));
    }

    [Fact]
    public async Task Step_Retry_SavesTheAttemptsSoFarFirst_AndTheResultKeepsOnlyTheRest()
    {
        var saved = new List<IReadOnlyList<HttpAttempt>>();
        _blocking.RetryOnce = true;

        var result = await _runner.RunAsync(Guid.NewGuid(), new TransformNode("t", null!), new JObject(), _time.GetUtcNow(), Signals, attempts =>
            {
                saved.Add(attempts);
                _blocking.Finish();
                return Task.CompletedTask;
            })
            .WaitAsync(Deadline, TestContext.Current.CancellationToken);

        result.Outcome.Should().BeOfType<StepOutcome.Succeeded>();
        saved.Should().ContainSingle().Which.Select(a => a.Attempt).Should().Equal([1]);
        result.Attempts.Select(a => a.Attempt).Should().Equal([2], "attempt 1 was saved before the retry and must not be recorded twice");
    }

    [Fact]
    public async Task Step_SavingAttemptsFails_ThrowsThatErrorInsteadOfFailingTheStep()
    {
        _blocking.RetryOnce = true;
        var stale = new InvalidOperationException("another activation wrote the run");

        var running = _runner.RunAsync(Guid.NewGuid(), new TransformNode("t", null!), new JObject(), _time.GetUtcNow(), Signals, _ => Task.FromException(stale));

        (await running.Awaiting(r => r.WaitAsync(Deadline, TestContext.Current.CancellationToken)).Should().ThrowAsync<InvalidOperationException>())
            .Which.Should().BeSameAs(stale, "the run decides what a failed save means; the step did not fail");
    }

    public void Dispose()
    {
        _metrics.Dispose();
        _services.Dispose();
        _runCanceled.Dispose();
        _siloStopping.Dispose();
        _cutOff.Dispose();
        _deactivating.Dispose();
    }

    private Task<StepResult> Run(WorkflowNode node) =>
        _runner.RunAsync(Guid.NewGuid(), node, new JObject(), _time.GetUtcNow(), Signals);

    /// <summary>Stands in for the transform executor: reports one attempt, then waits until finished or cancelled.</summary>
    private sealed class BlockingExecutor : IStepExecutor
    {
        private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _finish = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string NodeType => TransformNode.TypeName;

        public Exception? ThrowOnStart { get; set; }

        /// <summary>After the first attempt, announce a retry and report a second attempt.</summary>
        public bool RetryOnce { get; set; }

        public Task Started => _started.Task;

        public void Finish() => _finish.TrySetResult();

        public async Task<StepOutcome> ExecuteAsync(StepInvocation invocation, CancellationToken cancellationToken)
        {
            if (ThrowOnStart is { } e)
            {
                throw e;
            }

            invocation.Observer.OnHttpAttempt(new HttpAttempt(1, 503, null, TimeSpan.FromMilliseconds(3)));
            if (RetryOnce)
            {
                await invocation.Observer.BeforeRetryAsync();
                invocation.Observer.OnHttpAttempt(new HttpAttempt(2, 200, null, TimeSpan.FromMilliseconds(3)));
            }

            _started.TrySetResult();
            await _finish.Task.WaitAsync(cancellationToken);
            return new StepOutcome.Succeeded(JValue.CreateNull());
        }
    }
}
