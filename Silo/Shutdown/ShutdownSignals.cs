using System.Runtime.InteropServices;

namespace MeshHook.Silo.Shutdown;

/// <summary>
/// Counts SIGTERM and SIGINT. The first one is the host's: it starts the graceful stop. A second one during the
/// stop forces it: steps in flight are cut off at once (and saved as interrupted), the rest of the sequence still runs.
/// </summary>
public sealed partial class ShutdownSignals(ShutdownCoordinator coordinator, ILogger<ShutdownSignals> logger) : IHostedService, IDisposable
{
    private readonly List<PosixSignalRegistration> _registrations = [];
    private int _signals;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal));
        _registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal));
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }
    }

    private void OnSignal(PosixSignalContext context)
    {
        // The host's own handler (registered too) turns the first signal into a graceful stop.
        if (Interlocked.Increment(ref _signals) >= 2)
        {
            LogSecondSignal(context.Signal.ToString());
            coordinator.Force();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Second {Signal} during shutdown: forcing the drain")]
    private partial void LogSecondSignal(string signal);
}
