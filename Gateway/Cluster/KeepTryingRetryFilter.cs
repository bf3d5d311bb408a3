namespace MeshHook.Gateway.Cluster;

/// <summary>
/// Makes the Orleans client retry its connection until a silo gateway answers or the gateway stops (Orleans'
/// default gives up after 15 attempts). Backs off from 0.5 s to 5 s between attempts.
/// </summary>
public sealed partial class KeepTryingRetryFilter(ILogger<KeepTryingRetryFilter> logger) : IClientConnectionRetryFilter
{
    private int _attempt;

    public async Task<bool> ShouldRetryConnectionAttempt(Exception exception, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return false;
        }

        var attempt = Interlocked.Increment(ref _attempt);
        var delay = TimeSpan.FromMilliseconds(Math.Min(5_000, 500 * Math.Pow(2, Math.Min(attempt - 1, 4))));
        LogRetrying(logger, attempt, delay.TotalSeconds, exception.GetType().Name, exception.Message);
        try
        {
            await Task.Delay(delay, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }

        return true;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "No silo gateway reachable yet (attempt {Attempt}, {ExceptionType}: {Reason}); retrying in {DelaySeconds} s")]
    private static partial void LogRetrying(ILogger logger, int attempt, double delaySeconds, string exceptionType, string reason);
}
