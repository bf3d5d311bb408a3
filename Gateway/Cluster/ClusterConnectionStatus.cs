namespace MeshHook.Gateway.Cluster;

/// <summary>
/// Whether the Orleans client is started and how many silo gateways it has open connections to; fed by the
/// client itself (<see cref="IClusterConnectionStatusObserver"/>) and by <see cref="ClusterConnector"/>.
/// </summary>
public sealed class ClusterConnectionStatus : IClusterConnectionStatusObserver
{
    private volatile bool _started;
    private int _gateways;

    /// <summary>The client finished starting: grain calls can be sent.</summary>
    public bool IsStarted => _started;

    /// <summary>Open connections to silo gateways.</summary>
    public int ConnectedGateways => Volatile.Read(ref _gateways);

    /// <summary>Started and connected to at least one silo gateway.</summary>
    public bool IsConnected => _started && ConnectedGateways > 0;

    internal void MarkStarted() => _started = true;

    internal void MarkStopped() => _started = false;

    public void NotifyGatewayCountChanged(int currentNumberOfGateways, int previousNumberOfGateways, bool connectionRecovered) =>
        Volatile.Write(ref _gateways, Math.Max(0, currentNumberOfGateways));

    public void NotifyClusterConnectionLost() => Volatile.Write(ref _gateways, 0);
}
