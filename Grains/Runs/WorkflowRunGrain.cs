using MeshHook.Grains.Draining;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Storage;

namespace MeshHook.Grains.Runs;

/// <summary>
/// One workflow run. Executes the DAG one step at a time and checkpoints before every step with an effect outside the
/// run (http_call) or a durable wait (delay), and at the end (see <see cref="RunSteps.StartsWithCheckpoint"/>): a checkpoint appends
/// the run's new events to workflow_events and updates workflow_runs in one transaction (<see cref="RunStorage"/>), and
/// an activation rebuilds the run from them. While unfinished the run holds a reminder, so it always comes back: the
/// checkpoints write its row themselves (sql/0105), and Orleans' reminder service reads it from the table.
/// </summary>
/// <remarks>
/// Placed on the silo that first calls it, so that after a crash each survivor activates the share of runs its recovery
/// sweep starts (Orleans' default placement put almost all of them on a silo just started: docs/graceful-shutdown.md).
/// </remarks>
[Orleans.Placement.PreferLocalPlacement]
public sealed class WorkflowRunGrain(
    [PersistentState("run", WorkflowRunGrain.StorageName)] IPersistentState<RunState> state,
    WorkflowCache workflows,
    StepRunner runner,
    RunCheckpointer checkpointer,
    RunMetrics metrics,
    RunWakeUps wakeUps,
    SiloDrain drain,
    IClusterMembershipService membership,
    ILocalSiloDetails silo,
    IOptions<RunOptions> options,
    TimeProvider time,
    ILogger<WorkflowRunGrain> logger) : Grain, IWorkflowRunGrain, IRemindable
{
    /// <summary>The grain storage provider the run state lives in.</summary>
    public const string StorageName = "runs";

    /// <summary>The reminder every unfinished run holds.</summary>
    public const string ReminderName = "meshhook-run";

    private RunProgress? _progress;
    private RunSteps? _steps;
    private Task? _loop;
    private CancellationTokenSource _lifetime = new();
    // Cancelled by CancelAsync; every step runs under it, including one about to start.
    private readonly CancellationTokenSource _userCancel = new();
    // Another activation wrote the run past this one's view: this one writes nothing more and hands nothing off.
    private bool _stale;

    private Guid RunId => this.GetPrimaryKey();

    private RunState Run => state.State;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // Read with the run's history by RunStorage, or brought along by a migration (then nothing is read). Without a
        // record there is nothing to run, and callers get RunNotFoundException (see Existing).
        if (Run.Record is { } record)
        {
            _progress = new RunProgress(Run, workflows.Get(record), record, time, options.Value);
            _steps = new RunSteps(RunId, _progress, runner, drain, silo.Name, () => CheckpointAsync(), _userCancel.Token, logger);
            if (Run.Initialized && !Run.Status.IsFinished())
            {
                metrics.RunRecovered(_progress.Resume(silo.Name, silo.SiloAddress.ToString()));
                RunLog.Resumed(logger, RunId, silo.Name);
                // On a draining silo the run does not start: its deactivation hands it to a survivor.
                EnsureLoop();
            }
        }

        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        var unfinished = _progress is not null && Run.Initialized && !Run.Status.IsFinished();
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
        if (unfinished)
        {
            // Nothing may leave a run parked: come back at once rather than at the next reminder tick.
            RunLog.DeactivatedUnfinished(logger, RunId, reason.ReasonCode.ToString());
            wakeUps.Schedule(RunId);
        }
    }

    public async Task StartAsync()
    {
        var progress = Existing();
        var record = Run.Record!;
        if (Run.Status.IsFinished() || record.Status.IsFinished())
        {
            await SaveFinishedAsync();
            return;
        }

        if (!Run.Initialized)
        {
            // No reminder yet: the run's first checkpoint writes it. Until then the run is queued in Postgres, which the
            // recovery sweep covers, and its steps are pure: running them again is harmless.
            progress.Begin();
            RunLog.Started(logger, RunId, record.Slug, record.Version);
        }

        EnsureLoop();
    }

    public Task<RunView> GetViewAsync() => Task.FromResult(Existing().View());

    public async Task<RunView> CancelAsync()
    {
        var progress = Existing();
        if (!Run.Status.IsFinished())
        {
            await _userCancel.CancelAsync();
            if (_loop is { IsCompleted: false } loop)
            {
                await loop;
            }
            else
            {
                progress.Cancel(nodeId: null);
                await CompleteAsync();
            }
        }

        return progress.View();
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (_progress is null || Run.Status.IsFinished())
        {
            // A late tick, or a row left behind: see RemoveLeftoverReminderAsync.
            await SaveFinishedAsync();
            if (_progress is null || _progress.IsSaved)
            {
                await RunLog.RemoveLeftoverReminderAsync(this, RunId, logger);
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

        var survivor = membership.CurrentSnapshot.Members.Values.Any(m => m.Status == SiloStatus.Active && !m.SiloAddress.Equals(silo.SiloAddress));
        using var span = RunTracing.StartHandOff(Run.Record!, silo.Name);
        span?.SetTag("meshhook.survivor", survivor);
        _progress!.HandOff(silo.Name, survivor);
        try
        {
            // Postgres may be restarting: keep trying for as long as the hand-off may take.
            await CheckpointAsync(deactivationToken);
        }
        catch (InconsistentStateException e)
        {
            // Another activation owns the run: it goes on there, and this stale state must not travel anywhere.
            RunLog.StaleActivation(logger, e, RunId);
            return;
        }
        catch (Exception e)
        {
            // The last checkpoint stands; the run resumes from it wherever it is activated next.
            RunLog.HandOffSaveFailed(logger, e, RunId);
        }

        drain.RunHandedOff();
        RunLog.HandedOff(logger, RunId, survivor ? "a surviving silo" : "storage (no other silo is active)");
        if (survivor)
        {
            // The state travels in memory with the migration; the new activation resumes the run right away.
            this.MigrateOnIdle();
        }
    }

    private RunProgress Existing()
    {
        if (_progress is null)
        {
            // Nothing lives here: let the activation go once this call has its answer.
            this.DeactivateOnIdle();
            throw new RunNotFoundException(RunId);
        }

        return _progress;
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
        // After a hand-off, a crash or a reminder tick, this pass joins the run's trace (its steps are children).
        using var span = RunTracing.StartResume(Run.Record!, silo.Name);
        try
        {
            if (await _steps!.RunAsync(lifetime) == RunPass.Finished)
            {
                await CompleteAsync();
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
            RunLog.StaleActivation(logger, e, RunId);
            this.DeactivateOnIdle();
        }
        catch (Exception e)
        {
            // Postgres unreachable after retries, or a bug: stop here; the reminder or the sweep brings the run back.
            RunLog.LoopFailed(logger, e, RunId);
            this.DeactivateOnIdle();
        }
    }

    /// <summary>
    /// The run has ended in memory: its final checkpoint, which also deletes its reminder row. Unwritten when Postgres
    /// stays out of reach past the retries: the reminder stays, and its next tick writes it.
    /// </summary>
    private async Task CompleteAsync()
    {
        await CheckpointAsync();
        this.DelayDeactivation(TimeSpan.Zero);
        metrics.RunFinished(Run.Status);
        RunLog.Finished(logger, RunId, Run.Status.ToText());
    }

    /// <summary>A run finished in memory whose final checkpoint failed (the sweep or the reminder lands here): write it now.</summary>
    private async Task SaveFinishedAsync()
    {
        if (_progress is not null && Run.Status.IsFinished() && !_progress.IsSaved && _loop is not { IsCompleted: false })
        {
            await CheckpointAsync();
        }
    }

    /// <summary>
    /// One checkpoint: the events added since the last one and the run's row, in one transaction (<see cref="RunStorage"/>),
    /// retried as <see cref="RunCheckpointer"/> says (during the hand-off, until <paramref name="handOffBudget"/> ends).
    /// </summary>
    private async Task CheckpointAsync(CancellationToken handOffBudget = default)
    {
        await checkpointer.WriteAsync(RunId, () => state.WriteStateAsync(), handOffBudget);
        _progress!.Checkpointed();
    }
}
