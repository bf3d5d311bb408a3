using Orleans.Runtime.Messaging;

namespace MeshHook.Grains;

/// <summary>How callers of the cluster (the gateway's intake, the tests' harness) tell a passing failure from a real one.</summary>
public static class ClusterErrors
{
    /// <summary>Failures worth another try: the call may succeed on another silo or a moment later.</summary>
    public static bool IsTransient(Exception e) =>
        e is SiloUnavailableException or OrleansMessageRejectionException or ConnectionFailedException or GatewayTooBusyException or TimeoutException;
}
