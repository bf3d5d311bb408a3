using System.Globalization;
using MeshHook.Silo.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.TestingHost;

namespace MeshHook.Bench.Chaos.InProcess;

/// <summary>
/// The soak's in-process Orleans cluster on Postgres, each silo wired exactly as the silo program wires it
/// (<see cref="MeshHookSiloBuilderExtensions.AddMeshHookEngine"/>: ADO.NET clustering, grain storage and reminders,
/// the shutdown coordinator), plus the cluster client that plays the gateway. Every silo it starts gets a name of its
/// own (<c>Secondary_N</c>, N never reused), so run events and shutdown rows tell its stops apart.
/// </summary>
public sealed class SoakCluster : IAsyncDisposable
{
    private const string ConnectionStringKey = "MeshHookChaos:ConnectionString";
    private const string SoakLogKey = "MeshHookChaos:SoakLog";

    private readonly TestCluster _cluster;
    private readonly RecyclingPortAllocator _ports;
    private int _nextInstance;
    private int _disposed;

    private SoakCluster(TestCluster cluster, RecyclingPortAllocator ports, int initialSilos)
    {
        _cluster = cluster;
        _ports = ports;
        _nextInstance = initialSilos;
    }

    /// <summary>The client the load goes through, as the gateway's intake does.</summary>
    public IGrainFactory Grains => _cluster.Client;

    public IReadOnlyList<SoakSilo> InitialSilos { get; private set; } = [];

    /// <summary>Pairs of ports taken from Orleans' allocator (the rest were handed out again).</summary>
    public int FreshPortPairs => _ports.FreshPairs;

    /// <summary>Deploys <paramref name="silos"/> silos and the client; <paramref name="settings"/> is configuration every silo gets.</summary>
    public static async Task<SoakCluster> StartAsync(string connectionString, int silos, SoakLog log, IReadOnlyDictionary<string, string?> settings)
    {
        var ports = new RecyclingPortAllocator();
        var builder = new TestClusterBuilder((short)silos) { PortAllocator = ports };
        // Off: the test cluster would otherwise swap in its in-memory membership for the Postgres one.
        builder.Options.UseTestClusterMembership = false;
        builder.Options.ConfigureFileLogging = false;
        builder.Properties[ConnectionStringKey] = connectionString;
        builder.Properties[SoakLogKey] = log.Id;
        foreach (var (key, value) in settings)
        {
            builder.Properties[key] = value;
        }

        builder.AddSiloBuilderConfigurator<SiloConfigurator>();
        builder.AddClientBuilderConfigurator<ClientConfigurator>();
        var cluster = builder.Build();
        var soak = new SoakCluster(cluster, ports, silos);
        try
        {
            await cluster.DeployAsync();
            soak.InitialSilos = [.. cluster.Silos.Select(s => new SoakSilo((InProcessSiloHandle)s))];
            return soak;
        }
        catch
        {
            await soak.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts one more silo; it has joined the cluster when this returns.</summary>
    public async Task<SoakSilo> StartSiloAsync()
    {
        var instance = Interlocked.Increment(ref _nextInstance) - 1;
        var handle = await TestCluster.StartSiloAsync(_cluster, instance, _cluster.Options, configurationOverrides: null, startSiloOnNewPort: true);
        return new SoakSilo((InProcessSiloHandle)handle);
    }

    /// <summary>
    /// Disposes a silo whose host has stopped and lets its ports be handed out again. Its services (the
    /// coordinator's report, the drain's counters) stay readable through the <see cref="SoakSilo"/> until then.
    /// </summary>
    public async Task RemoveAsync(SoakSilo silo)
    {
        // The host is stopped already, so this only disposes it and forgets the handle.
        await _cluster.StopSiloAsync(silo.Handle);
        _ports.Release(silo.Handle.SiloAddress.Endpoint.Port, silo.Handle.GatewayAddress?.Endpoint.Port ?? 0);
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
            _ports.Dispose();
        }
    }

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            var configuration = siloBuilder.Configuration;
            siloBuilder.AddMeshHookEngine(configuration[ConnectionStringKey]!, configuration);
            var log = SoakLog.Get(configuration[SoakLogKey]!);
            var name = configuration["Orleans:Name"] ?? configuration["Name"] ?? "silo";
            siloBuilder.Services.AddLogging(logging => logging
                .ClearProviders()
                .SetMinimumLevel(LogLevel.Warning)
                .AddProvider(log.ProviderFor(name))
                // Every phase line of the shutdown sequence: the evidence of which path each stop took.
                .AddFilter(SoakLog.CoordinatorCategory, LogLevel.Information));
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
            // Here every silo is replaced within seconds, far faster than any deployment rolls: with the gateway
            // program's period (MeshHook:Gateway:GatewayListRefreshPeriod, 5 s) or Orleans' (a minute) the client
            // would often know only gateways that are gone.
            clientBuilder.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(1));
            var log = SoakLog.Get(configuration[SoakLogKey]!);
            clientBuilder.Services.AddLogging(logging => logging.ClearProviders().SetMinimumLevel(LogLevel.Warning).AddProvider(log.ProviderFor("client")));
        }
    }

    /// <summary>A TimeSpan as configuration binds it.</summary>
    public static string Setting(TimeSpan value) => value.ToString("c", CultureInfo.InvariantCulture);
}
