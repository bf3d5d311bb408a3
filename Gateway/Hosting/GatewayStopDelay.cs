using Microsoft.Extensions.Options;

namespace MeshHook.Gateway.Hosting;

/// <summary>
/// Keeps the server answering for <see cref="GatewayOptions.StopDelay"/> after SIGTERM, before Kestrel stops.
/// Kestrel's stop closes idle kept-alive HTTP/1.1 connections at once; a client that sends a request on one at that
/// moment gets no answer at all, and without an <c>Idempotency-Key</c> it cannot tell whether its webhook was stored.
/// During the delay readiness answers 503 (load balancers move away) and every answer says <c>Connection: close</c>
/// (<see cref="CloseConnectionsWhileStopping"/>), so clients leave their connections while the server still answers.
/// </summary>
/// <remarks>
/// <see cref="IHostedLifecycleService.StoppingAsync"/> runs before any hosted service's <c>StopAsync</c>, Kestrel's
/// included; the delay counts against the host's ShutdownTimeout.
/// </remarks>
public sealed partial class GatewayStopDelay(IOptions<GatewayOptions> options, IHostApplicationLifetime lifetime, ILogger<GatewayStopDelay> logger)
    : IHostedLifecycleService
{
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        // A SIGTERM signals ApplicationStopping before the host stops; a direct StopAsync (an embedding host) runs this
        // before signalling it. Readiness and the Connection: close answers key on the signal, so it is given here.
        lifetime.StopApplication();
        var delay = options.Value.StopDelay;
        if (delay <= TimeSpan.Zero)
        {
            return;
        }

        LogDelaying(logger, delay.TotalSeconds);
        try
        {
            await Task.Delay(delay, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // The host's shutdown timeout ran out (or a second signal): stop now.
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Stopping: answering with 'Connection: close' for {Seconds} s before the server stops")]
    private static partial void LogDelaying(ILogger logger, double seconds);
}

/// <summary>From the moment the gateway begins to stop, every answer closes its connection (see <see cref="GatewayStopDelay"/>).</summary>
public static class CloseConnectionsWhileStopping
{
    public static IApplicationBuilder UseCloseConnectionsWhileStopping(this IApplicationBuilder app)
    {
        var stopping = app.ApplicationServices.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        return app.Use((context, next) =>
        {
            if (stopping.IsCancellationRequested)
            {
                context.Response.Headers.Connection = "close";
            }

            return next(context);
        });
    }
}
