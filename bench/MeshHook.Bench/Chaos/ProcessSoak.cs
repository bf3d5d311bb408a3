using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using MeshHook.Bench.Infrastructure;
using MeshHook.Testing.Processes;
using Npgsql;

namespace MeshHook.Bench.Chaos;

/// <summary>
/// The process soak: a throwaway Postgres with default durability, N real silo processes and the real gateway, the
/// workflow mix flowing through the gateway's HTTP API, and, seeded, terminations at random moments (SIGTERM mostly,
/// SIGKILL, two or all silos at once, a second SIGTERM during a drain, SIGTERM to a silo still starting, gateway
/// restarts, Postgres restarts, and once Postgres stopped while a silo drains). Every stopped process is started again.
/// At the end the load stops, every run gets the settle time to finish, and the audit and the terminations are reported.
/// </summary>
public sealed partial class ProcessSoak(ChaosOptions options, TextWriter output)
{
    /// <summary>Kubernetes' default terminationGracePeriodSeconds: a SIGTERM'd process must be gone by then.</summary>
    public static readonly TimeSpan GracePeriod = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(120);

    private readonly List<Termination> _terminations = [];
    private readonly List<ProgramProcess> _processes = [];
    private readonly Stopwatch _clock = new();
    private ProgramProcess?[] _silos = [];
    private bool[] _busy = [];
    private readonly List<Task> _background = [];
    private int _generation;
    private string _siloDll = "";
    private string _gatewayDll = "";
    private string _logs = "";
    private Dictionary<string, string?> _environment = [];
    private ProgramProcess _gateway = null!;
    private int _gatewayPort;
    private BenchPostgres _postgres = null!;
    private string _connectionString = "";
    private readonly Lock _gate = new();

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        var root = BenchMachine.RepositoryRoot();
        _siloDll = Path.Combine(root, "Silo", "bin", "Release", "net10.0", "MeshHook.Silo.dll");
        _gatewayDll = Path.Combine(root, "Gateway", "bin", "Release", "net10.0", "MeshHook.Gateway.dll");
        foreach (var dll in new[] { _siloDll, _gatewayDll })
        {
            if (!File.Exists(dll))
            {
                throw new FileNotFoundException($"build in Release first (bench/run-chaos.sh does): {dll} is missing");
            }
        }

        _logs = Path.Combine(Path.GetTempPath(), $"meshhook-chaos-{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Environment.ProcessId}");
        Directory.CreateDirectory(_logs);
        await using var postgres = await BenchPostgres.StartAsync(cancellationToken, throwaway: true);
        _postgres = postgres;
        await using var peer = await ChaosPeer.StartAsync(cancellationToken);
        _connectionString = await postgres.CreateDatabaseAsync("meshhook_chaos", cancellationToken);
        _environment = new Dictionary<string, string?>
        {
            ["ConnectionStrings__MeshHook"] = _connectionString,
            ["Orleans__ClusterId"] = $"chaos-{Environment.ProcessId}",
            [BenchApiKey.EnvironmentName] = BenchApiKey.Value,
            // The soak's peer listens on 127.0.0.1: the silos call it, the gateway accepts workflows that do.
            [ProgramProcess.LoopbackPeersKey] = "127.0.0.0/8",
            ["MeshHook__Shutdown__DrainTimeout"] = ChaosWorkflows.DrainTimeout.ToString("c", CultureInfo.InvariantCulture),
            // Several processes share this machine's cores: workstation GC, as the other process benchmarks give their silos.
            ["DOTNET_gcServer"] = "0",
            ["Logging__LogLevel__Default"] = "Warning",
            ["Logging__LogLevel__MeshHook.Silo.Shutdown"] = "Information",
            ["Logging__LogLevel__MeshHook.Silo.Hosting"] = "Information",
            ["Logging__Console__FormatterName"] = "simple",
            ["Logging__Console__FormatterOptions__SingleLine"] = "true",
            ["Logging__Console__FormatterOptions__TimestampFormat"] = "HH:mm:ss.fff ",
            ["Logging__Console__FormatterOptions__UseUtcTimestamp"] = "true",
        };

