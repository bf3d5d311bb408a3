using Npgsql;

namespace MeshHook.Silo.Shutdown;

/// <summary>
/// Closes the silo's idle Postgres connections as soon as the silo no longer needs them: after Orleans has written
/// this silo's <c>Dead</c> row (the membership agent stops at stage 2001), in the silo's last stop stage. Both pools
/// close at once: Orleans' ADO.NET providers' (Npgsql's connection-string pools) and MeshHook's data source. Each
/// connection gets Postgres' Terminate message, so the server sees a clean disconnect rather than a client vanishing.
/// Without this, the data source closes its connections one by one when the host disposes it, and Npgsql closes the
/// other pool at process exit afterwards (0.25 s for Orleans' pool alone, measured once under load in the scale-in
/// benchmark). Anything that still asks for a connection afterwards simply opens a new one.
/// </summary>
public sealed partial class ConnectionTeardown(NpgsqlDataSource dataSource, ILogger<ConnectionTeardown> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    /// <summary>After RuntimeInitialize (2000), where the membership service stops; with Orleans' connection shutdown.</summary>
    public const int Stage = ServiceLifecycleStage.RuntimeInitialize - 1;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(ConnectionTeardown), Stage, _ => Task.CompletedTask, StopAsync);

    private async Task StopAsync(CancellationToken cancellationToken)
    {
        var started = TimeProvider.System.GetTimestamp();
        try
        {
            await Task.WhenAll(Task.Run(NpgsqlConnection.ClearAllPools, CancellationToken.None), Task.Run(dataSource.Clear, CancellationToken.None));
            LogClosed(TimeProvider.System.GetElapsedTime(started).TotalMilliseconds);
        }
        catch (Exception e)
        {
            // The host's disposal and Npgsql's own exit handler close what is left.
            LogFailed(e);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Shutdown: idle Postgres connections closed in {Ms} ms")]
    private partial void LogClosed(double ms);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shutdown: closing the idle Postgres connections failed; they close at exit")]
    private partial void LogFailed(Exception exception);
}
