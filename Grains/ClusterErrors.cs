using Npgsql;
using Orleans.Runtime.Messaging;
using Orleans.Serialization;

namespace MeshHook.Grains;

/// <summary>How callers of the cluster (the gateway's intake, the tests' harness) tell a passing failure from a real one.</summary>
public static class ClusterErrors
{
    /// <summary>
    /// Orleans' placement throws a plain <see cref="OrleansException"/> with this message when the silo placing a new
    /// activation sees no active silo that hosts the grain: for a moment while every silo is stopping or starting.
    /// </summary>
    private const string NoActiveSilo = "No active nodes are compatible with grain";

    /// <summary>The namespace of Postgres' exceptions, which silos and clients let cross grain calls (see <see cref="IsStoreUnavailable"/>).</summary>
    public const string StoreExceptionNamespace = "Npgsql";

    /// <summary>Failures worth another try: the call may succeed on another silo or a moment later.</summary>
    public static bool IsTransient(Exception e) =>
        e is SiloUnavailableException or OrleansMessageRejectionException or ConnectionFailedException or GatewayTooBusyException or TimeoutException
        || (e is OrleansException && e.Message.StartsWith(NoActiveSilo, StringComparison.Ordinal))
        || IsStoreUnavailable(e);

    /// <summary>
    /// The grain could not reach Postgres (loading its state, or saving it after its retries): a Postgres restart or
    /// outage, over in seconds. Across a grain call the exception arrives as itself or, where the receiver cannot
    /// rebuild it, as Orleans' fallback naming its type; either may be wrapped (the storage provider's OrleansException).
    /// </summary>
    public static bool IsStoreUnavailable(Exception e)
    {
        for (Exception? current = e; current is not null; current = current.InnerException)
        {
            if (current is NpgsqlException
                || (current is UnavailableExceptionFallbackException fallback && fallback.ExceptionType?.StartsWith(StoreExceptionNamespace + ".", StringComparison.Ordinal) == true))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Lets Postgres' exceptions cross grain calls, so a caller can tell a store outage from a bug (silo and client both).</summary>
    public static void AllowStoreExceptions(ExceptionSerializationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.SupportedNamespacePrefixes.Add(StoreExceptionNamespace);
    }
}