        _silos = new ProgramProcess?[options.Silos];
        _busy = new bool[options.Silos];
        try
        {
            var setup = Stopwatch.StartNew();
            // The first silo applies the schema; the others start once it is ready.
            await StartSiloAsync(0, cancellationToken);
            await Task.WhenAll(Enumerable.Range(1, options.Silos - 1).Select(i => StartSiloAsync(i, cancellationToken)));
            _gatewayPort = FreePorts.Take();
            await StartGatewayAsync(cancellationToken);
            await PublishAsync(peer.BaseAddress, cancellationToken);
            await output.WriteLineAsync($"chaos soak (process): seed {options.Seed}; {options.Silos} silo processes + gateway ready after {setup.Elapsed.TotalSeconds:F1} s; logs in {_logs}");
            await output.WriteLineAsync($"machine: {Environment.ProcessorCount} cores, load average {BenchMachine.LoadAverage()}; postgres {postgres.Origin} (fsync on)");
            await output.WriteLineAsync($"load: {options.Rate:0.#} webhooks/s through the gateway for {options.Duration.TotalMinutes:0.#} min (the rate this 2-core machine sustains with {options.Silos} silos, the gateway, Postgres and the soak sharing it); drain limit {ChaosWorkflows.DrainTimeout.TotalSeconds:0} s, grace period {GracePeriod.TotalSeconds:0} s");

            _clock.Start();
            ChaosLoad load;
            await using (load = new ChaosLoad(() => new Uri($"http://127.0.0.1:{_gatewayPort}"), options.Rate, options.Seed, output))
            {
                load.Start();
                await RunChaosAsync(cancellationToken);
                await output.WriteLineAsync($"{_clock.Elapsed.TotalSeconds,7:F1}s chaos over; waiting for restarts and the load's retries");
                await WaitBackgroundAsync();
                await load.StopAsync();
            }

            await EnsureAllUpAsync(cancellationToken);
            var accepted = load.Webhooks.Where(w => w.RunId is not null).Select(w => new AcceptedRun(w.RunId!.Value, w.Slug)).ToList();
            var settle = Stopwatch.StartNew();
            var unfinished = accepted.Select(a => a.RunId).ToList();
            while (settle.Elapsed < options.Settle)
            {
                try
                {
                    unfinished = await ChaosAudit.UnfinishedAsync(_connectionString, unfinished, cancellationToken);
                }
                catch (NpgsqlException e) when (e.IsTransient)
                {
                    // Not a verdict on the engine: the audit asks again a second later, and the final audit reads it all.
                    await output.WriteLineAsync($"{_clock.Elapsed.TotalSeconds,7:F1}s settle check failed ({e.Message}); asking again");
                }

                if (unfinished.Count == 0)
                {
                    break;
                }

                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            }

            await output.WriteLineAsync($"{_clock.Elapsed.TotalSeconds,7:F1}s settled in {settle.Elapsed.TotalSeconds:F1} s ({unfinished.Count} run(s) still unfinished)");
            var audit = await ChaosAudit.RunAsync(_connectionString, accepted, [.. peer.Requests], cancellationToken);
            var shutdowns = await ShutdownRowsAsync(cancellationToken);
            // The raw material of the figures, for a look after the fact: what was done when, and every run's history.
            await File.WriteAllTextAsync(Path.Combine(_logs, "terminations.json"), JsonSerializer.Serialize(_terminations), cancellationToken);
            await File.WriteAllTextAsync(Path.Combine(_logs, "histories.json"), JsonSerializer.Serialize(audit.Histories), cancellationToken);
            var report = new ChaosReport(options, output);
            var passed = await report.PrintAsync(audit, load, _terminations, shutdowns, _clock.Elapsed);
            await output.WriteLineAsync($"process logs: {_logs}");
            return passed ? 0 : 1;
        }
        finally
        {
            foreach (var process in _processes)
            {
                await process.DisposeAsync();
            }
        }
    }

    /// <summary>Terminations at random moments until the time is up; each stopped process is started again in the background.</summary>
    private async Task RunChaosAsync(CancellationToken cancellationToken)
    {
        var random = new Random(options.Seed);
        // Once, around the middle: Postgres stopped for a few seconds while a silo drains.
        var postgresDownAt = options.Duration * (0.35 + (0.3 * random.NextDouble()));
        var postgresDownDone = false;
        while (_clock.Elapsed < options.Duration)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(random.Next(2500, 6500)), cancellationToken);
            if (_clock.Elapsed >= options.Duration)
            {
                break;
            }

            if (!postgresDownDone && _clock.Elapsed >= postgresDownAt)
            {
                // Once per soak whatever else is going on: wait for a silo that is up to drain while Postgres is down.
                while (ReadySlots().Count == 0 && _clock.Elapsed < options.Duration + TimeSpan.FromMinutes(2))
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken);
                }

                if (ReadySlots().Count > 0)
                {
                    postgresDownDone = true;
                    await PostgresDownWhileDrainingAsync(random, cancellationToken);
                    continue;
                }
            }

            var roll = random.Next(100);
            var ready = ReadySlots();
            if (ready.Count == 0)
            {
                continue;
            }

            var slot = ready[random.Next(ready.Count)];
            switch (roll)
            {
                case < 50:
                    Background(SigtermAndRestartAsync(slot, TerminationKind.Sigterm, together: 1, random.Next(), cancellationToken));
                    break;
                case < 60:
                    Background(SigkillAndRestartAsync(slot, cancellationToken));
                    break;
                case < 67 when ready.Count >= 2:
                    foreach (var s in ready.OrderBy(_ => random.Next()).Take(2))
                    {
                        Background(SigtermAndRestartAsync(s, TerminationKind.Sigterm, together: 2, random.Next(), cancellationToken));
                    }

                    break;
                case < 70 when ready.Count == options.Silos:
                    foreach (var s in ready)
                    {
                        Background(SigtermAndRestartAsync(s, TerminationKind.Sigterm, together: options.Silos, random.Next(), cancellationToken));
                    }

                    break;
                case < 78:
                    Background(SigtermAndRestartAsync(slot, TerminationKind.Forced, together: 1, random.Next(), cancellationToken));
                    break;
                case < 86:
                    // The SIGTERM lands on the replacement while it is still starting.
                    Background(SigtermAndRestartAsync(slot, TerminationKind.Sigterm, together: 1, random.Next(), cancellationToken, termReplacementWhileStarting: true));
                    break;
                case < 93 when options.GatewayRestarts:
                    await RestartGatewayAsync(cancellationToken);
                    break;
                case < 93:
                    break;
                default:
                    await RestartPostgresAsync(cancellationToken);
                    break;
            }
        }
    }

    private List<int> ReadySlots()
    {
        lock (_gate)
        {
            return [.. Enumerable.Range(0, _silos.Length).Where(i => !_busy[i] && _silos[i] is { HasExited: false })];
        }
    }

    private void Background(Task task)
    {
        lock (_gate)
        {
            _background.Add(task);
        }
    }

    private async Task WaitBackgroundAsync()
    {
        Task[] tasks;
        lock (_gate)
        {
            tasks = [.. _background];
        }

        await Task.WhenAll(tasks);
    }

    private Termination Record(TerminationKind kind, string target, DateTime at, int? siloPort = null, int together = 1)
    {
        lock (_gate)
        {
            var termination = new Termination { Id = _terminations.Count + 1, Kind = kind, Target = target, SignalledAt = at, SiloPort = siloPort, Together = together };
            _terminations.Add(termination);
            return termination;
        }
    }

    private async Task SigtermAndRestartAsync(int slot, TerminationKind kind, int together, int seed, CancellationToken cancellationToken, bool termReplacementWhileStarting = false)
    {
        var random = new Random(seed);
        var silo = Claim(slot);
        try
        {
            var termination = Record(kind, silo.Name, silo.Terminate(), silo.SiloPort, together);
            Log($"SIGTERM {silo.Name}{(together > 1 ? $" (with {together - 1} other(s))" : "")}{(kind == TerminationKind.Forced ? ", a second one follows" : "")}");
            if (kind == TerminationKind.Forced)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(random.Next(300, 1500)), cancellationToken);
                if (!silo.HasExited)
                {
                    silo.Terminate();
                }
            }

            await AwaitExitAsync(silo, termination);
            if (termReplacementWhileStarting)
            {
                // From its first log line on (the runtime has booted and the silo's own code runs), at a random
                // moment of its start: preparing the schema, or joining the cluster.
                var starting = StartSiloProcess(slot);
                var booted = Stopwatch.StartNew();
                while (!starting.HasExited && !starting.Output.Contains("Starting: preparing the database schema", StringComparison.Ordinal) && booted.Elapsed < ReadyTimeout)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(20), cancellationToken);
                }

                await Task.Delay(TimeSpan.FromMilliseconds(random.Next(0, 2500)), cancellationToken);
                if (!starting.HasExited)
                {
                    if (await IsReadyAsync(starting))
                    {
                        // It finished starting first: it is the slot's silo now. Starting another beside it would leave
                        // this one running, untracked, for the rest of the soak (an extra silo, more load).
                        Log($"{starting.Name} was ready before its SIGTERM while starting; it stays");
                        return;
                    }

                    var early = Record(TerminationKind.SigtermStarting, starting.Name, starting.Terminate(), starting.SiloPort);
                    Log($"SIGTERM {starting.Name} while it starts");
                    await AwaitExitAsync(starting, early);
                }
            }

            await StartSiloAsync(slot, cancellationToken);
        }
        finally
        {
            Release(slot);
        }
    }

    private static async Task<bool> IsReadyAsync(ProgramProcess silo)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        try
        {
            using var response = await http.GetAsync(new Uri(silo.HttpAddress, "/health/ready"));
            return response.StatusCode == HttpStatusCode.OK;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }

    private async Task SigkillAndRestartAsync(int slot, CancellationToken cancellationToken)
    {
        var silo = Claim(slot);
        try
        {
            var held = await RunsOnSiloAsync(silo.SiloPort, cancellationToken);
            var termination = Record(TerminationKind.Sigkill, silo.Name, silo.KillHard(), silo.SiloPort);
            termination.RunsHeld = held;
            Log($"SIGKILL {silo.Name} ({held.Count} unfinished run(s) placed on it)");
            await AwaitExitAsync(silo, termination);
            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            await StartSiloAsync(slot, cancellationToken);
        }
        finally
        {
            Release(slot);
        }
    }

    private async Task PostgresDownWhileDrainingAsync(Random random, CancellationToken cancellationToken)
    {
        var ready = ReadySlots();
        var slot = ready[random.Next(ready.Count)];
        var silo = Claim(slot);
        try
        {
            await _postgres.StopServerAsync(cancellationToken);
            var stoppedAt = DateTime.UtcNow;
            var termination = Record(TerminationKind.Sigterm, silo.Name, silo.Terminate(), silo.SiloPort);
            termination.PostgresDown = true;
            Log($"Postgres stopped; SIGTERM {silo.Name} while it is down");
            await Task.Delay(TimeSpan.FromSeconds(4), cancellationToken);
            await _postgres.StartServerAsync(cancellationToken);
            Log($"Postgres started again after {(DateTime.UtcNow - stoppedAt).TotalSeconds:F1} s");
            Record(TerminationKind.PostgresRestart, "postgres (stopped during a drain)", stoppedAt);
            await AwaitExitAsync(silo, termination);
            await StartSiloAsync(slot, cancellationToken);
        }
        finally
        {
            Release(slot);
        }
    }

    private async Task RestartPostgresAsync(CancellationToken cancellationToken)
    {
        var at = DateTime.UtcNow;
        Record(TerminationKind.PostgresRestart, "postgres", at);
        await _postgres.RestartServerAsync(cancellationToken);
        Log($"Postgres restarted (pg_ctl fast) in {(DateTime.UtcNow - at).TotalSeconds:F1} s");
    }

    private async Task RestartGatewayAsync(CancellationToken cancellationToken)
    {
        var termination = Record(TerminationKind.Gateway, _gateway.Name, _gateway.Terminate());
        Log("SIGTERM gateway");
        await AwaitExitAsync(_gateway, termination);
        await StartGatewayAsync(cancellationToken);
        Log($"gateway back after {(DateTime.UtcNow - termination.SignalledAt).TotalSeconds:F1} s");
    }

    private async Task AwaitExitAsync(ProgramProcess process, Termination termination)
    {
        try
        {
            var left = termination.SignalledAt + GracePeriod - DateTime.UtcNow;
            termination.ExitedAt = await process.Exited.WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero);
        }
        catch (TimeoutException)
        {
            termination.OverGrace = true;
            process.KillHard();
            termination.ExitedAt = await process.Exited;
        }

        termination.ExitCode = process.ExitCode;
        termination.StoppedWhileStarting = process.Output.Contains("Stop requested while starting", StringComparison.Ordinal);
        termination.ReportLine = process.Output.Split('\n').LastOrDefault(l => l.Contains("Shutdown report:", StringComparison.Ordinal))?.Trim();
        Log($"{process.Name} exited {process.ExitCode} after {(termination.ExitedAt.Value - termination.SignalledAt).TotalSeconds:F1} s{(termination.OverGrace ? " (killed at the grace period)" : "")}");
    }

    private ProgramProcess Claim(int slot)
    {
        lock (_gate)
        {
            _busy[slot] = true;
            return _silos[slot]!;
        }
    }

    private void Release(int slot)
    {
        lock (_gate)
        {
            _busy[slot] = false;
        }
    }

    private ProgramProcess StartSiloProcess(int slot)
    {
        lock (_gate)
        {
            var generation = ++_generation;
            var process = ProgramProcess.Start(new ProgramStart($"silo{slot}.{generation}", _siloDll)
            {
                Ports = ProgramPorts.Silo,
                Environment = _environment,
                LogFile = Path.Combine(_logs, $"silo{slot}.{generation}.log"),
            });
            _processes.Add(process);
            _silos[slot] = process;
            return process;
        }
    }

    /// <summary>Starts a silo in the slot and waits until it is ready; a start that fails (Postgres down) is tried again.</summary>
    private async Task StartSiloAsync(int slot, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var process = StartSiloProcess(slot);
            try
            {
                await process.WaitReadyAsync(ReadyTimeout, cancellationToken);
                return;
            }
            catch (InvalidOperationException) when (process.HasExited && attempt < 30)
            {
                Log($"{process.Name} exited {process.ExitCode} while starting (Postgres down?); starting another");
                await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
            }
        }
    }

    private async Task StartGatewayAsync(CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var gateway = ProgramProcess.Start(new ProgramStart("gateway", _gatewayDll)
            {
                Ports = ProgramPorts.Http,
                HttpPort = _gatewayPort,
                Environment = _environment,
                LogFile = Path.Combine(_logs, "gateway.log"),
            });
            lock (_gate)
            {
                _processes.Add(gateway);
                _gateway = gateway;
            }

            try
            {
                // Listening is enough: intake stores runs whether or not the gateway has reached the cluster yet.
                await gateway.WaitHealthyAsync("/health/live", ReadyTimeout, cancellationToken);
                return;
            }
            catch (InvalidOperationException) when (gateway.HasExited && attempt < 30)
            {
                Log($"gateway exited {gateway.ExitCode} while starting; starting another");
                await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
            }
        }
    }

    /// <summary>After the chaos: every slot and the gateway running and ready, so the settle phase has a full cluster.</summary>
    private async Task EnsureAllUpAsync(CancellationToken cancellationToken)
    {
        for (var slot = 0; slot < _silos.Length; slot++)
        {
            if (_silos[slot] is not { HasExited: false })
            {
                await StartSiloAsync(slot, cancellationToken);
            }
        }

        if (_gateway.HasExited)
        {
            await StartGatewayAsync(cancellationToken);
        }
    }

    private async Task PublishAsync(Uri peer, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = _gateway.HttpAddress }.Authorized();
        foreach (var workflow in ChaosWorkflows.All)
        {
            using var response = await http.PutAsync(
                $"/api/workflows/{workflow.Slug}",
                new StringContent($$"""{"name": "chaos: {{workflow.Slug}}", "definition": {{workflow.Definition(peer)}}}""", Encoding.UTF8, "application/json"),
                cancellationToken);
            if (response.StatusCode != HttpStatusCode.Created)
            {
                throw new InvalidOperationException($"publishing {workflow.Slug} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken)}");
            }
        }
    }

    private async Task<List<Guid>> RunsOnSiloAsync(int port, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = new NpgsqlConnection(_connectionString);
            await connection.OpenAsync(cancellationToken);
            await using var command = new NpgsqlCommand("SELECT id FROM workflow_runs WHERE status IN ('queued', 'running') AND silo LIKE @pattern", connection);
            command.Parameters.AddWithValue("pattern", $"%:{port.ToString(CultureInfo.InvariantCulture)}:%");
            var ids = new List<Guid>();
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                ids.Add(reader.GetGuid(0));
            }

            return ids;
        }
        catch (NpgsqlException)
        {
            // Postgres is restarting: this crash's recovery is just not measured.
            return [];
        }
    }

    private async Task<List<ShutdownRow>> ShutdownRowsAsync(CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT silo_name, silo_address, duration_ms, drain_ms, hand_off_ms, steps_completed, steps_interrupted, runs_handed_off, forced FROM meshhook_shutdowns", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<ShutdownRow>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new ShutdownRow(reader.GetString(0), reader.GetString(1), reader.GetInt32(2), reader.GetInt32(3), reader.GetInt32(4), reader.GetInt32(5), reader.GetInt32(6), reader.GetInt32(7), reader.GetBoolean(8)));
        }

        return rows;
    }

    private void Log(string line)
    {
        var text = $"{_clock.Elapsed.TotalSeconds,7:F1}s {line}";
        lock (_gate)
        {
            output.WriteLine(text);
        }
    }
}

/// <summary>A row of meshhook_shutdowns.</summary>
public sealed record ShutdownRow(string Silo, string Address, int DurationMs, int DrainMs, int HandOffMs, int StepsCompleted, int StepsInterrupted, int RunsHandedOff, bool Forced);
