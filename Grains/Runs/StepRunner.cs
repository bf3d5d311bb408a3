using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using MeshHook.Grains.Definitions;
using MeshHook.Grains.Steps;
using Newtonsoft.Json.Linq;

namespace MeshHook.Grains.Runs;

/// <summary>What may stop a step, each on its own token, and why it was cut off.</summary>
/// <param name="RunCanceled">The user canceled the run: the step ends as <see cref="StepOutcome.Canceled"/>.</param>
/// <param name="SiloStopping">The silo started to drain: durable waits suspend, other steps run on.</param>
/// <param name="CutOff">The drain limit passed or the stop was forced: the step ends as <see cref="StepOutcome.Interrupted"/>.</param>
/// <param name="CutOffReason">Why <paramref name="CutOff"/> fired, read once it has.</param>
/// <param name="Deactivating">The activation goes away: nothing is recorded, the exception propagates.</param>
public sealed record StepSignals(
    CancellationToken RunCanceled,
    CancellationToken SiloStopping,
    CancellationToken CutOff,
    Func<string> CutOffReason,
    CancellationToken Deactivating);

/// <summary>How one execution of a step ended, with the HTTP attempts it made on the way.</summary>
public sealed record StepResult(StepOutcome Outcome, IReadOnlyList<HttpAttempt> Attempts);

/// <summary>
/// Runs one execution of a step: picks its executor, passes it the signals that may stop it, and turns each way of
/// stopping into an outcome. The grain gets an answer for every case except its own deactivation, and never has to
/// work out from flags why a step ended.
/// </summary>
public sealed class StepRunner(StepExecutors executors, RunMetrics metrics, TimeProvider time)
{
    /// <param name="runId">The run.</param>
    /// <param name="node">The step to run.</param>
    /// <param name="context">The run context.</param>
    /// <param name="firstStartedAt">When the step first started, as checkpointed.</param>
    /// <param name="signals">What may stop the step.</param>
    /// <param name="saveAttempts">
    /// Called before an HTTP retry with the attempts not handed out yet (those are then not in the result). Whatever it
    /// throws ends the step and is thrown from here as it was: it is the run's problem, not a failure of the step.
    /// </param>
    /// <param name="execution">Which start of the step this is (1, then 2 after an interruption...), for its span.</param>
    /// <exception cref="OperationCanceledException">When <see cref="StepSignals.Deactivating"/> fired.</exception>
    public async Task<StepResult> RunAsync(
        Guid runId,
        WorkflowNode node,
        JObject context,
        DateTimeOffset firstStartedAt,
        StepSignals signals,
        Func<IReadOnlyList<HttpAttempt>, Task>? saveAttempts = null,
        int execution = 1)
    {
        var attempts = new AttemptRecorder(saveAttempts);
        using var span = RunTracing.StartStep(runId, node, execution);
        var started = time.GetTimestamp();
        StepOutcome? outcome = null;
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(signals.Deactivating, signals.RunCanceled, signals.CutOff);
        try
        {
            var invocation = new StepInvocation(runId, node, context, firstStartedAt, attempts, signals.SiloStopping);
            outcome = await executors.For(node.Type).ExecuteAsync(invocation, cancellation.Token);
        }
        catch (Exception e) when (e is AttemptsNotSavedException or StepStoreException)
        {
            // The engine's store failed (saving attempts, reading secrets): the run's problem, thrown as it was, as a
            // failed checkpoint is, not a failure of the step.
            ExceptionDispatchInfo.Throw(e.InnerException!);
            throw;
        }
        catch (OperationCanceledException) when (signals.Deactivating.IsCancellationRequested)
        {
            throw;
        }
        catch (OperationCanceledException) when (signals.RunCanceled.IsCancellationRequested)
        {
            outcome = new StepOutcome.Canceled();
        }
        catch (OperationCanceledException) when (signals.CutOff.IsCancellationRequested)
        {
            outcome = new StepOutcome.Interrupted(signals.CutOffReason());
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // An executor bug or an unexpected library error fails this step, not the run loop.
            outcome = new StepOutcome.Failed(e.Message);
        }
        finally
        {
            metrics.StepFinished(node.Type, MetricName(outcome), time.GetElapsedTime(started));
            span?.SetTag("meshhook.outcome", MetricName(outcome));
            span?.SetTag("meshhook.attempts", attempts.Count);
            if (outcome is StepOutcome.Failed)
            {
                span?.SetStatus(System.Diagnostics.ActivityStatusCode.Error);
            }
        }

        return new StepResult(outcome, attempts.Drain());
    }

    private static string MetricName(StepOutcome? outcome) => outcome switch
    {
        StepOutcome.Succeeded or StepOutcome.Terminated => "succeeded",
        StepOutcome.Failed => "failed",
        StepOutcome.Suspended => "suspended",
        StepOutcome.Interrupted => "interrupted",
        _ => "canceled",
    };

    /// <summary>Collects HTTP attempts from the executor, which may report from any thread, and saves them before a retry.</summary>
    private sealed class AttemptRecorder(Func<IReadOnlyList<HttpAttempt>, Task>? save) : IStepObserver
    {
        private readonly ConcurrentQueue<HttpAttempt> _attempts = new();

        private int _count;

        /// <summary>HTTP attempts reported so far, handed out or not.</summary>
        public int Count => Volatile.Read(ref _count);

        public void OnHttpAttempt(HttpAttempt attempt)
        {
            Interlocked.Increment(ref _count);
            _attempts.Enqueue(attempt);
        }

        public async Task BeforeRetryAsync()
        {
            if (save is null)
            {
                return;
            }

            try
            {
                await save(Drain());
            }
            catch (Exception e)
            {
                // Through the executor, which must not take it for a failed request.
                throw new AttemptsNotSavedException(e);
            }
        }

        public HttpAttempt[] Drain()
        {
            var drained = new List<HttpAttempt>();
            while (_attempts.TryDequeue(out var attempt))
            {
                drained.Add(attempt);
            }

            return [.. drained];
        }
    }

    /// <summary>Carries the failure of <c>saveAttempts</c> out of the executor, to be thrown as it was.</summary>
    private sealed class AttemptsNotSavedException(Exception inner) : Exception("saving the HTTP attempts before a retry failed", inner);
}
