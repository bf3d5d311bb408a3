using MeshHook.Grains.Definitions;
using MeshHook.Grains.Draining;
using MeshHook.Grains.Steps;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Storage;

namespace MeshHook.Grains.Runs;

/// <summary>
/// One workflow run. Executes the DAG one step at a time and checkpoints before every step with an effect outside the
/// run (http_call) or a durable wait (delay), and at the end (see <see cref="StartsWithCheckpoint"/>): a checkpoint appends
/// the run's new events to workflow_events and updates workflow_runs in one transaction (<see cref="RunStorage"/>), and
/// an activation rebuilds the run from them. While unfinished the run holds a reminder, so it always comes back: the
/// checkpoints write its row themselves (sql/0105), and Orleans' reminder service reads it from the table.
/// </summary>
/// <remarks>
/// Placed on the silo that first calls it (a gateway silo, the reminder's silo, the recovery sweep's silo), or on a
/// random active silo when that one is stopping (hand-off) or the caller is a client. Orleans' default
/// (resource-optimized) placement sends new activations to the least loaded silo, which after a crash is a silo just
/// started: it took 310 of a killed silo's 332 runs in the scale-in benchmark and activated them cold, 0.5–2.8 s
/// each. The recovery sweep already splits a dead silo's runs evenly among the survivors by run id.
/// </remarks>
[Orleans.Placement.PreferLocalPlacement]
public sealed partial class WorkflowRunGrain(
    [PersistentState("run", WorkflowRunGrain.StorageName)] IPersistentState<RunState> state,
    WorkflowCache workflows,
    StepRunner runner,
    RunCheckpointer checkpointer,
    RunMetrics metrics,
    RunWakeUps wakeUps,
    SiloDrain drain,
    IClusterMembershipService membership,
    ILocalSiloDetails silo,
    TimeProvider time,
    ILogger<WorkflowRunGrain> logger) : Grain, IWorkflowRunGrain, IRemindable
{
    /// <summary>The grain storage provider the run state lives in.</summary>
    public const string StorageName = "runs";

    /// <summary>The reminder every unfinished run holds.</summary>
    public const string ReminderName = "meshhook-run";

    private RunRecord? _record;
    private RunProgress? _progress;
    private Task? _loop;
    private CancellationTokenSource _lifetime = new();
    // Cancelled by CancelAsync; every step runs under it, including one about to start.
    private readonly CancellationTokenSource _userCancel = new();
    // Another activation wrote the run past this one's view: this one writes nothing more and hands nothing off.
    private bool _stale;

    // What callers see of the run: only what is checkpointed, so a view never runs ahead of Postgres.
    private (RunStatus Status, string? OutputJson, string? Error) _visible;

    private Guid RunId => this.GetPrimaryKey();

    private RunState Run => state.State;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // Read with the run's history by RunStorage, or brought along by a migration (then nothing is read).
        _record = Run.Record;
        if (_record is null)
        {
            // Nothing to run; the caller gets RunNotFoundException (see EnsureExists).
            return Task.CompletedTask;
        }

        _progress = new RunProgress(Run, workflows.Get(_record), _record, time);
        _visible = Run.Initialized ? (Run.Status, Run.OutputJson, Run.Error) : (_record.Status, null, null);
        if (Run.Initialized && !Run.Status.IsFinished())
        {
            if (_progress.Resume(silo.Name, silo.SiloAddress.ToString()) is { } suspended)
            {
                metrics.RunRecovered(suspended);
            }

            LogResumed(RunId, silo.Name);
            // On a draining silo the run does not start: its deactivation hands it to a survivor.
            EnsureLoop();
        }

        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        var unfinished = _record is not null && Run.Initialized && !Run.Status.IsFinished();
        if (reason.ReasonCode == DeactivationReasonCode.ShuttingDown && unfinished)
        {
            await HandOffAsync(cancellationToken);
            return;
        }

        // The step in flight is cut off; it has not been checkpointed, so it runs again on the next activation.
        await _lifetime.CancelAsync();
        if (_loop is { IsCompleted: false } loop)
        {
            await loop.WaitAsync(cancellationToken).ContinueWith(_ => { }, TaskScheduler.Current);
        }

        _lifetime.Dispose();
        _userCancel.Dispose();
        if (unfinished && reason.ReasonCode != DeactivationReasonCode.ShuttingDown)
        {
            // Nothing may leave a run parked: come back at once rather than at the next reminder tick.
            LogDeactivatedUnfinished(RunId, reason.ReasonCode.ToString());
            wakeUps.Schedule(RunId);
        }
    }

    public async Task StartAsync()
    {
        var record = EnsureExists();
        if (Run.Status.IsFinished() || record.Status.IsFinished())
        {
            await SaveFinishedAsync();
            return;
        }

        if (!Run.Initialized)
        {
            // No reminder yet: the run's first checkpoint writes it. Until then the run is queued in Postgres, which the
            // recovery sweep covers, and its steps are pure: running them again is harmless.
            _progress!.Begin();
            LogStarted(RunId, record.Slug, record.Version);
        }

        EnsureLoop();
    }

    public Task<RunView> GetViewAsync() => Task.FromResult(_progress!.View(EnsureExists(), _visible));

    public async Task<RunView> CancelAsync()
    {
        var record = EnsureExists();
        if (!Run.Status.IsFinished())
        {
            await _userCancel.CancelAsync();
            if (_loop is { IsCompleted: false } loop)
            {
                await loop;
            }
            else
            {
                _progress!.Cancel(nodeId: null);
                await CompleteAsync();
            }
        }

        return _progress!.View(record, _visible);
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (_record is null || Run.Status.IsFinished())
        {
            // Its final checkpoint deletes the row, but Orleans' reminder service holds what it read until its next
            // read of the table: a tick may still come. A row left behind (the run is gone) must go, or it ticks forever.
            await SaveFinishedAsync();
            if (_record is null || IsSaved)
            {
                await RemoveLeftoverReminderAsync();
            }

            return;
        }

        // A tick means the run must be making progress: start it if it never was, resume it otherwise.
        await StartAsync();
    }

    /// <summary>
    /// The silo stops: let the step in flight finish (or be interrupted at the drain limit), save everything,
    /// and move the run to a survivor, where it resumes at once. With no survivor it stays saved and resumes
    /// when a silo starts (start-up sweep) or at its next reminder tick.
    /// </summary>
    private async Task HandOffAsync(CancellationToken deactivationToken)
    {
        if (_loop is { IsCompleted: false } loop)
        {
            try
            {
                await loop.WaitAsync(deactivationToken);
            }
            catch (OperationCanceledException)
            {
                // Deactivation is out of time: cut the step off; it was not checkpointed and runs again elsewhere.
                await _lifetime.CancelAsync();
            }
        }

        if (Run.Status.IsFinished() || _stale)
        {
            // The step in flight was the run's last (or it failed): the run ended during the drain, and its terminal
            // event must stay the last of its history. Or another activation owns the run. Nothing to hand off.
            return;
        }

        var survivor = membership.CurrentSnapshot.Members.Values
            .Any(m => m.Status == SiloStatus.Active && !m.SiloAddress.Equals(silo.SiloAddress));
        _progress!.HandOff(silo.Name, survivor);
        try
        {
            // Postgres may be restarting: keep trying for as long as the hand-off may take.
            await CheckpointAsync(deactivationToken);
        }
        catch (InconsistentStateException e)
        {
            // Another activation owns the run: it goes on there, and this stale state must not travel anywhere.
            LogStaleActivation(e, RunId);
            return;
        }
        catch (Exception e)
        {
            // The last checkpoint stands; the run resumes from it wherever it is activated next.
            LogHandOffSaveFailed(e, RunId);
        }

        drain.RunHandedOff();
        LogHandedOff(RunId, survivor ? "a surviving silo" : "storage (no other silo is active)");
        if (survivor)
        {
            // The state travels in memory with the migration; the new activation resumes the run right away.
            this.MigrateOnIdle();
        }
    }

    private RunRecord EnsureExists()
    {
        if (_record is null)
        {
            // Nothing lives here: let the activation go once this call has its answer.
            this.DeactivateOnIdle();
            throw new RunNotFoundException(RunId);
        }

        return _record;
    }

    private void EnsureLoop()
    {
        if (_loop is { IsCompleted: false } || Run.Status.IsFinished() || _lifetime.IsCancellationRequested || drain.IsDraining)
        {
            return;
        }

        // An unfinished run is never idle, even while it waits on a long delay or a slow peer.
        this.DelayDeactivation(Timeout.InfiniteTimeSpan);
        _loop = RunLoopAsync(_lifetime.Token);
    }

    private async Task RunLoopAsync(CancellationToken lifetime)
    {
        // Let the call that started the loop return first; the loop then interleaves with grain calls at its awaits.
        await Task.Yield();
        var progress = _progress!;
        try
        {
            while (!Run.Status.IsFinished())
            {
                if (_userCancel.IsCancellationRequested)
                {
                    progress.Cancel(nodeId: null);
                    await CompleteAsync();
                    return;
                }

                lifetime.ThrowIfCancellationRequested();
                if (progress.NextStep() is not { } node)
                {
                    progress.Succeed();
                    await CompleteAsync();
                    return;
                }

                if (!drain.TryEnterStep())
                {
                    // The silo drains: start nothing new. The hand-off saves what the last step did, in one write, and moves the run on.
                    return;
                }

                var end = await RunStepAsync(node, progress.StartStep(node), lifetime);
                switch (end)
                {
                    case StepEnd.Finished:
                        await CompleteAsync();
                        return;
                    case StepEnd.Suspended or StepEnd.Interrupted:
                        // Saved by the hand-off together with run_handed_off: one write per run while the silo is short of time.
                        return;
                }
            }
        }
        catch (OperationCanceledException) when (lifetime.IsCancellationRequested)
        {
            // Deactivating: what was not checkpointed runs again on the next activation.
        }
        catch (InconsistentStateException e)
        {
            // Another activation wrote this run's state; this one is stale and must not write again.
            _stale = true;
            LogStaleActivation(e, RunId);
            this.DeactivateOnIdle();
        }
        catch (Exception e)
        {
            // Postgres unreachable after retries, or a bug: stop here; the reminder or the sweep brings the run back.
            LogLoopFailed(e, RunId);
            this.DeactivateOnIdle();
        }
    }

    /// <summary>Runs one started step (saving its start first when it needs that) and records how it ended.</summary>
    private async Task<StepEnd> RunStepAsync(WorkflowNode node, StepState step, CancellationToken lifetime)
    {
        StepResult result;
        try
        {
            if (StartsWithCheckpoint(node))
            {
                // One write commits the steps since the last checkpoint together with this step's start.
                await CheckpointAsync();
                if (drain.IsDraining)
                {
                    // The drain began while the start was being saved: nothing has happened outside yet, so the step
                    // starts where the run resumes instead of holding up this silo.
                    _progress!.Suspend(node);
                    drain.ExitStep(StepExit.Suspended);
                    return StepEnd.Suspended;
                }
            }

            var grain = TaskScheduler.Current;
            result = await runner.RunAsync(
                RunId, node, _progress!.Context, step.FirstStartedAt!.Value, StepSignalsFor(lifetime), attempts => SaveAttemptsAsync(node, attempts, grain));
        }
        catch
        {
            drain.ExitStep(StepExit.Interrupted);
            throw;
        }

        var end = _progress.Apply(node, result, silo.Name);
        drain.ExitStep(end switch
        {
            StepEnd.Suspended => StepExit.Suspended,
            StepEnd.Interrupted => StepExit.Interrupted,
            _ => StepExit.Finished,
        });
        switch (result.Outcome)
        {
            case StepOutcome.Interrupted interrupted:
                LogInterrupted(RunId, node.Id, interrupted.Reason);
                break;
            case StepOutcome.Failed failed:
                LogStepFailed(RunId, node.Id, failed.Error);
                break;
        }

        return end;
    }

    /// <summary>
    /// Whether a step starts only once its start is checkpointed: an http_call acts outside the run, and a delay's due
    /// time must survive a restart. The other steps are pure and quick: running one again after a crash is harmless, so
    /// their events go with the next checkpoint (before the next such step, or at the end). A side effect's success is
    /// therefore committed by the next checkpoint, with only pure steps between them.
    /// </summary>
    private static bool StartsWithCheckpoint(WorkflowNode node) => node is HttpCallNode or DelayNode;

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
                _progress!.RecordAttempts(node, attempts);
                await CheckpointAsync();
            },
            CancellationToken.None,
            TaskCreationOptions.None,
            grain).Unwrap();

    private StepSignals StepSignalsFor(CancellationToken lifetime) => new(
        RunCanceled: _userCancel.Token,
        SiloStopping: drain.DrainStarted,
        CutOff: drain.StepCancellation,
        CutOffReason: () => drain.CutOffReason ?? SiloDrain.DrainLimitReached,
        Deactivating: lifetime);

    /// <summary>The run has ended in memory: its final checkpoint, which also deletes its reminder row.</summary>
    private async Task CompleteAsync()
    {
        // Unwritten when Postgres stays out of reach past the retries: the reminder stays, and its next tick writes it.
        await CheckpointAsync();
        this.DelayDeactivation(TimeSpan.Zero);
        metrics.RunFinished(Run.Status);
        LogFinished(RunId, Run.Status.ToText());
    }

    private async Task RemoveLeftoverReminderAsync()
    {
        try
        {
            if (await this.GetReminder(ReminderName) is { } leftover)
            {
                await this.UnregisterReminder(leftover);
            }
        }
        catch (Exception e)
        {
            // It ticks again, and this is tried again then.
            LogReminderRemovalFailed(e, RunId);
        }
    }

    /// <summary>A run finished in memory whose final checkpoint failed (the sweep or the reminder lands here): write it now.</summary>
    private async Task SaveFinishedAsync()
    {
        if (_record is not null && Run.Status.IsFinished() && !IsSaved && _loop is not { IsCompleted: false })
        {
            await CheckpointAsync();
        }
    }

    /// <summary>Every event added is in Postgres, with the run's row.</summary>
    private bool IsSaved => Run.Pending.Count == 0;

    /// <summary>
    /// One checkpoint: the events added since the last one and the run's row, in one transaction (<see cref="RunStorage"/>),
    /// retried as <see cref="RunCheckpointer"/> says (during the hand-off, until <paramref name="handOffBudget"/> ends).
    /// </summary>
    private async Task CheckpointAsync(CancellationToken handOffBudget = default)
    {
        await checkpointer.WriteAsync(RunId, () => state.WriteStateAsync(), handOffBudget);
        _visible = (Run.Status, Run.OutputJson, Run.Error);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} started (workflow {Slug} v{Version})")]
    private partial void LogStarted(Guid runId, string slug, int version);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} resumed on silo {Silo}")]
    private partial void LogResumed(Guid runId, string silo);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} finished: {Status}")]
    private partial void LogFinished(Guid runId, string status);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId}: step {NodeId} failed: {Error}")]
    private partial void LogStepFailed(Guid runId, string nodeId, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId}: state was written by another activation; this one stops")]
    private partial void LogStaleActivation(Exception exception, Guid runId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Run {RunId}: execution stopped; the reminder or the recovery sweep resumes it")]
    private partial void LogLoopFailed(Exception exception, Guid runId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId}: step {NodeId} interrupted ({Reason}); it runs again with the same Idempotency-Key where the run resumes")]
    private partial void LogInterrupted(Guid runId, string nodeId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} handed off to {Target}")]
    private partial void LogHandedOff(Guid runId, string target);

    [LoggerMessage(Level = LogLevel.Error, Message = "Run {RunId}: could not save the hand-off; the run resumes from its last checkpoint")]
    private partial void LogHandOffSaveFailed(Exception exception, Guid runId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId}: could not remove the reminder left behind by the finished run")]
    private partial void LogReminderRemovalFailed(Exception exception, Guid runId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} deactivated while unfinished ({Reason}); bringing it back")]
    private partial void LogDeactivatedUnfinished(Guid runId, string reason);
}
