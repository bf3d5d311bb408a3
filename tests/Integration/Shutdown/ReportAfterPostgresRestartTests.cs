using AwesomeAssertions;
using MeshHook.Silo.Shutdown;
using MeshHook.Tests.Integration.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace MeshHook.Tests.Integration.Shutdown;

/// <summary>A cluster of its own: the test ends every server connection of its database.</summary>
public sealed class ReportCluster : MeshHookCluster;

/// <summary>
/// Soak bug 19: stops that were graceful had no meshhook_shutdowns row, because the report's one write met a pooled
/// connection that a Postgres restart had just ended (57P01). The write is tried again on a fresh connection.
/// </summary>
public sealed class ReportAfterPostgresRestartTests(ReportCluster cluster) : IClassFixture<ReportCluster>
{
    [Fact]
    public async Task Stop_AfterTheServerEndedThePooledConnections_StillStoresItsReport()
    {
        var victim = cluster.Cluster.SecondarySilos[0];
        var coordinator = cluster.ServicesOf(victim).GetRequiredService<ShutdownCoordinator>();
        await using (var end = cluster.DataSource.CreateCommand(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"))
        {
            ((long)(await end.ExecuteScalarAsync())!).Should().BePositive("the silos hold pooled connections");
        }

        await cluster.Cluster.StopSiloAsync(victim);
        var report = await coordinator.Report.WaitAsync(TimeSpan.FromSeconds(5));

        await using var read = cluster.DataSource.CreateCommand("SELECT count(*) FROM meshhook_shutdowns WHERE silo_address = @address AND NOT forced");
        read.Parameters.AddWithValue("address", report.SiloAddress);
        ((long)(await read.ExecuteScalarAsync())!).Should().Be(1, "the report is stored although its first connection was dead");
    }
}
