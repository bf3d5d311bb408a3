using System.Diagnostics;
using System.Runtime.InteropServices;
using MeshHook.Silo.Shutdown;
using Npgsql;

namespace MeshHook.Silo.Hosting;

/// <summary>
/// The silo process's last step after a graceful stop (<c>MeshHook:Shutdown:FastExit</c>): closes every Postgres
/// connection with a proper goodbye, flushes the log and calls <c>_exit(2)</c>, skipping .NET's teardown.
/// Only for the process entry point: the in-process test cluster must not clear the process-wide pools.
/// </summary>
public static partial class FastExit
{
    /// <summary>Whether this platform can end the process this way.</summary>
    public static bool IsSupported => OperatingSystem.IsLinux();

    /// <summary>Closes connections, flushes logs and ends the process with <paramref name="exitCode"/>; does not return.</summary>
    public static async Task CloseAndExitAsync(IServiceProvider services, int exitCode)
    {
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("MeshHook.Silo.Shutdown.FastExit");
        var closing = Stopwatch.GetTimestamp();
        try
        {
            // The engine's own pool, then Orleans' providers' pools (Npgsql keeps those process-wide, keyed by
            // connection string). Idle connections get a Terminate message, so Postgres logs an orderly
            // disconnection, not a client vanishing; nothing is in use any more once the host has stopped.
            await services.GetRequiredService<NpgsqlDataSource>().DisposeAsync();
            NpgsqlConnection.ClearAllPools();
            LogExiting(logger, Stopwatch.GetElapsedTime(closing).TotalMilliseconds, services.GetRequiredService<ShutdownCoordinator>().SinceStopBegan.TotalMilliseconds);
        }
        catch (Exception e)
        {
            // Whatever failed here, the state is already saved; the kernel closes the sockets.
            LogCloseFailed(logger, e);
        }

        // The console logger writes from a queue on its own thread: disposing the providers drains it.
        foreach (var provider in services.GetServices<ILoggerProvider>())
        {
            provider.Dispose();
        }

        await Console.Out.FlushAsync();
        await Console.Error.FlushAsync();
        Exit(exitCode);
    }

    [LibraryImport("libc", EntryPoint = "_exit")]
    private static partial void Exit(int status);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Shutdown: Postgres connections closed in {CloseMs} ms; exiting {TotalMs} ms after the stop began")]
    private static partial void LogExiting(ILogger logger, double closeMs, double totalMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shutdown: closing Postgres connections failed; exiting anyway")]
    private static partial void LogCloseFailed(ILogger logger, Exception exception);
}
