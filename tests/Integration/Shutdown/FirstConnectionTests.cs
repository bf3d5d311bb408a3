using AwesomeAssertions;
using MeshHook.Silo.Shutdown;
using MeshHook.Tests.Integration.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace MeshHook.Tests.Integration.Shutdown;

/// <summary>A cluster of its own: the test locks one of its database's catalogs.</summary>
public sealed class FirstConnectionCluster : MeshHookCluster
{
    protected override short InitialSilos => 1;
}

/// <summary>
/// Soak bug 9: a silo stopped soon after it started had no meshhook_shutdowns row. Its data source had never been used,
/// and the report's write was its first open, which loads Postgres' types: on the loaded machine that took longer than
/// the report's time limit. The silo now opens the first connection while it starts, before it turns active. Here only
/// the first open of a data source reads pg_enum (Npgsql's type loading), so a lock on it shows when that happens, and
/// held again during the stop it would hold up a report that still had to load the types.
/// </summary>
public sealed class FirstConnectionTests(FirstConnectionCluster cluster) : IClassFixture<FirstConnectionCluster>
{
    [Fact]
    public async Task NewSilo_OpensItsDataSourceWhileJoining_SoItsReportNeedsNoTypeLoadingAtTheStop()
    {
        SiloHandle silo;
        await using (var types = await TableLock.TakeAsync(cluster.ConnectionString, "pg_catalog.pg_enum", "ACCESS EXCLUSIVE"))
        {
            var starting = cluster.Cluster.StartAdditionalSiloAsync();
            await Poll.UntilAsync(async () => await types.HasWaiterAsync(), "the new silo's data source opens its first connection");
            var joining = await types.CountAsync(
                "SELECT count(*) FROM orleans_membership WHERE deployment_id = @cluster AND status IN (1, 2)", ("cluster", cluster.Cluster.Options.ClusterId));
            joining.Should().Be(1, "the first open happens while the silo starts, before it turns active (status Created (1) or Joining (2))");
            await types.DisposeAsync();
            silo = await starting;
        }

        var coordinator = cluster.ServicesOf(silo).GetRequiredService<ShutdownCoordinator>();
        ShutdownReport report;
        await using (await TableLock.TakeAsync(cluster.ConnectionString, "pg_catalog.pg_enum", "ACCESS EXCLUSIVE"))
        {
            // A report that had to load the types now would wait for this lock past its time limit, and be lost.
            await cluster.Cluster.StopSiloAsync(silo);
            report = await coordinator.Report.WaitAsync(TimeSpan.FromSeconds(5));
        }

        await using var read = cluster.DataSource.CreateCommand("SELECT count(*) FROM meshhook_shutdowns WHERE silo_address = @address AND NOT forced");
        read.Parameters.AddWithValue("address", report.SiloAddress);
        ((long)(await read.ExecuteScalarAsync())!).Should().Be(1, "the report is stored without loading types at the stop");
    }
}
