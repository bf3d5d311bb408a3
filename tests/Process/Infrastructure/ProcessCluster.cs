using MeshHook.Testing.Processes;
using MeshHook.Tests.Integration.Infrastructure;

namespace MeshHook.Tests.Process.Infrastructure;

/// <summary>
/// A cluster of real silo processes sharing one fresh Postgres database and one ClusterId, plus the HTTP sink
/// their http_call steps reach. Disposing it kills every silo still running and writes their output to the test log.
/// </summary>
public sealed class ProcessCluster : IAsyncDisposable
{
    /// <summary>How long a silo may take from process start to ready on a loaded two-core machine.</summary>
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly Dictionary<string, string?> _settings;
    private readonly List<ClusterSilo> _silos = [];

    private ProcessCluster(string connectionString, HttpSink sink, Dictionary<string, string?> settings)
    {
        ConnectionString = connectionString;
        Sink = sink;
        Database = new MeshHookDatabase(connectionString);
        _settings = settings;
    }

    public string ConnectionString { get; }

    public string ClusterId { get; } = $"proc-{Guid.NewGuid():N}";

    public HttpSink Sink { get; }

    public MeshHookDatabase Database { get; }

    public IReadOnlyList<ClusterSilo> Silos => _silos;

    /// <summary>Sets a configuration key (environment form) for the silos started from now on: for values known only once the cluster exists, such as the sink's address.</summary>
    public void Set(string key, string? value) => _settings[key] = value;

    /// <summary>
    /// A fresh database and sink. <paramref name="settings"/> are configuration keys in environment form
    /// (MeshHook__Shutdown__DrainTimeout); they come on top of fast recovery settings, so runs created through
    /// SQL alone are picked up within about a second.
    /// </summary>
    public static async Task<ProcessCluster> CreateAsync(string prefix, IReadOnlyDictionary<string, string?> settings)
    {
        var connectionString = await PostgresServer.CreateEmptyDatabaseAsync(prefix);
        var merged = new Dictionary<string, string?>
        {
            ["MeshHook__Recovery__SweepInterval"] = "00:00:01",
            ["MeshHook__Recovery__StalledAfter"] = "00:00:01",
            ["MeshHook__Runs__ReminderPeriod"] = "00:00:05",
            // MeshHook's own lines (run starts, the shutdown phases) and warnings from the rest, one line each, timestamped.
            ["Logging__LogLevel__Default"] = "Warning",
            ["Logging__LogLevel__MeshHook"] = "Information",
            ["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information",
            ["Logging__LogLevel__Orleans.Runtime.Silo"] = "Information",
            ["Logging__Console__FormatterName"] = "simple",
            ["Logging__Console__FormatterOptions__SingleLine"] = "true",
            ["Logging__Console__FormatterOptions__TimestampFormat"] = "HH:mm:ss.fff ",
        };
        foreach (var (key, value) in settings)
        {
            merged[key] = value;
        }

        return new ProcessCluster(connectionString, await HttpSink.StartAsync(), merged);
    }

    /// <summary>Starts silos (in parallel, on fresh ports) and waits until every one answers ready.</summary>
    public async Task<ClusterSilo[]> StartSilosAsync(params string[] names)
    {
        var silos = names.Select(Start).ToArray();
        await Task.WhenAll(silos.Select(s => s.WaitReadyAsync(StartTimeout)));
        return silos;
    }

    /// <summary>Starts one silo without waiting for it.</summary>
    public ClusterSilo Start(string name)
    {
        var environment = new Dictionary<string, string?>(_settings)
        {
            ["ConnectionStrings__MeshHook"] = ConnectionString,
            ["Orleans__ClusterId"] = ClusterId,
        };
        var process = ProgramProcess.Start(new ProgramStart($"silo {name}", BuildOutput.Silo) { Ports = ProgramPorts.Silo, Environment = environment });
        var silo = new ClusterSilo(name, process);
        _silos.Add(silo);
        return silo;
    }

    /// <summary>Publishes a definition under a fresh slug; returns the slug.</summary>
    public async Task<string> PublishAsync(string definitionJson)
    {
        var slug = $"wf-{Guid.NewGuid():N}"[..20];
        await Database.PublishAsync(slug, definitionJson);
        return slug;
    }

    public async ValueTask DisposeAsync()
    {
        var log = TestContext.Current.TestOutputHelper;
        foreach (var silo in _silos)
        {
            await silo.DisposeAsync();
            log?.WriteLine($"===== silo {silo.Name} (silo port {silo.SiloPort}, http {silo.HttpPort}), last output lines =====");
            log?.WriteLine(string.Join('\n', silo.Process.Output.Split('\n').TakeLast(150)));
        }

        await Sink.DisposeAsync();
    }
}
