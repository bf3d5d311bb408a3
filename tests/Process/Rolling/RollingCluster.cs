using System.Diagnostics;
using MeshHook.Testing.Processes;
using MeshHook.Tests.Integration.Infrastructure;
using MeshHook.Tests.Process.Infrastructure;
using Npgsql;

namespace MeshHook.Tests.Process.Rolling;

/// <summary>
/// Real silo processes and the real gateway process on a throwaway database (one per cluster), with the
/// configuration an operator would use: product defaults except for ports, cluster id and log levels.
/// Every process it ever started is killed on dispose, also when a test fails half-way.
/// </summary>
public sealed class RollingCluster : IAsyncDisposable
{
    /// <summary>The API key of the cluster's gateway (<c>MeshHook:Gateway:ApiKeys:0</c>).</summary>
    public const string ApiKey = "rolling-restart-tests-key-0001";

    private readonly List<ProgramProcess> _started = [];
    private readonly ProgramProcess?[] _silos;
    private int _generation;

    private readonly IReadOnlyDictionary<string, string?> _settings;

    private RollingCluster(string connectionString, int silos, IReadOnlyDictionary<string, string?>? settings)
    {
        ConnectionString = connectionString;
        _settings = settings ?? new Dictionary<string, string?>();
        ClusterId = $"rolling-{Guid.NewGuid():N}"[..20];
        _silos = new ProgramProcess?[silos];
    }

    public string ConnectionString { get; }

    public string ClusterId { get; }

    /// <summary>The silo currently in slot <paramref name="index"/>.</summary>
    public ProgramProcess Silo(int index) => _silos[index] ?? throw new InvalidOperationException($"silo slot {index} is empty");

    public int SiloCount => _silos.Length;

    public ProgramProcess Gateway { get; private set; } = null!;

    /// <summary>Every process started so far, stopped ones included (for their logs).</summary>
    public IReadOnlyList<ProgramProcess> AllProcesses
    {
        get
        {
            lock (_started)
            {
                return [.. _started];
            }
        }
    }

