using MeshHook.Grains;
using MeshHook.Grains.Runs;
using MeshHook.Silo.Hosting;
using Microsoft.Extensions.Configuration;
using Npgsql;
using Orleans.TestingHost;

namespace MeshHook.Tests.Integration.Infrastructure;

/// <summary>
/// An in-process Orleans cluster wired exactly as the silo program wires it (ADO.NET clustering, storage and
/// reminders on a fresh Postgres database), plus a real HTTP sink for http_call steps.
/// </summary>
public class MeshHookCluster : IAsyncLifetime
{
    private NpgsqlDataSource? _dataSource;

    /// <summary>The silo configuration key that carries the cluster's connection string.</summary>
    public const string ConnectionStringKey = "MeshHookTests:ConnectionString";

    public TestCluster Cluster { get; private set; } = null!;

    public string ConnectionString { get; private set; } = "";

    public HttpSink Sink { get; private set; } = null!;

    public RunStore Store { get; private set; } = null!;

    public NpgsqlDataSource DataSource => _dataSource!;

    public IGrainFactory Grains => Cluster.Client;

    protected virtual short InitialSilos => 2;

    /// <summary>Settings every silo gets; short periods so recovery shows within a test's time.</summary>
    protected virtual Dictionary<string, string?> Settings => new()
    {
        ["MeshHook:Runs:ReminderPeriod"] = "00:00:05",
        ["MeshHook:Recovery:SweepInterval"] = "00:00:02",
        ["MeshHook:Recovery:StalledAfter"] = "00:00:03",
        ["MeshHook:Shutdown:DrainTimeout"] = "00:00:05",
        // The tests' HTTP peers listen on 127.0.0.1, which http_call may not reach by default.
        ["MeshHook:Http:AllowedNetworks:0"] = "127.0.0.0/8",
        // A fixed, public test key for secrets at rest.
        ["MeshHook:Secrets:Key"] = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=",
    };

    public async ValueTask InitializeAsync()
    {
        ConnectionString = await PostgresServer.CreateDatabaseAsync(GetType().Name.ToLowerInvariant());
        _dataSource = NpgsqlDataSource.Create(ConnectionString);
        Store = new RunStore(_dataSource);
        Sink = await HttpSink.StartAsync();
        await PrepareDatabaseAsync();

        var builder = new TestClusterBuilder(InitialSilos);
        // Off: the test cluster would otherwise swap in its in-memory membership for the Postgres one.
        builder.Options.UseTestClusterMembership = false;
        builder.Options.ConfigureFileLogging = false;
        builder.Properties[ConnectionStringKey] = ConnectionString;
        foreach (var (key, value) in Settings)
        {
            builder.Properties[key] = value;
        }

        builder.AddSiloBuilderConfigurator<SiloConfigurator>();
        builder.AddClientBuilderConfigurator<ClientConfigurator>();
        Configure(builder);
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    /// <summary>Changes to the migrated database before any silo starts (the Orleans providers read their queries at start).</summary>
    protected virtual Task PrepareDatabaseAsync() => Task.CompletedTask;

    /// <summary>Last changes to the cluster before it is built (e.g. real sockets for a client outside the test cluster).</summary>
    protected virtual void Configure(TestClusterBuilder builder)
    {
    }

    public async ValueTask DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
        await Sink.DisposeAsync();
        if (_dataSource is not null)
        {
            await _dataSource.DisposeAsync();
        }
    }

    /// <summary>The services of a running in-process silo.</summary>
    public IServiceProvider ServicesOf(SiloHandle silo) => ((InProcessSiloHandle)silo).SiloHost.Services;

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder.AddMeshHookEngine(siloBuilder.Configuration[ConnectionStringKey]!, siloBuilder.Configuration);
            if (siloBuilder.Configuration[TestShutdownHooks.EnableKey] == "true")
            {
                TestShutdownHooks.Register(siloBuilder.Services);
            }

            if (siloBuilder.Configuration[HangingStarts.EnableKey] == "true")
            {
                HangingStarts.Register(siloBuilder.Services);
            }
        }
    }

    private sealed class ClientConfigurator : IClientBuilderConfigurator
    {
        public void Configure(IConfiguration configuration, IClientBuilder clientBuilder) =>
            clientBuilder.UseAdoNetClustering(o =>
            {
                o.Invariant = MeshHookSiloBuilderExtensions.Invariant;
                o.ConnectionString = configuration[ConnectionStringKey];
            });
    }

    /// <summary>Publishes a workflow under a fresh slug; returns the slug.</summary>
    public async Task<string> PublishAsync(string definitionJson)
    {
        var slug = $"wf-{Guid.NewGuid():N}"[..20];
        await Store.PublishAsync(slug, "test workflow", definitionJson, secret: null, CancellationToken.None);
        return slug;
    }

    /// <summary>Creates a run of <paramref name="slug"/> and starts it, as intake does.</summary>
    public async Task<Guid> TriggerAsync(string slug, string bodyJson = "{}")
    {
        var (runId, _) = await Store.CreateRunAsync(slug, $$"""{"headers":{},"body":{{bodyJson}}}""", null, CancellationToken.None);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await Grains.GetGrain<IWorkflowRunGrain>(runId).StartAsync();
                return runId;
            }
            catch (Exception e) when (attempt < 5 && ClusterErrors.IsTransient(e))
            {
                // Intake retries the same transient cluster failures (the gateway's GrainCalls); what these tests check
                // happens after the start, so a dropped connection while the start is sent must not fail them.
                Console.Error.WriteLine($"start of run {runId}: {e.GetType().Name} ({e.Message}); retry {attempt}");
                await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt));
            }
        }
    }

    /// <summary>Polls until the run is finished; fails with the last view when the deadline passes.</summary>
    public async Task<RunView> WaitFinishedAsync(Guid runId, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        RunView? last = null;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                last = await Grains.GetGrain<IWorkflowRunGrain>(runId).GetViewAsync();
                if (last.Status.IsFinished())
                {
                    return last;
                }
            }
            catch (Exception e) when (e is OrleansException or TimeoutException)
            {
                // A silo is going away; the next poll reaches the run wherever it lives now.
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"run {runId} did not finish in time; last seen: {last?.Status.ToString() ?? "never answered"}, steps: " +
            string.Join(", ", last?.Steps.Select(s => $"{s.NodeId}={s.Status}") ?? []));
    }

    /// <summary>How many reminders the run holds in orleans_reminders (its grain id text ends with the run id).</summary>
    public async Task<long> ReminderCountAsync(Guid runId)
    {
        await using var command = DataSource.CreateCommand("SELECT count(*) FROM orleans_reminders WHERE grain_id LIKE '%' || @key");
        command.Parameters.AddWithValue("key", runId.ToString("N"));
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>Reads workflow_runs.status straight from Postgres.</summary>
    public async Task<string> RowStatusAsync(Guid runId)
    {
        await using var command = DataSource.CreateCommand("SELECT status FROM workflow_runs WHERE id = @id");
        command.Parameters.AddWithValue("id", runId);
        return (string)(await command.ExecuteScalarAsync())!;
    }
}
