using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace MeshHook.Silo.Ops;

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

/// <summary>Ready while the silo is active in the cluster and not draining (503 from the first moment of a stop).</summary>
public sealed class SiloActiveHealthCheck(SiloActivity activity, MeshHook.Grains.Runs.SiloDrain drain) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(
            drain.IsDraining ? HealthCheckResult.Unhealthy("silo is shutting down")
            : activity.IsActive ? HealthCheckResult.Healthy()
            : HealthCheckResult.Unhealthy("silo is not active"));
}
