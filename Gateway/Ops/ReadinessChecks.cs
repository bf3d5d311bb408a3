using MeshHook.Gateway.Cluster;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace MeshHook.Gateway.Ops;

/// <summary>Not ready from the moment the host begins to stop, so load balancers move away before the server closes.</summary>
public sealed class StoppingHealthCheck(IHostApplicationLifetime lifetime) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(lifetime.ApplicationStopping.IsCancellationRequested
            ? HealthCheckResult.Unhealthy("the gateway is shutting down")
            : HealthCheckResult.Healthy());
}

/// <summary>
/// Ready when the Orleans client has started and holds an open connection to at least one silo gateway (as the
/// client reports it through <see cref="IClusterConnectionStatusObserver"/>; no grain call is made).
/// </summary>
public sealed class ClusterHealthCheck(ClusterConnectionStatus status) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(status.IsConnected
            ? HealthCheckResult.Healthy($"{status.ConnectedGateways} silo gateway connection(s)")
            : HealthCheckResult.Unhealthy(status.IsStarted ? "no silo gateway connected" : "not connected to the cluster yet"));
}
