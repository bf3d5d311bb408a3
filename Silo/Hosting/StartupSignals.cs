using System.Runtime.InteropServices;

namespace MeshHook.Silo.Hosting;

/// <summary>
/// SIGTERM and SIGINT while the silo is still starting (preparing the schema, joining the cluster), before the host
/// listens for them. Without it the runtime's default ends the process with 143 mid-start; with it the start stops,
/// whatever already started is stopped the ordinary way, and the process exits 0: a pod scaled in or rolled while it
/// starts holds no run yet, so there is nothing to hand off. Disposed once the host has started and handles signals itself.
/// </summary>
public sealed class StartupSignals : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly List<PosixSignalRegistration> _registrations = [];

    public StartupSignals()
    {
        _registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal));
        _registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal));
    }

    /// <summary>Cancelled by the first signal.</summary>
    public CancellationToken Token => _stop.Token;

    public bool StopRequested => _stop.IsCancellationRequested;

    public void Dispose()
    {
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }

        _registrations.Clear();
        _stop.Dispose();
    }

    private void OnSignal(PosixSignalContext context)
    {
        // Not the runtime's default (exit 143): the start unwinds and the silo exits 0.
        context.Cancel = true;
        try
        {
            _stop.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The host has taken over the signals.
        }
    }
}
