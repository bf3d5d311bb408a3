using Microsoft.Extensions.Logging;

namespace MeshHook.Grains.Runs;

/// <summary>The run grain's log lines, in one place, and the one reminder call the grain still makes.</summary>
internal static partial class RunLog
{
    /// <summary>
    /// The event name of the line a run logs right after its final checkpoint. The throughput benchmark listens for it
    /// to see runs end without polling (bench RunCompletions): keep it.
    /// </summary>
    public const string FinishedEventName = "RunFinished";

    /// <summary>
    /// A tick of a finished run: its final checkpoint deleted the reminder row, but Orleans' reminder service keeps what
    /// it read until its next read of the table. A row left behind (the run is gone) must go, or it ticks forever.
    /// </summary>
    public static async Task RemoveLeftoverReminderAsync(IGrainBase grain, Guid runId, ILogger logger)
    {
        try
        {
            if (await grain.GetReminder(WorkflowRunGrain.ReminderName) is { } leftover)
            {
                await grain.UnregisterReminder(leftover);
            }
        }
        catch (Exception e)
        {
            // It ticks again, and this is tried again then.
            ReminderRemovalFailed(logger, e, runId);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} started (workflow {Slug} v{Version})")]
    public static partial void Started(ILogger logger, Guid runId, string slug, int version);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} resumed on silo {Silo}")]
    public static partial void Resumed(ILogger logger, Guid runId, string silo);

    [LoggerMessage(EventName = FinishedEventName, Level = LogLevel.Information, Message = "Run {RunId} finished: {Status}")]
    public static partial void Finished(ILogger logger, Guid runId, string status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId}: state was written by another activation; this one stops")]
    public static partial void StaleActivation(ILogger logger, Exception exception, Guid runId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Run {RunId}: execution stopped; the reminder or the recovery sweep resumes it")]
    public static partial void LoopFailed(ILogger logger, Exception exception, Guid runId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} handed off to {Target}")]
    public static partial void HandedOff(ILogger logger, Guid runId, string target);

    [LoggerMessage(Level = LogLevel.Error, Message = "Run {RunId}: could not save the hand-off; the run resumes from its last checkpoint")]
    public static partial void HandOffSaveFailed(ILogger logger, Exception exception, Guid runId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId}: could not remove the reminder left behind by the finished run")]
    public static partial void ReminderRemovalFailed(ILogger logger, Exception exception, Guid runId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} deactivated while unfinished ({Reason}); bringing it back")]
    public static partial void DeactivatedUnfinished(ILogger logger, Guid runId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId}: step {NodeId} failed: {Error}")]
    public static partial void StepFailed(ILogger logger, Guid runId, string nodeId, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId}: step {NodeId} interrupted ({Reason}); it runs again with the same Idempotency-Key where the run resumes")]
    public static partial void Interrupted(ILogger logger, Guid runId, string nodeId, string reason);
}
