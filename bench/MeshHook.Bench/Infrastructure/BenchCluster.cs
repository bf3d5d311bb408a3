using MeshHook.Silo.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.TestingHost;

namespace MeshHook.Bench.Infrastructure;

/// <summary>
/// An in-process Orleans cluster wired exactly as the silo program wires it (<see cref="MeshHookSiloBuilderExtensions.AddMeshHookEngine"/>:
/// ADO.NET clustering, grain storage and reminders on Postgres), logging warnings only.
/// </summary>
public sealed class BenchCluster : IAsyncDisposable
{
    private const string ConnectionStringKey = "MeshHookBench:ConnectionString";

    private readonly TestCluster _cluster;
    private int _disposed;

    private BenchCluster(TestCluster cluster) => _cluster = cluster;

    public IGrainFactory Grains => _cluster.Client;

    public static async Task<BenchCluster> StartAsync(string connectionString, short silos)
    {
        var builder = new TestClusterBuilder(silos);
        // Off: the test cluster would otherwise swap in its in-memory membership for the Postgres one.
        builder.Options.UseTestClusterMembership = false;
        builder.Options.ConfigureFileLogging = false;
        builder.Properties[ConnectionStringKey] = connectionString;
        // The benchmark's sink listens on 127.0.0.1, which http_call may not reach by default.
        builder.Properties["MeshHook:Http:AllowedNetworks:0"] = "127.0.0.0/8";
        builder.Properties["MeshHook:Secrets:Key"] = MeshHook.Testing.Processes.ProgramProcess.TestSecretsKey;
        builder.AddSiloBuilderConfigurator<SiloConfigurator>();
        builder.AddClientBuilderConfigurator<ClientConfigurator>();
        var cluster = builder.Build();
        var bench = new BenchCluster(cluster);
        try
        {
            await cluster.DeployAsync();
            return bench;
        }
        catch
        {
            await bench.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        try
        {
            await _cluster.StopAllSilosAsync();
        }
        finally
        {
            await _cluster.DisposeAsync();
        }
    }

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder.AddMeshHookEngine(siloBuilder.Configuration[ConnectionStringKey]!, siloBuilder.Configuration);
            siloBuilder.Services.AddLogging(logging => logging
                .ClearProviders()
                .AddSimpleConsole(o => o.SingleLine = true)
                .SetMinimumLevel(LogLevel.Warning)
                .AddProvider(RunCompletions.Instance)
                // The completion listener sees the run grain's Information events; the console still gets warnings only.
                .AddFilter<RunCompletions>(null, LogLevel.None)
                .AddFilter<RunCompletions>(RunCompletions.Category, LogLevel.Information));
        }
    }

    private sealed class ClientConfigurator : IClientBuilderConfigurator
    {
        public void Configure(IConfiguration configuration, IClientBuilder clientBuilder)
        {
            clientBuilder.UseAdoNetClustering(o =>
            {
                o.Invariant = MeshHookSiloBuilderExtensions.Invariant;
                o.ConnectionString = configuration[ConnectionStringKey];
            });
            // As the gateway's client: a grain call carries the caller's trace (throughput --tracing).
            clientBuilder.AddActivityPropagation();
            clientBuilder.Services.AddLogging(logging => logging.ClearProviders().AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning));
        }
    }
}
