using MeshHook.Gateway.Cluster;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace MeshHook.Gateway.Ops;

/// <summary>Not ready from the moment the host begins to stop, so load balancers move away before the server closes.</summary>
public sealed class StoppingHealthCheck(IHostApplicationLifetime lifetime) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(lifetime.ApplicationStopping.IsCancellationRequested
            ? HealthCheckResult.Unhealthy("the gateway is shutting down")
            : HealthCheckResult.Healthy());
}

/// <summary>Ready when Postgres answers within two seconds.</summary>
public sealed class PostgresHealthCheck(NpgsqlDataSource dataSource) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(2));
        try
        {
            await using var command = dataSource.CreateCommand("SELECT 1");
            await command.ExecuteScalarAsync(timeout.Token);
            return HealthCheckResult.Healthy();
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException or TimeoutException)
        {
            return HealthCheckResult.Unhealthy("Postgres is not reachable");
        }
    }
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
