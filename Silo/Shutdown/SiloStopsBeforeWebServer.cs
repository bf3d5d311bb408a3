namespace MeshHook.Silo.Shutdown;

/// <summary>
/// Runs the silo's graceful stop in the host's "stopping" phase, before any hosted service stops. Without it the
/// host stops the web server first (it is registered last, and services stop in reverse order), so
/// <c>/health/ready</c> and <c>/metrics</c> would vanish for the whole drain instead of answering 503.
/// Orleans' own hosted service later finds the silo already stopped (its stop is idempotent). Before the silo's stop
/// begins, peers that were killed moments ago are declared dead (<see cref="DeadPeerCheck"/>), which Orleans accepts
/// only from a silo that is not stopping yet.
/// </summary>
public sealed class SiloStopsBeforeWebServer(Orleans.Runtime.Silo silo, DeadPeerCheck peerCheck) : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        await peerCheck.DeclareRefusingPeersDeadAsync(cancellationToken);
        await silo.StopAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