    /// <summary>A fresh database, <paramref name="silos"/> silos (started together; they migrate under the advisory lock), then the gateway.</summary>
    /// <param name="silos">How many silos.</param>
    /// <param name="readyTimeout">How long each process may take to answer ready.</param>
    /// <param name="settings">Environment for every process (silos and gateway), on top of the cluster's own.</param>
    public static async Task<RollingCluster> StartAsync(int silos, TimeSpan readyTimeout, IReadOnlyDictionary<string, string?>? settings = null)
    {
        // Each silo has two pools (the engine's data source and Orleans' ADO.NET providers), the gateway two more:
        // at Npgsql's default of 100 each, two silos and the gateway could ask for 600 connections of the test
        // server's 400 (scripts/pg.sh). 50 per pool keeps the worst case at 300, as an operator would size it.
        var connectionString = new NpgsqlConnectionStringBuilder(await PostgresServer.CreateEmptyDatabaseAsync("rolling")) { MaxPoolSize = 50 }.ConnectionString;
        var cluster = new RollingCluster(connectionString, silos, settings);
        try
        {
            for (var i = 0; i < silos; i++)
            {
                cluster._silos[i] = cluster.StartSilo();
            }

            await Task.WhenAll(cluster._silos.Select(s => s!.WaitReadyAsync(readyTimeout)));
            cluster.Gateway = cluster.Track(ProgramProcess.Start(new ProgramStart("gateway", BuildOutput.Gateway)
            {
                Ports = ProgramPorts.Http,
                Environment = cluster.WithSettings(new Dictionary<string, string?>
                {
                    ["ConnectionStrings__MeshHook"] = connectionString,
                    ["Orleans__ClusterId"] = cluster.ClusterId,
                    ["MeshHook__Gateway__ApiKeys__0"] = ApiKey,
                    [ProgramProcess.LoopbackPeersKey] = "127.0.0.0/8",
                    ["Logging__LogLevel__Default"] = "Warning",
                    ["Logging__LogLevel__MeshHook.Gateway.Cluster"] = "Information",
                    ["Logging__Console__FormatterOptions__SingleLine"] = "true",
                    ["Logging__Console__FormatterOptions__TimestampFormat"] = "HH:mm:ss.fff ",
                }),
            }));
            await cluster.Gateway.WaitReadyAsync(readyTimeout);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// SIGTERM to the silo in slot <paramref name="index"/>, waits for it to exit, starts a new silo process in its
    /// place (new ports, as a rescheduled container gets) and waits until it is ready.
    /// </summary>
    public async Task<SiloRestart> RestartSiloAsync(int index, TimeSpan exitTimeout, TimeSpan readyTimeout)
    {
        var old = Silo(index);
        var clock = Stopwatch.StartNew();
        old.Terminate();
        var exitCode = await old.WaitForExitAsync(exitTimeout);
        var stopped = clock.Elapsed;
        var replacement = StartSilo();
        _silos[index] = replacement;
        await replacement.WaitReadyAsync(readyTimeout);
        return new SiloRestart(old.Name, replacement.Name, exitCode, stopped, clock.Elapsed - stopped);
    }

    /// <summary>The last lines of every process's output, for a failure message.</summary>
    public string Explain() =>
        "process output:\n" + string.Join("\n", AllProcesses.Select(p =>
            $"--- {p.Name} (pid {p.Id}{(p.HasExited ? $", exited {p.ExitCode}" : "")}) ---\nwarnings and errors, first of each kind:\n{p.Problems()}\nlast lines:\n{p.Tail(20)}"));

    /// <summary>Writes every process's whole output to a fresh folder under the temp directory; returns the folder.</summary>
    public string SaveLogs()
    {
        var folder = Path.Combine(Path.GetTempPath(), "meshhook-rolling-logs", $"{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Environment.ProcessId}");
        Directory.CreateDirectory(folder);
        foreach (var process in AllProcesses)
        {
            File.WriteAllText(Path.Combine(folder, $"{process.Name}.log"), process.Output);
        }

        return folder;
    }

    public async ValueTask DisposeAsync()
    {
        // The gateway first (it is a client of the silos), then the silos; each is killed only if still running.
        foreach (var process in AllProcesses.OrderBy(p => p.Name.StartsWith("gateway", StringComparison.Ordinal) ? 0 : 1))
        {
            await process.DisposeAsync();
        }
    }

    /// <summary>
    /// Waits until the silo in slot <paramref name="index"/> holds at least <paramref name="runs"/> running runs (by the <c>silo</c> column of
    /// workflow_runs, which names the silo that checkpointed a run last), so that its SIGTERM lands under load.
    /// </summary>
    public async Task<long> WaitHostingRunsAsync(int index, int runs, TimeSpan timeout)
    {
        var silo = Silo(index);
        var address = $"S127.0.0.1:{silo.SiloPort}:%";
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            await using var command = new NpgsqlCommand("SELECT count(*) FROM workflow_runs WHERE status = 'running' AND silo LIKE @address", connection);
            command.Parameters.AddWithValue("address", address);
            var running = (long)(await command.ExecuteScalarAsync())!;
            if (running >= runs)
            {
                return running;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{silo.Name} ({address}) ran fewer than {runs} runs at once within {timeout.TotalSeconds} s of load: placement hardly used it");
            }

            await Task.Delay(100);
        }
    }

    private ProgramProcess StartSilo()
    {
        var generation = Interlocked.Increment(ref _generation);
        return Track(ProgramProcess.Start(new ProgramStart($"silo-{generation}", BuildOutput.Silo)
        {
            Ports = ProgramPorts.Silo,
            Environment = WithSettings(new Dictionary<string, string?>
            {
                ["ConnectionStrings__MeshHook"] = ConnectionString,
                ["Orleans__ClusterId"] = ClusterId,
                ["Logging__LogLevel__Default"] = "Warning",
                ["Logging__LogLevel__MeshHook.Silo.Shutdown"] = "Information",
                ["Logging__Console__FormatterOptions__SingleLine"] = "true",
                ["Logging__Console__FormatterOptions__TimestampFormat"] = "HH:mm:ss.fff ",
            }),
        }));
    }

    private Dictionary<string, string?> WithSettings(Dictionary<string, string?> environment)
    {
        foreach (var (key, value) in _settings)
        {
            environment[key] = value;
        }

        return environment;
    }

    private ProgramProcess Track(ProgramProcess process)
    {
        lock (_started)
        {
            _started.Add(process);
        }

        return process;
    }
}

/// <summary>One silo's turn in a rolling restart: exit code after SIGTERM, signal-to-exit and start-to-ready times.</summary>
public sealed record SiloRestart(string Stopped, string Started, int ExitCode, TimeSpan SignalToExit, TimeSpan StartToReady);
