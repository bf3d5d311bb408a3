using System.Globalization;
using MeshHook.Grains.Definitions;
using Microsoft.Extensions.Logging;
using Newtonsoft.Json.Linq;

namespace MeshHook.Grains.Steps;

/// <summary>
/// Runs delay nodes as a durable wait: the due time is <see cref="StepInvocation.FirstStartedAt"/> plus the
/// node's duration, so a step resumed after a restart only waits for what is left (nothing if already due).
/// </summary>
public sealed partial class DelayExecutor(TimeProvider timeProvider, ILogger<DelayExecutor> logger) : IStepExecutor
{
    // Task.Delay refuses waits beyond ~49.7 days; longer delays wait in slices and re-read the clock.
    private static readonly TimeSpan MaxSlice = TimeSpan.FromDays(1);

    public string NodeType => DelayNode.TypeName;

    public async Task<StepOutcome> ExecuteAsync(StepInvocation invocation, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(invocation);
        cancellationToken.ThrowIfCancellationRequested();
        var node = invocation.NodeAs<DelayNode>();

        var due = invocation.FirstStartedAt + node.Duration;
        var remaining = due - timeProvider.GetUtcNow();
        if (remaining > TimeSpan.Zero)
        {
            LogWaiting(logger, invocation.RunId, node.Id, due, remaining.TotalMilliseconds);
        }

        if (remaining > TimeSpan.Zero)
        {
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, invocation.SiloStopping);
            try
            {
                while (remaining > TimeSpan.Zero)
                {
                    await Task.Delay(remaining < MaxSlice ? remaining : MaxSlice, timeProvider, wait.Token);
                    remaining = due - timeProvider.GetUtcNow();
                }
            }
            catch (OperationCanceledException) when (invocation.SiloStopping.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                // A durable wait holds nothing: it goes on, with the same due time, wherever the run resumes.
                return new StepOutcome.Suspended();
            }
        }

        var output = new JObject
        {
            ["waitedUntil"] = due.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
        };
        return new StepOutcome.Succeeded(output);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Delay {NodeId} of run {RunId} waits until {Due:O} ({RemainingMs} ms left)")]
    private static partial void LogWaiting(ILogger logger, Guid runId, string nodeId, DateTimeOffset due, double remainingMs);
}
