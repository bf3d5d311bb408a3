using Orleans.Runtime.Messaging;

namespace MeshHook.Grains;

/// <summary>How callers of the cluster (the gateway's intake, the tests' harness) tell a passing failure from a real one.</summary>
public static class ClusterErrors
{
    /// <summary>
    /// Orleans' placement throws a plain <see cref="OrleansException"/> with this message when the silo placing a new
    /// activation sees no active silo that hosts the grain: for a moment while every silo is stopping or starting.
    /// </summary>
    private const string NoActiveSilo = "No active nodes are compatible with grain";

    /// <summary>Failures worth another try: the call may succeed on another silo or a moment later.</summary>
    public static bool IsTransient(Exception e) =>
        e is SiloUnavailableException or OrleansMessageRejectionException or ConnectionFailedException or GatewayTooBusyException or TimeoutException
        || (e is OrleansException && e.Message.StartsWith(NoActiveSilo, StringComparison.Ordinal));
}
