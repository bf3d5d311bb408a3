using AwesomeAssertions;
using MeshHook.Silo.Shutdown;
using MeshHook.Tests.Integration.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
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
        await using (var types = await CatalogLock.TakeAsync(cluster.ConnectionString))
        {
            var starting = cluster.Cluster.StartAdditionalSiloAsync();
            await Poll.UntilAsync(async () => await types.HasWaiterAsync(), "the new silo's data source opens its first connection");
            var joining = await types.JoiningSilosAsync(cluster.Cluster.Options.ClusterId);
            joining.Should().Be(1, "the first open happens while the silo starts, before it turns active (status Created or Joining)");
            await types.DisposeAsync();
            silo = await starting;
        }

        var coordinator = cluster.ServicesOf(silo).GetRequiredService<ShutdownCoordinator>();
        ShutdownReport report;
        await using (await CatalogLock.TakeAsync(cluster.ConnectionString))
        {
            // A report that had to load the types now would wait for this lock past its time limit, and be lost.
            await cluster.Cluster.StopSiloAsync(silo);
            report = await coordinator.Report.WaitAsync(TimeSpan.FromSeconds(5));
        }

        await using var read = cluster.DataSource.CreateCommand("SELECT count(*) FROM meshhook_shutdowns WHERE silo_address = @address AND NOT forced");
        read.Parameters.AddWithValue("address", report.SiloAddress);
        ((long)(await read.ExecuteScalarAsync())!).Should().Be(1, "the report is stored without loading types at the stop");
    }

    /// <summary>pg_enum locked in an open transaction of a connection of its own; disposing releases it.</summary>
    private sealed class CatalogLock : IAsyncDisposable
    {
        private readonly NpgsqlConnection _connection;
        private NpgsqlTransaction? _transaction;

        private CatalogLock(NpgsqlConnection connection, NpgsqlTransaction transaction) => (_connection, _transaction) = (connection, transaction);

        public static async Task<CatalogLock> TakeAsync(string connectionString)
        {
            var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync();
            var transaction = await connection.BeginTransactionAsync();
            await using var take = new NpgsqlCommand("LOCK TABLE pg_catalog.pg_enum IN ACCESS EXCLUSIVE MODE", connection, transaction);
            await take.ExecuteNonQueryAsync();
            return new CatalogLock(connection, transaction);
        }

        public async Task<bool> HasWaiterAsync()
        {
            await using var waiting = new NpgsqlCommand(
                "SELECT count(*) FROM pg_locks WHERE relation = 'pg_catalog.pg_enum'::regclass AND NOT granted", _connection, _transaction);
            return (long)(await waiting.ExecuteScalarAsync())! > 0;
        }

        /// <summary>Silos of the cluster whose membership row says Created (1) or Joining (2).</summary>
        public async Task<long> JoiningSilosAsync(string clusterId)
        {
            await using var read = new NpgsqlCommand(
                "SELECT count(*) FROM orleans_membership WHERE deployment_id = @cluster AND status IN (1, 2)", _connection, _transaction);
            read.Parameters.AddWithValue("cluster", clusterId);
            return (long)(await read.ExecuteScalarAsync())!;
        }

        public async ValueTask DisposeAsync()
        {
            if (_transaction is { } transaction)
            {
                _transaction = null;
                await transaction.RollbackAsync();
                await _connection.DisposeAsync();
            }
        }
    }
}
