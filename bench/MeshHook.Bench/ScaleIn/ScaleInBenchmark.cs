using System.Diagnostics;
using MeshHook.Bench.Infrastructure;
using MeshHook.Grains;
using MeshHook.Grains.Runs;
using MeshHook.Silo.Hosting;
using MeshHook.Testing.Processes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace MeshHook.Bench.ScaleIn;

/// <summary>
/// Scale-in with real silo processes and real signals. Per round, on a fresh database: N silos (A, B, C, ...), R runs
/// started through an Orleans client and spread over them, each a long chain of http_calls the sink holds 100-300 ms.
/// Then (a)+(b): SIGTERM A, time its exit and its runs' next steps elsewhere; A is started again (A'); then (c): SIGKILL
/// B and time its runs' next steps elsewhere. Finally the sink answers 410 so every run ends, the silos left are
/// stopped, and the history is checked (every run finished, seqs gapless, no checkpointed step repeated).
/// </summary>
public sealed class ScaleInBenchmark(ScaleInOptions options, TextWriter output)
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan FinishTimeout = TimeSpan.FromSeconds(180);

    private readonly List<ProgramProcess> _processes = [];

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        BenchPostgres? postgres = null;
        DelaySink? sink = null;
        var logs = Path.Combine(Path.GetTempPath(), $"meshhook-scalein-{Environment.ProcessId}");
        Directory.CreateDirectory(logs);
        try
        {
            var started = Stopwatch.StartNew();
            var siloDll = FindSiloDll();
            postgres = await BenchPostgres.StartAsync(cancellationToken);
            sink = await DelaySink.StartAsync(options.MinDelay, options.MaxDelay, cancellationToken);
            await PrintSetupAsync(postgres, siloDll, logs, cancellationToken);

            var rounds = new List<RoundResult>();
            for (var round = 1; round <= options.Rounds; round++)
            {
                sink.Reset();
                rounds.Add(await RunRoundAsync(round, postgres, sink, siloDll, logs, cancellationToken));
            }

            ScaleInReport.Print(output, options, rounds, started.Elapsed);
        }
        finally
        {
            // Every process started is stopped, whatever happened above (a silo still running is killed).
            foreach (var process in _processes)
            {
                await process.DisposeAsync();
            }

            if (sink is not null)
            {
                await sink.DisposeAsync();
            }

            if (postgres is not null)
            {
                await postgres.DisposeAsync();
            }
        }
    }

    private async Task PrintSetupAsync(BenchPostgres postgres, string siloDll, string logs, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(postgres.AdminConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("""
            SELECT current_setting('server_version'), current_setting('fsync'), current_setting('synchronous_commit'), current_setting('max_connections')
            """, connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        output.WriteLine($"postgres {reader.GetString(0)} ({postgres.Origin}): fsync={reader.GetString(1)} synchronous_commit={reader.GetString(2)} max_connections={reader.GetString(3)}");
        output.WriteLine($"machine: {Environment.ProcessorCount} cores; silo: {siloDll}; silo logs in {logs}");
        output.WriteLine($"{options.Runs} runs × chain of {options.Steps} http_calls (sink holds each {options.MinDelay.TotalMilliseconds:0}-{options.MaxDelay.TotalMilliseconds:0} ms), " +
            $"{options.Silos} silo processes, {options.Rounds} round(s); warm-up {options.Warmup.TotalSeconds:0.#} s, settle {options.Settle.TotalSeconds:0.#} s");
        output.WriteLine("silo settings: " + string.Join(" ", options.SiloSettings(round: 2).Select(s => $"{s.Key}={s.Value}")) +
            (options.FastExit == "alternate" ? "; odd rounds also MeshHook__Shutdown__FastExit=false" : ""));
        output.WriteLine();
    }

    private async Task<RoundResult> RunRoundAsync(int round, BenchPostgres postgres, DelaySink sink, string siloDll, string logs, CancellationToken cancellationToken)
    {
        var connectionString = await postgres.CreateDatabaseAsync("meshhook_scalein", cancellationToken);
        await SchemaMigrator.MigrateAsync(connectionString, NullLogger.Instance, cancellationToken);
        await using var data = new NpgsqlDataSourceBuilder(connectionString) { Name = "scalein-bench" }.Build();
        var store = new RunStore(data);
        await store.PublishAsync(ChainWorkflow.Slug, "benchmark: scale-in chain", ChainWorkflow.Definition(sink.BaseAddress, options.Steps), secret: null, cancellationToken);

        var clusterId = $"scalein-{Environment.ProcessId}-{round}";
        var environment = new Dictionary<string, string?>
        {
            ["ConnectionStrings__MeshHook"] = connectionString,
            ["Orleans__ClusterId"] = clusterId,
            ["Orleans__ServiceId"] = "meshhook-bench",
            // Several silos share this machine's cores: server GC (the Web SDK default) would give each process a heap
            // and a GC thread per core and stall them all for seconds; a container with its own cores would not see that.
            ["DOTNET_gcServer"] = "0",
            ["Logging__LogLevel__Default"] = "Warning",
            ["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information",
            ["Logging__LogLevel__MeshHook.Silo.Shutdown"] = "Information",
            ["Logging__LogLevel__MeshHook.Silo.Recovery"] = "Information",
            ["Logging__Console__FormatterName"] = "simple",
            ["Logging__Console__FormatterOptions__SingleLine"] = "true",
            ["Logging__Console__FormatterOptions__TimestampFormat"] = "HH:mm:ss.fff ",
            ["Logging__Console__FormatterOptions__UseUtcTimestamp"] = "true",
        };
        foreach (var (key, value) in options.SiloSettings(round))
        {
            environment[key] = value;
        }

        var setup = Stopwatch.StartNew();
        var names = Enumerable.Range(0, options.Silos).Select(i => ((char)('A' + i)).ToString()).ToArray();
        var silos = names.Select(name => StartSilo(name, round, siloDll, logs, environment)).ToArray();
        await Task.WhenAll(silos.Select(s => s.WaitReadyAsync(ReadyTimeout, cancellationToken)));
        var siloReady = setup.Elapsed;

        // What intake does: the durable run row, then StartAsync through an Orleans client (placement spreads the activations).
        var runIds = new Guid[options.Runs];
        await Parallel.ForEachAsync(Enumerable.Range(0, options.Runs), new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = cancellationToken },
            async (i, token) => runIds[i] = (await store.CreateRunAsync(ChainWorkflow.Slug, ChainWorkflow.Trigger(i), idempotencyKey: null, token)).RunId);
        await StartRunsAsync(connectionString, clusterId, runIds, cancellationToken);
        var runsStarted = setup.Elapsed - siloReady;
        output.WriteLine($"round {round}: silos {string.Join(", ", silos.Select(s => $"{s.Name} pid {s.Id}"))} ready after {siloReady.TotalSeconds:F1} s; " +
            $"{options.Runs} runs started in {runsStarted.TotalSeconds:F1} s");

        await Task.Delay(options.Warmup, cancellationToken);
        var (stepRate, runsStepping) = StepRate(sink, DateTime.UtcNow, TimeSpan.FromSeconds(5));
        output.WriteLine($"round {round}: before SIGTERM {stepRate:F0} steps/s at the sink (last 5 s, {stepRate / options.Runs:F2} per run), {runsStepping} of {options.Runs} runs made a request in it");

        // (a) + (b): graceful stop of A.
        var a = silos[0];
        var aName = await SiloNameAsync(data, a, cancellationToken);
        var signal = a.Terminate();
        var exited = await a.Exited.WaitAsync(options.DrainTimeout + TimeSpan.FromSeconds(60), cancellationToken);
        var notMovedAfterDrain = await WaitAllMovedAsync(sink, runIds, exited, cancellationToken);
        var drain = await MeasureDrainAsync(data, sink, aName, a, signal, exited, notMovedAfterDrain, cancellationToken);
        output.WriteLine(drain.Line(round));

        // A comes back (A'), so the crash hits a cluster of the same size.
        var again = StartSilo($"{a.Name}'", round, siloDll, logs, environment);
        await again.WaitReadyAsync(ReadyTimeout, cancellationToken);
        await Task.Delay(options.Settle, cancellationToken);

        // (c): crash of B.
        var b = silos[1];
        var bAddress = await SiloAddressAsync(data, b, cancellationToken);
        using var watchDeath = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var killed = b.KillHard();
        var declaredDead = WatchDeclaredDeadAsync(data, b, watchDeath.Token);
        await b.Exited.WaitAsync(TimeSpan.FromSeconds(10), cancellationToken);
        var notMovedAfterCrash = await WaitAllMovedAsync(sink, runIds, killed, cancellationToken);
        await watchDeath.CancelAsync();
        var crash = await MeasureCrashAsync(data, sink, bAddress, killed, await declaredDead, notMovedAfterCrash, cancellationToken);
        output.WriteLine(crash.Line(round));

        // The end: every run fails at its next step with 410; the silos left stop gracefully; then the history is checked.
        sink.EndRuns();
        var unfinished = await WaitFinishedAsync(data, cancellationToken);
        var alive = silos.Skip(2).Append(again).ToArray();
        foreach (var silo in alive)
        {
            silo.Terminate();
        }

        foreach (var silo in alive)
        {
            await silo.Exited.WaitAsync(options.DrainTimeout + TimeSpan.FromSeconds(60), cancellationToken);
        }

        var checks = await CheckAsync(data, sink, unfinished, alive.Select(s => (s.Name, s.ExitCode)).Append((a.Name, a.ExitCode)).ToArray(), cancellationToken);
        output.WriteLine(checks.Line(round));
        output.WriteLine();
        NpgsqlConnection.ClearAllPools();
        return new RoundResult(round, stepRate, drain, crash, checks);
    }

    private ProgramProcess StartSilo(string name, int round, string siloDll, string logs, IReadOnlyDictionary<string, string?> environment)
    {
        var silo = ProgramProcess.Start(new ProgramStart(name, siloDll)
        {
            Ports = ProgramPorts.Silo,
            Environment = environment,
            LogFile = Path.Combine(logs, $"round{round}-{name.Replace('\'', '2')}.log"),
        });
        _processes.Add(silo);
        return silo;
    }

    private static async Task StartRunsAsync(string connectionString, string clusterId, Guid[] runIds, CancellationToken cancellationToken)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders().AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning);
        builder.UseOrleansClient(client =>
        {
            client.Configure<Orleans.Configuration.ClusterOptions>(o =>
            {
                o.ClusterId = clusterId;
                o.ServiceId = "meshhook-bench";
            });
            client.UseAdoNetClustering(o =>
            {
                o.Invariant = MeshHookSiloBuilderExtensions.Invariant;
                o.ConnectionString = connectionString;
            });
        });
        using var host = builder.Build();
        await host.StartAsync(cancellationToken);
        try
        {
            var grains = host.Services.GetRequiredService<IClusterClient>();
            await Parallel.ForEachAsync(runIds, new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = cancellationToken },
                async (runId, _) => await grains.GetGrain<IWorkflowRunGrain>(runId).StartAsync());
        }
        finally
        {
            // The client is not needed any more: it would only see silos leave.
            await host.StopAsync(CancellationToken.None);
        }
    }

    /// <summary>Requests per second the sink got in the window before <paramref name="until"/>, and how many runs made one.</summary>
    private static (double Rate, int Runs) StepRate(DelaySink sink, DateTime until, TimeSpan window)
    {
        var inWindow = sink.Requests.Where(r => !r.Ended && r.Arrived > until - window && r.Arrived <= until).ToArray();
        return (inWindow.Length / window.TotalSeconds, inWindow.Select(r => r.RunId).Distinct().Count());
    }

    private static async Task<string> SiloNameAsync(NpgsqlDataSource data, ProgramProcess silo, CancellationToken cancellationToken)
    {
        await using var command = data.CreateCommand("SELECT silo_name FROM orleans_membership WHERE port = @port ORDER BY generation DESC LIMIT 1");
        command.Parameters.AddWithValue("port", silo.SiloPort);
        return (string?)await command.ExecuteScalarAsync(cancellationToken) ?? throw new InvalidOperationException($"silo {silo.Name} is not in the membership table");
    }

    /// <summary>The silo's address as run_resumed names it: S{ip}:{port}:{generation}.</summary>
    private static async Task<string> SiloAddressAsync(NpgsqlDataSource data, ProgramProcess silo, CancellationToken cancellationToken)
    {
        await using var command = data.CreateCommand("SELECT 'S' || address || ':' || port || ':' || generation FROM orleans_membership WHERE port = @port ORDER BY generation DESC LIMIT 1");
        command.Parameters.AddWithValue("port", silo.SiloPort);
        return (string?)await command.ExecuteScalarAsync(cancellationToken) ?? throw new InvalidOperationException($"silo {silo.Name} is not in the membership table");
    }

    /// <summary>Polls the membership table until the silo is marked Dead (6); returns when that was first seen, or null.</summary>
    private static async Task<DateTime?> WatchDeclaredDeadAsync(NpgsqlDataSource data, ProgramProcess silo, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                await using (var command = data.CreateCommand("SELECT max(status) FROM orleans_membership WHERE port = @port"))
                {
                    command.Parameters.AddWithValue("port", silo.SiloPort);
                    if (await command.ExecuteScalarAsync(cancellationToken) is int status && status == 6)
                    {
                        return DateTime.UtcNow;
                    }
                }

                await Task.Delay(200, cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>Waits until every run made a sink request after <paramref name="since"/>; returns how many did not within the move timeout.</summary>
    private async Task<int> WaitAllMovedAsync(DelaySink sink, Guid[] runIds, DateTime since, CancellationToken cancellationToken)
    {
        var waiting = new HashSet<Guid>(runIds);
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            foreach (var request in sink.Requests)
            {
                if (request.Arrived > since)
                {
                    waiting.Remove(request.RunId);
                }
            }

            if (waiting.Count == 0 || deadline.Elapsed > options.MoveTimeout)
            {
                return waiting.Count;
            }

            await Task.Delay(250, cancellationToken);
        }
    }

    private static async Task<long> WaitFinishedAsync(NpgsqlDataSource data, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            await using var command = data.CreateCommand("SELECT count(*) FROM workflow_runs WHERE status NOT IN ('succeeded', 'failed', 'canceled')");
            var unfinished = (long)(await command.ExecuteScalarAsync(cancellationToken))!;
            if (unfinished == 0 || deadline.Elapsed > FinishTimeout)
            {
                return unfinished;
            }

            await Task.Delay(500, cancellationToken);
        }
    }

    private static async Task<DrainResult> MeasureDrainAsync(
        NpgsqlDataSource data, DelaySink sink, string aName, ProgramProcess a, DateTime signal, DateTime exited, int notMoved, CancellationToken cancellationToken)
    {
        // Per run A let go of: when (its first run_handed_off or run_interrupted naming A; a hand-off whose save failed
        // leaves only the interruption), when it resumed elsewhere, its first step_started there.
        const string sql = """
            WITH h AS (
                SELECT DISTINCT ON (run_id) run_id, seq, ts FROM workflow_events
                WHERE type IN ('run_handed_off', 'run_interrupted') AND payload->>'silo' = @silo ORDER BY run_id, seq),
            r AS (
                SELECT DISTINCT ON (h.run_id) h.run_id, e.seq, e.ts FROM h
                JOIN workflow_events e ON e.run_id = h.run_id AND e.seq > h.seq AND e.type = 'run_resumed' ORDER BY h.run_id, e.seq),
            s AS (
                SELECT DISTINCT ON (r.run_id) r.run_id, e.ts FROM r
                JOIN workflow_events e ON e.run_id = r.run_id AND e.seq > r.seq AND e.type = 'step_started' ORDER BY r.run_id, e.seq)
            SELECT h.run_id, h.ts, r.ts, s.ts FROM h LEFT JOIN r USING (run_id) LEFT JOIN s USING (run_id)
            """;
        var handedOff = new Dictionary<Guid, (DateTime HandedOff, DateTime? Resumed, DateTime? Step)>();
        await using (var command = data.CreateCommand(sql))
        {
            command.Parameters.AddWithValue("silo", aName);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                handedOff[reader.GetGuid(0)] = (reader.GetDateTime(1), reader.IsDBNull(2) ? null : reader.GetDateTime(2), reader.IsDBNull(3) ? null : reader.GetDateTime(3));
            }
        }

        var interrupted = await CountAsync(data, "SELECT count(*) FROM workflow_events WHERE type = 'run_interrupted' AND payload->>'silo' = @p", aName, cancellationToken);
        var handOffEvents = await CountAsync(data, "SELECT count(*) FROM workflow_events WHERE type = 'run_handed_off' AND payload->>'silo' = @p", aName, cancellationToken);
        var report = await ShutdownRowAsync(data, aName, cancellationToken);

        // A's requests: requests of its runs that arrived before the run was handed off. The in-flight steps are those
        // still held at the signal or arriving after it (they had entered their step before the signal).
        var requests = sink.Requests;
        var aRequests = requests
            .Where(r => !r.Ended && handedOff.TryGetValue(r.RunId, out var h) && r.Arrived < h.HandedOff)
            .ToArray();
        var inFlight = aRequests.Where(r => (r.Answered ?? r.Aborted ?? DateTime.MaxValue) > signal).ToArray();
        var stepsDone = inFlight.Length == 0 ? TimeSpan.Zero : inFlight.Max(r => (r.Answered ?? r.Aborted ?? exited) - signal);
        var heldAtSignal = inFlight.Where(r => r.Arrived <= signal).ToArray();
        var longestHeld = heldAtSignal.Length == 0 ? TimeSpan.Zero : heldAtSignal.Max(r => (r.Answered ?? r.Aborted ?? exited) - signal);

        var fromExit = handedOff.Values.Where(h => h.Step is not null).Select(h => h.Step!.Value - exited).Order().ToArray();
        var fromHandOff = handedOff.Values.Where(h => h.Step is not null).Select(h => h.Step!.Value - h.HandedOff).Order().ToArray();
        var bySink = new List<TimeSpan>();
        foreach (var group in requests.Where(r => handedOff.ContainsKey(r.RunId)).GroupBy(r => r.RunId))
        {
            var after = group.Where(r => r.Arrived > handedOff[group.Key].HandedOff).Select(r => r.Arrived).DefaultIfEmpty(DateTime.MaxValue).Min();
            if (after != DateTime.MaxValue)
            {
                bySink.Add(after - exited);
            }
        }

        return new DrainResult(
            ExitCode: a.ExitCode,
            Exit: exited - signal,
            ReapedAfterExit: await a.Reaped - exited,
            StepsDone: stepsDone,
            LongestHeldAtSignal: longestHeld,
            StepsInFlight: inFlight.Length,
            ArrivedAfterSignal: inFlight.Length - heldAtSignal.Length,
            HandedOff: handedOff.Count,
            Interrupted: interrupted,
            HandOffEvents: handOffEvents,
            Report: report,
            NextStepFromExit: Stats.Of(fromExit),
            NextStepFromHandOff: Stats.Of(fromHandOff),
            NextRequestFromExit: Stats.Of(bySink.Order().ToArray()),
            NoNextStep: handedOff.Values.Count(h => h.Step is null),
            NotMoved: notMoved);
    }

    private static async Task<CrashResult> MeasureCrashAsync(
        NpgsqlDataSource data, DelaySink sink, string bAddress, DateTime killed, DateTime? declaredDead, int notMoved, CancellationToken cancellationToken)
    {
        // B's runs are the ones that needed a new activation after the kill: their first event after it is run_resumed.
        const string sql = """
            WITH r AS (
                SELECT DISTINCT ON (run_id) run_id, seq, ts, payload->>'address' AS address FROM workflow_events
                WHERE type = 'run_resumed' AND ts > @killed ORDER BY run_id, seq),
            s AS (
                SELECT DISTINCT ON (r.run_id) r.run_id, e.ts FROM r
                JOIN workflow_events e ON e.run_id = r.run_id AND e.seq > r.seq AND e.type = 'step_started' ORDER BY r.run_id, e.seq)
            SELECT r.run_id, r.ts, s.ts, r.address FROM r LEFT JOIN s USING (run_id)
            """;
        var resumed = new Dictionary<Guid, (DateTime Resumed, DateTime? Step)>();
        var onB = 0;
        await using (var command = data.CreateCommand(sql))
        {
            command.Parameters.AddWithValue("killed", killed);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                resumed[reader.GetGuid(0)] = (reader.GetDateTime(1), reader.IsDBNull(2) ? null : reader.GetDateTime(2));
                onB += !reader.IsDBNull(3) && reader.GetString(3) == bAddress ? 1 : 0;
            }
        }

        var requests = sink.Requests;
        var heldAtKill = requests.Count(r => resumed.ContainsKey(r.RunId) && r.Arrived <= killed && (r.Answered ?? r.Aborted ?? DateTime.MaxValue) > killed);
        var bySink = new List<TimeSpan>();
        foreach (var group in requests.Where(r => resumed.ContainsKey(r.RunId)).GroupBy(r => r.RunId))
        {
            var after = group.Where(r => r.Arrived > resumed[group.Key].Resumed).Select(r => r.Arrived).DefaultIfEmpty(DateTime.MaxValue).Min();
            if (after != DateTime.MaxValue)
            {
                bySink.Add(after - killed);
            }
        }

        return new CrashResult(
            Resumed: resumed.Count,
            ResumedOnKilled: onB,
            HeldAtKill: heldAtKill,
            DeclaredDead: declaredDead is { } dead ? dead - killed : null,
            FirstResume: resumed.Count == 0 ? null : resumed.Values.Min(r => r.Resumed) - killed,
            NextStep: Stats.Of(resumed.Values.Where(r => r.Step is not null).Select(r => r.Step!.Value - killed).Order().ToArray()),
            NextRequest: Stats.Of(bySink.Order().ToArray()),
            NoNextStep: resumed.Values.Count(r => r.Step is null),
            NotMoved: notMoved);
    }

    private static async Task<ShutdownRow?> ShutdownRowAsync(NpgsqlDataSource data, string siloName, CancellationToken cancellationToken)
    {
        await using var command = data.CreateCommand("""
            SELECT duration_ms, drain_ms, hand_off_ms, hooks_ms, steps_completed, steps_interrupted, runs_handed_off, forced
            FROM meshhook_shutdowns WHERE silo_name = @name ORDER BY id DESC LIMIT 1
            """);
        command.Parameters.AddWithValue("name", siloName);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new ShutdownRow(reader.GetInt32(0), reader.GetInt32(1), reader.GetInt32(2), reader.GetInt32(3), reader.GetInt32(4), reader.GetInt32(5), reader.GetInt32(6), reader.GetBoolean(7))
            : null;
    }

    private static async Task<Checks> CheckAsync(NpgsqlDataSource data, DelaySink sink, long unfinished, (string Name, int ExitCode)[] exits, CancellationToken cancellationToken)
    {
        var succeeded = await CountAsync(data, "SELECT count(*) FROM workflow_runs WHERE status = 'succeeded' AND @p = @p", "", cancellationToken);
        var endedBySink = await CountAsync(data, "SELECT count(*) FROM workflow_runs WHERE status = 'failed' AND error LIKE @p", "%HTTP 410%", cancellationToken);
        var otherEnd = await CountAsync(data, "SELECT count(*) FROM workflow_runs WHERE status IN ('failed', 'canceled') AND coalesce(error, '') NOT LIKE @p", "%HTTP 410%", cancellationToken);
        var gaps = await CountAsync(data, """
            SELECT count(*) FROM (SELECT run_id, count(*) AS n, min(seq) AS lo, max(seq) AS hi FROM workflow_events GROUP BY run_id) x
            WHERE n <> hi OR lo <> 1 OR @p <> @p
            """, "", cancellationToken);
        var terminal = await CountAsync(data, """
            SELECT count(*) FROM workflow_runs r
            WHERE (SELECT count(*) FROM workflow_events e WHERE e.run_id = r.id AND e.type IN ('run_completed', 'run_canceled')) <> 1 AND @p = @p
            """, "", cancellationToken);
        var repeated = await CountAsync(data, """
            SELECT count(*) FROM (SELECT run_id, payload->>'nodeId' FROM workflow_events WHERE type = 'step_succeeded' GROUP BY 1, 2 HAVING count(*) > 1) x WHERE @p = @p
            """, "", cancellationToken);
        var reruns = await CountAsync(data, "SELECT count(*) FROM workflow_events WHERE type = 'step_started' AND (payload->>'execution')::int > 1 AND @p = @p", "", cancellationToken);
        var duplicates = sink.Requests.Where(r => !r.Ended).GroupBy(r => (r.RunId, r.NodeId)).Count(g => g.Count() > 1);
        return new Checks(unfinished, succeeded, endedBySink, otherEnd, gaps, terminal, repeated, reruns, duplicates, exits);
    }

    private static async Task<long> CountAsync(NpgsqlDataSource data, string sql, string parameter, CancellationToken cancellationToken)
    {
        await using var command = data.CreateCommand(sql);
        command.Parameters.AddWithValue("p", parameter);
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static string FindSiloDll()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MeshHook.Silo.sln")))
            {
                var dll = Path.Combine(dir.FullName, "Silo", "bin", "Release", "net10.0", "MeshHook.Silo.dll");
                return File.Exists(dll) ? dll : throw new FileNotFoundException($"build the silo in Release first: {dll} is missing");
            }
        }

        throw new InvalidOperationException($"MeshHook.Silo.sln not found above {AppContext.BaseDirectory}");
    }
}
