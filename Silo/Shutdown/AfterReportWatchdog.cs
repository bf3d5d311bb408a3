namespace MeshHook.Silo.Shutdown;

/// <summary>
/// Bounds what Orleans may still take after the silo's report is written (<c>MeshHook:Shutdown:AfterReportTimeout</c>).
/// By then every run is saved and handed off, the silo has told the cluster it is shutting down, and MeshHook has
/// nothing left to do; what remains are Orleans' own stages (storage, grain services, messaging, and the membership
/// row's final <c>Dead</c>), normally a few hundred milliseconds. One of them once held a stopping silo 24.7 s (soak
/// bug 20: <c>GrainCallCancellationManager</c> in <c>RuntimeGrainServices</c>) until the container killed it. Past
/// the limit the process exits 0 instead of waiting for the kill; peers see it as shutting down until failure
/// detection declares it dead, which costs them nothing, as it holds no run any more.
/// </summary>
public static partial class AfterReportWatchdog
{
    /// <summary>
    /// Waits for the report, then for the host to stop; if it has not stopped <paramref name="timeout"/> after the
    /// report, logs why and calls <paramref name="exit"/>. Returns whether it did. Never throws for a stop that ended.
    /// </summary>
    public static async Task<bool> WatchAsync(
        Task<ShutdownReport> report, Task hostStopped, TimeSpan timeout, Func<Task> exit, TimeProvider time, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(exit);
        if (await Task.WhenAny(report, hostStopped) == hostStopped)
        {
            return false;
        }

        var written = await report;
        if (hostStopped.IsCompleted)
        {
            return false;
        }

        try
        {
            await hostStopped.WaitAsync(timeout, time);
            return false;
        }
        catch (TimeoutException)
        {
            LogExiting(logger, timeout.TotalSeconds, written.Forced);
            await exit();
            return true;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Shutdown: Orleans' remaining stop stages have not ended {Seconds} s after the report (forced: {Forced}); " +
                  "exiting now. Every run is saved and handed off; peers see this silo as shutting down until failure detection declares it dead")]
    private static partial void LogExiting(ILogger logger, double seconds, bool forced);
}
