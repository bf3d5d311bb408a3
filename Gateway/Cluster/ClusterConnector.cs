namespace MeshHook.Gateway.Cluster;

/// <summary>
/// Starts the Orleans client in the background (the host does not wait for a cluster), and stops it only after
/// the web server has finished its in-flight requests (<see cref="IHostedLifecycleService.StoppedAsync"/>), so
/// requests accepted before SIGTERM can still reach the grains.
/// </summary>
public sealed partial class ClusterConnector(IClusterClient client, ClusterConnectionStatus status, ILogger<ClusterConnector> logger)
    : BackgroundService, IHostedLifecycleService
{
    private readonly IHostedService _client = (IHostedService)client;
    private int _stopped;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        LogConnecting(logger);
        try
        {
            await _client.StartAsync(stoppingToken);
            status.MarkStarted();
            LogConnected(logger, status.ConnectedGateways);
        }
        catch (Exception e) when (stoppingToken.IsCancellationRequested)
        {
            LogGaveUp(logger, e.GetType().Name);
        }
        catch (Exception e)
        {
            // Not transient (the retry filter retries everything else): a configuration the client cannot use.
            LogFailed(logger, e);
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override Task StopAsync(CancellationToken cancellationToken) =>
        // Only ends a connection attempt still under way; the client itself stops in StoppedAsync.
        base.StopAsync(cancellationToken);

    public async Task StoppedAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1)
        {
            return;
        }

        status.MarkStopped();
        try
        {
            await _client.StopAsync(cancellationToken);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogStopFailed(logger, e.GetType().Name);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Connecting to the Orleans cluster through the Postgres membership table")]
    private static partial void LogConnecting(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "Connected to the Orleans cluster ({Gateways} gateway connection(s))")]
    private static partial void LogConnected(ILogger logger, int gateways);

    [LoggerMessage(Level = LogLevel.Information, Message = "Stopped before the cluster connection was made ({ExceptionType})")]
    private static partial void LogGaveUp(ILogger logger, string exceptionType);

    [LoggerMessage(Level = LogLevel.Error, Message = "The Orleans client could not start; grain calls will answer 503")]
    private static partial void LogFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The Orleans client did not stop cleanly ({ExceptionType})")]
    private static partial void LogStopFailed(ILogger logger, string exceptionType);
}
