using MeshHook.Tests.Integration.Infrastructure;
using Npgsql;
using Orleans.TestingHost;

namespace MeshHook.Tests.Gateway.Infrastructure;

/// <summary>A one-silo test cluster on a fresh Postgres database with the real gateway in front of it.</summary>
/// <remarks>Re-implements IAsyncLifetime so that xUnit calls the start and stop here, which wrap the cluster's.</remarks>
public class GatewayCluster : MeshHookCluster, IAsyncLifetime, IAsyncDisposable
{
    public GatewayServer Gateway { get; private set; } = null!;

    public HttpClient Http => Gateway.Http;

    protected override short InitialSilos => 1;

    /// <summary>The gateway's Orleans client connects over TCP; the test cluster's default in-memory transport would refuse it.</summary>
    protected override void Configure(TestClusterBuilder builder) =>
        builder.Options.ConnectionTransport = ConnectionTransportType.TcpSocket;

    public new async ValueTask InitializeAsync()
    {
        await base.InitializeAsync();
        Gateway = await GatewayServer.StartAsync(ConnectionString, Cluster.Options.ClusterId, Cluster.Options.ServiceId);
        await Gateway.WaitReadyAsync();
    }

    public new async ValueTask DisposeAsync()
    {
        await Gateway.DisposeAsync();
        await base.DisposeAsync();
    }

    /// <summary>
    /// Rows in workflow_runs, run_created events and workflow_definitions, to prove a refused request wrote nothing
    /// (other events are left out: runs of earlier tests may still be writing theirs).
    /// </summary>
    public async Task<(long Runs, long Events, long Definitions)> CountRowsAsync()
    {
        await using var command = DataSource.CreateCommand(
            "SELECT (SELECT count(*) FROM workflow_runs), (SELECT count(*) FROM workflow_events WHERE type = 'run_created'), (SELECT count(*) FROM workflow_definitions)");
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
    }

    /// <summary>The stored trigger of a run, as JSON text.</summary>
    public async Task<string> TriggerOfAsync(Guid runId)
    {
        await using var command = DataSource.CreateCommand("SELECT trigger::text FROM workflow_runs WHERE id = @id");
        command.Parameters.AddWithValue("id", runId);
        return (string)(await command.ExecuteScalarAsync())!;
    }

    public async Task<long> CountRunsWithKeyAsync(string slug, string key)
    {
        await using var command = DataSource.CreateCommand("SELECT count(*) FROM workflow_runs WHERE slug = @slug AND idempotency_key = @key");
        command.Parameters.AddWithValue("slug", slug);
        command.Parameters.AddWithValue("key", key);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}

[CollectionDefinition(Name)]
public sealed class GatewayCollection : ICollectionFixture<GatewayCluster>
{
    public const string Name = "gateway";
}
