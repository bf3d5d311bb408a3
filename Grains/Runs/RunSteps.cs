using MeshHook.Grains.Definitions;
using MeshHook.Grains.Draining;
using MeshHook.Grains.Steps;
using Microsoft.Extensions.Logging;

namespace MeshHook.Grains.Runs;

/// <summary>How a pass of <see cref="RunSteps.RunAsync"/> ended.</summary>
public enum RunPass
{
    /// <summary>The run ended in memory (succeeded, failed, terminated, canceled): its final checkpoint is due.</summary>
    Finished,

    /// <summary>The silo drains: a step was not started, suspended or cut off; the hand-off saves and moves the run.</summary>
    Paused,
}

/// <summary>
/// The run's algorithm in one activation: take the next step, checkpoint before it when it needs that, run it, record
/// how it ended, until the run ends or the silo drains. The grain around it owns the lifecycle: when this runs, the
/// final checkpoint, the hand-off, and what a stale activation or a failed write means.
/// </summary>
/// <param name="runId">The run.</param>
/// <param name="progress">The run's state and its transitions.</param>
/// <param name="runner">Runs one step.</param>
/// <param name="drain">This silo's drain: steps enter and leave it, and it cuts them off.</param>
/// <param name="siloName">This silo, for the history.</param>
/// <param name="checkpoint">The grain's checkpoint write; throws <c>InconsistentStateException</c> for a stale activation.</param>
/// <param name="runCanceled">Cancelled when the user cancels the run; every step runs under it.</param>
/// <param name="logger">The grain's logger.</param>
internal sealed class RunSteps(
    Guid runId,
    RunProgress progress,
    StepRunner runner,
    SiloDrain drain,
    string siloName,
    Func<Task> checkpoint,
    CancellationToken runCanceled,
    ILogger logger)
{
    /// <summary>Runs steps until the run ends in memory or the silo drains; must run on the grain's scheduler.</summary>
    /// <exception cref="OperationCanceledException">When <paramref name="lifetime"/> fired (the activation goes away).</exception>
    public async Task<RunPass> RunAsync(CancellationToken lifetime)
    {
        while (!progress.State.Status.IsFinished())
        {
            if (runCanceled.IsCancellationRequested)
            {
                progress.Cancel(nodeId: null);
                return RunPass.Finished;
            }

            lifetime.ThrowIfCancellationRequested();
            if (progress.NextStep() is not { } node)
            {
                progress.Succeed();
                return RunPass.Finished;
            }

            if (!drain.TryEnterStep())
            {
                // The silo drains: start nothing new. The hand-off saves what the last step did, in one write.
                return RunPass.Paused;
            }

            switch (await RunStepAsync(node, progress.StartStep(node), lifetime))
            {
                case StepEnd.Finished:
                    return RunPass.Finished;
                case StepEnd.Suspended or StepEnd.Interrupted:
                    // Saved by the hand-off together with run_handed_off: one write per run while the silo is short of time.
                    return RunPass.Paused;
            }
        }

        return RunPass.Finished;
    }

    /// <summary>
    /// Whether a step starts only once its start is checkpointed: an http_call acts outside the run, and a delay's due
    /// time must survive a restart. The other steps are pure and quick: running one again after a crash is harmless, so
    /// their events go with the next checkpoint (before the next such step, or at the end). A side effect's success is
    /// therefore committed by the next checkpoint, with only pure steps between them.
    /// </summary>
    internal static bool StartsWithCheckpoint(WorkflowNode node) => node is HttpCallNode or DelayNode;

    /// <summary>Runs one started step (saving its start first when it needs that) and records how it ended.</summary>
    private async Task<StepEnd> RunStepAsync(WorkflowNode node, StepState step, CancellationToken lifetime)
    {
        StepResult result;
        try
        {
            if (StartsWithCheckpoint(node))
            {
                // One write commits the steps since the last checkpoint together with this step's start.
                await checkpoint();
                if (drain.IsDraining)
                {
                    // The drain began while the start was being saved: nothing has happened outside yet, so the step
                    // starts where the run resumes instead of holding up this silo.
                    progress.Suspend(node);
                    drain.ExitStep(StepExit.Suspended);
                    return StepEnd.Suspended;
                }
            }

            var grain = TaskScheduler.Current;
            result = await runner.RunAsync(
                runId, node, progress.Context, step.FirstStartedAt!.Value, SignalsFor(lifetime), attempts => SaveAttemptsAsync(node, attempts, grain), step.Executions);
        }
        catch
        {
            drain.ExitStep(StepExit.Interrupted);
            throw;
        }

        var end = progress.Apply(node, result, siloName);
        drain.ExitStep(end switch
        {
            StepEnd.Suspended => StepExit.Suspended,
            StepEnd.Interrupted => StepExit.Interrupted,
            _ => StepExit.Finished,
        });
        switch (result.Outcome)
        {
            case StepOutcome.Interrupted interrupted:
                RunLog.Interrupted(logger, runId, node.Id, interrupted.Reason);
                break;
            case StepOutcome.Failed failed:
                RunLog.StepFailed(logger, runId, node.Id, failed.Error);
                break;
        }

        return end;
    }

    /// <summary>
    /// Before an http_call tries again, its attempts so far are checkpointed: an activation that another one has written
    /// past (two activations of a run during directory churn) is refused here, before it calls the peer again, rather
    /// than at its next checkpoint, after the extra call (soak bug 18). One write per retry, only for failing calls.
    /// The executor retries on a pool thread; the state is touched on the grain's scheduler.
    /// </summary>
    private Task SaveAttemptsAsync(WorkflowNode node, IReadOnlyList<HttpAttempt> attempts, TaskScheduler grain) =>
        Task.Factory.StartNew(
            async () =>
            {
                progress.RecordAttempts(node, attempts);
                await checkpoint();
            },
            CancellationToken.None,
            TaskCreationOptions.None,
            grain).Unwrap();

    private StepSignals SignalsFor(CancellationToken lifetime) => new(
        RunCanceled: runCanceled,
        SiloStopping: drain.DrainStarted,
        CutOff: drain.StepCancellation,
        CutOffReason: () => drain.CutOffReason ?? SiloDrain.DrainLimitReached,
        Deactivating: lifetime);
}
