using MeshHook.Grains.Draining;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace MeshHook.Silo.Ops;

/// <summary>Ready while the silo is active in the cluster and not draining (503 from the first moment of a stop).</summary>
public sealed class SiloActiveHealthCheck(SiloActivity activity, MeshHook.Grains.Draining.SiloDrain drain) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(
            drain.IsDraining ? HealthCheckResult.Unhealthy("silo is shutting down")
            : activity.IsActive ? HealthCheckResult.Healthy()
            : HealthCheckResult.Unhealthy("silo is not active"));
}
