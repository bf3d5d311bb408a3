using System.Diagnostics;
using MeshHook.Grains.Draining;
using Microsoft.Extensions.Logging;
using Orleans.Storage;

namespace MeshHook.Grains.Runs;

/// <summary>
/// Owns the retries of a run's checkpoint write (<see cref="RunStorage"/> does the write itself). A failed write is
/// tried five times (about 3 s). While the silo drains it is tried until the drain limit, and during the hand-off until
/// the hand-off's budget ends: a Postgres restart during a drain must not cost a run the step it just did (left unsaved,
/// it would run again where the run resumes). A stale activation (<see cref="InconsistentStateException"/>) is never
/// retried: another activation owns the run.
/// </summary>
public sealed partial class RunCheckpointer(SiloDrain drain, TimeProvider time, ILogger<RunCheckpointer> logger)
{
    /// <summary>Attempts before a write fails when the silo is not draining.</summary>
    public const int Attempts = 5;

    /// <summary>Writes with <paramref name="write"/>, retrying as above; throws the last error when it gives up.</summary>
    /// <param name="runId">The run, for the log.</param>
    /// <param name="write">One attempt of the write.</param>
    /// <param name="handOffBudget">Set during the hand-off: retry until it is cancelled.</param>
    public async Task WriteAsync(Guid runId, Func<Task> write, CancellationToken handOffBudget = default)
    {
        using var span = RunTracing.StartCheckpoint(runId);
        for (var attempt = 1; ; attempt++)
        {
            span?.SetTag("meshhook.attempts", attempt);
            try
            {
                await write();
                return;
            }
            catch (Exception e) when (e is not InconsistentStateException && (attempt < Attempts || WithinDrainBudget(handOffBudget)))
            {
                if (attempt <= Attempts || attempt % 10 == 0)
                {
                    LogRetry(e, runId, attempt);
                }

                await Task.Delay(DelayAfter(attempt), time);
            }
            catch (Exception e)
            {
                // The type only: a message can quote a connection's parameters.
                span?.SetStatus(ActivityStatusCode.Error, e.GetType().Name);
                throw;
            }
        }
    }

    /// <summary>0.2, 0.4, 0.8, 1.6 s, then every second.</summary>
    internal static TimeSpan DelayAfter(int attempt) => TimeSpan.FromMilliseconds(attempt < Attempts ? 100 * (1 << attempt) : 1000);

    private bool WithinDrainBudget(CancellationToken handOffBudget) =>
        handOffBudget.CanBeCanceled
            ? !handOffBudget.IsCancellationRequested
            : drain.IsDraining && !drain.StepCancellation.IsCancellationRequested;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId}: checkpoint write failed (attempt {Attempt}); retrying")]
    private partial void LogRetry(Exception exception, Guid runId, int attempt);
}
