using Microsoft.Extensions.Logging;

namespace MeshHook.Grains.Runs;

/// <summary>
/// Brings a run back right after its activation went away while it was unfinished (idle collection, directory
/// failure, memory pressure, an explicit deactivation), instead of leaving it to the next reminder tick.
/// </summary>
public sealed partial class RunWakeUps(IGrainFactory grains, ILogger<RunWakeUps> logger)
{
    private static readonly TimeSpan[] Backoff =
        [TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5)];

    /// <summary>Calls the run's StartAsync from outside the grain once its deactivation has finished; retries a few times.</summary>
    public void Schedule(Guid runId) => _ = Task.Run(() => WakeAsync(runId));

    private async Task WakeAsync(Guid runId)
    {
        foreach (var delay in Backoff)
        {
            // The call cannot reach a new activation before the old one has finished deactivating.
            await Task.Delay(delay);
            try
            {
                await grains.GetGrain<IWorkflowRunGrain>(runId).StartAsync();
                return;
            }
            catch (Exception e)
            {
                LogWakeUpFailed(e, runId);
            }
        }

        // The reminder still brings the run back.
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId}: could not bring the run back after its deactivation; the reminder will")]
    private partial void LogWakeUpFailed(Exception exception, Guid runId);
}
