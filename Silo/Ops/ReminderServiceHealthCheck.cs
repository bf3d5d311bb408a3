using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace MeshHook.Silo.Ops;

/// <summary>
/// Ready once this silo's Orleans reminder service has loaded its range (<see cref="ReminderServiceStatus"/>). Until
/// then the reminders that land in its range can be neither registered nor delivered: runs start without them (the
/// recovery sweep covers them), which an orchestrator should not route work into. Once loaded it stays ready: Orleans
/// keeps accepting registrations when a later periodic refresh fails, so this does not flap under load.
/// </summary>
public sealed class ReminderServiceHealthCheck(ReminderServiceStatus reminders) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(
            reminders.IsStarted ? HealthCheckResult.Healthy("reminder service loaded its range")
            : reminders.ActiveFor is not { } active ? HealthCheckResult.Unhealthy("reminder service not started (the silo is not active yet)")
            : HealthCheckResult.Unhealthy(
                $"Orleans' reminder service has not loaded this silo's reminder range ({active.TotalSeconds:0} s after the silo became active): " +
                "reminders in its range can be neither registered nor delivered, and runs start without them. Orleans retries the load every " +
                "Orleans:ReminderService:RefreshReminderListPeriod; look for 'ReminderService failed initial load' in the silo log and check that " +
                "Postgres accepts connections (max_connections, 53300 too many clients)"));
}
