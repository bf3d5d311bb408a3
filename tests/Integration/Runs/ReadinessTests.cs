using AwesomeAssertions;
using MeshHook.Silo.Ops;
using MeshHook.Tests.Integration.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace MeshHook.Tests.Integration.Runs;

[Collection(RunClusterCollection.Name)]
public sealed class ReadinessTests(MeshHookCluster cluster)
{
    [Fact]
    public async Task Readiness_EverySiloOfAHealthyCluster_ReportsItsReminderServiceLoaded()
    {
        var silos = cluster.Cluster.GetActiveSilos().ToList();
        silos.Should().NotBeEmpty();
        foreach (var silo in silos)
        {
            var readiness = ActivatorUtilities.CreateInstance<ReminderServiceHealthCheck>(cluster.ServicesOf(silo));
            HealthCheckResult result = default;
            await Poll.UntilAsync(
                async () => (result = await readiness.CheckHealthAsync(new HealthCheckContext())).Status == HealthStatus.Healthy,
                $"silo {silo.SiloAddress}'s reminder service to report its range loaded (Orleans' ReminderServiceStarted event)");
            result.Description.Should().Be("reminder service loaded its range");
        }
    }
}
