namespace MeshHook.Gateway.Cluster;

/// <summary>No silo could take a grain call now (client not connected yet, or transient failures outlasted the retries).</summary>
public sealed class ClusterUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
