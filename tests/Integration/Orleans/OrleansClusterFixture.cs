using MeshHook.Tests.Integration.Infrastructure;
using Microsoft.Extensions.Configuration;
using Npgsql;
using Orleans.Configuration;
using Orleans.TestingHost;

namespace MeshHook.Tests.Integration.Orleans;

/// <summary>
/// Two silos and a client on a fresh, migrated database, wired only through Orleans' ADO.NET providers:
/// membership, gateways, grain storage and reminders all go through the query texts in sql/000x.
/// </summary>
public sealed class OrleansClusterFixture : IAsyncLifetime
{
    /// <summary>The grain storage provider's name, as the test grains ask for it.</summary>
    public const string StorageName = "orleans-store";

    private const string ConnectionStringKey = "MeshHookTests:OrleansConnectionString";

    private TestCluster? _cluster;

    public TestCluster Cluster => _cluster ?? throw new InvalidOperationException("the cluster is not deployed");

    public string ConnectionString { get; private set; } = "";

    public string ClusterId => Cluster.Options.ClusterId;

    public string ServiceId => Cluster.Options.ServiceId;

    public async ValueTask InitializeAsync()
    {
        var connectionString = await PostgresServer.CreateDatabaseAsync("orleans");
        // Every silo and the client share one pool in this process; keep it well inside max_connections
        // while other test classes run in parallel.
        ConnectionString = new NpgsqlConnectionStringBuilder(connectionString) { MaxPoolSize = 30 }.ConnectionString;

        var builder = new TestClusterBuilder(2);
        // Off: the test cluster would otherwise swap in its in-memory membership and static gateway list.
        builder.Options.UseTestClusterMembership = false;
        builder.Options.ConfigureFileLogging = false;
        builder.Properties[ConnectionStringKey] = ConnectionString;
        builder.AddSiloBuilderConfigurator<SiloConfigurator>();
        builder.AddClientBuilderConfigurator<ClientConfigurator>();

        _cluster = builder.Build();
        await _cluster.DeployAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.StopAllSilosAsync();
            await _cluster.DisposeAsync();
        }
    }

    /// <summary>Opens a connection to the cluster's database, for checking what the providers wrote.</summary>
    public async Task<NpgsqlConnection> OpenConnectionAsync()
    {
        var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        return connection;
    }

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            var connectionString = siloBuilder.Configuration[ConnectionStringKey];
            siloBuilder
                .UseAdoNetClustering(o =>
                {
                    o.Invariant = "Npgsql";
                    o.ConnectionString = connectionString;
                })
                .AddAdoNetGrainStorage(StorageName, o =>
                {
                    o.Invariant = "Npgsql";
                    o.ConnectionString = connectionString;
                })
                .UseAdoNetReminderService(o =>
                {
                    o.Invariant = "Npgsql";
                    o.ConnectionString = connectionString;
                })
                // The default minimum (one minute) would make a reminder test take minutes.
                .Configure<ReminderOptions>(o => o.MinimumReminderPeriod = TimeSpan.FromMilliseconds(200));
        }
    }

    private sealed class ClientConfigurator : IClientBuilderConfigurator
    {
        public void Configure(IConfiguration configuration, IClientBuilder clientBuilder) =>
            clientBuilder.UseAdoNetClustering(o =>
            {
                o.Invariant = "Npgsql";
                o.ConnectionString = configuration[ConnectionStringKey];
            });
    }
}

/// <summary>The tests that share one ADO.NET-backed cluster.</summary>
[CollectionDefinition(Name)]
public sealed class OrleansClusterCollection : ICollectionFixture<OrleansClusterFixture>
{
    public const string Name = "orleans-adonet-cluster";
}
