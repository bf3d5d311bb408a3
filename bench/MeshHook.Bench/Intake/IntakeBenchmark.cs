using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using MeshHook.Bench.Infrastructure;
using MeshHook.Bench.Throughput;
using MeshHook.Testing.Processes;
using Npgsql;

namespace MeshHook.Bench.Intake;

/// <summary>
/// Intake latency through the real gateway: a throwaway Postgres (default durability), N real silo processes and the
/// real gateway process; webhooks at a steady rate, open loop, to <c>POST /api/hooks/{slug}</c>. Each round measures a
/// steady phase and then a phase in which one silo gets SIGTERM and drains; the silo is started again between rounds.
/// </summary>
public sealed class IntakeBenchmark(IntakeOptions options, TextWriter output)
{
    private const string Slug = "intake-bench";
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(60);

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var root = BenchMachine.RepositoryRoot();
        var siloDll = Path.Combine(root, "Silo", "bin", "Release", "net10.0", "MeshHook.Silo.dll");
        var gatewayDll = Path.Combine(root, "Gateway", "bin", "Release", "net10.0", "MeshHook.Gateway.dll");
        foreach (var dll in new[] { siloDll, gatewayDll })
        {
            if (!File.Exists(dll))
            {
                throw new FileNotFoundException($"build in Release first (bench/run-intake.sh does): {dll} is missing");
            }
        }

        var logs = Path.Combine(Path.GetTempPath(), $"meshhook-intake-{Environment.ProcessId}");
        Directory.CreateDirectory(logs);
        await using var postgres = await BenchPostgres.StartAsync(cancellationToken);
        await using var sink = await BenchSink.StartAsync(cancellationToken);
        var connectionString = await postgres.CreateDatabaseAsync("meshhook_intake", cancellationToken);
        var environment = new Dictionary<string, string?>
        {
            ["ConnectionStrings__MeshHook"] = connectionString,
            ["Orleans__ClusterId"] = $"intake-{Environment.ProcessId}",
            [BenchApiKey.EnvironmentName] = BenchApiKey.Value,
            // The sink listens on 127.0.0.1: the silos call it, the gateway accepts workflows that do.
            [ProgramProcess.LoopbackPeersKey] = "127.0.0.0/8",
            // Several processes share this machine's cores: workstation GC, as the scale-in benchmark gives its silos.
            ["DOTNET_gcServer"] = "0",
            ["Logging__LogLevel__Default"] = "Warning",
            ["Logging__LogLevel__MeshHook.Silo.Shutdown"] = "Information",
            ["Logging__Console__FormatterName"] = "simple",
            ["Logging__Console__FormatterOptions__SingleLine"] = "true",
            ["Logging__Console__FormatterOptions__TimestampFormat"] = "HH:mm:ss.fff ",
            ["Logging__Console__FormatterOptions__UseUtcTimestamp"] = "true",
        };

        var processes = new List<ProgramProcess>();
        try
        {
            var setup = Stopwatch.StartNew();
            var silos = new ProgramProcess[options.Silos];
            var generation = 0;
            ProgramProcess StartSilo(int slot)
            {
                var process = ProgramProcess.Start(new ProgramStart($"silo{slot}.{++generation}", siloDll)
                {
                    Ports = ProgramPorts.Silo,
                    Environment = environment,
                    LogFile = Path.Combine(logs, $"silo{slot}.{generation}.log"),
                });
                processes.Add(process);
                return silos[slot] = process;
            }

            // The first silo applies the schema; the others start once it is ready.
            await StartSilo(0).WaitReadyAsync(ReadyTimeout, cancellationToken);
            await Task.WhenAll(Enumerable.Range(1, options.Silos - 1).Select(i => StartSilo(i).WaitReadyAsync(ReadyTimeout, cancellationToken)));
            // The same process wrapper serves the gateway: --urls on a free port, output to a log, real signals.
            var gateway = ProgramProcess.Start(new ProgramStart("gateway", gatewayDll)
            {
                Ports = ProgramPorts.Http,
                Environment = environment,
                LogFile = Path.Combine(logs, "gateway.log"),
            });
            processes.Add(gateway);
            await gateway.WaitReadyAsync(ReadyTimeout, cancellationToken);

            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1024, PooledConnectionLifetime = TimeSpan.FromMinutes(10) })
            {
                BaseAddress = gateway.HttpAddress,
                Timeout = TimeSpan.FromSeconds(60),
            }.Authorized();
            using (var publish = await http.PutAsync(
                $"/api/workflows/{Slug}",
                new StringContent($$"""{"name": "benchmark: intake", "definition": {{LinearWorkflow.Definition(sink.BaseAddress)}}}""", Encoding.UTF8, "application/json"),
                cancellationToken))
            {
                if (publish.StatusCode != HttpStatusCode.Created)
                {
                    throw new InvalidOperationException($"publishing the workflow answered {(int)publish.StatusCode}: {await publish.Content.ReadAsStringAsync(cancellationToken)}");
                }
            }

            output.WriteLine($"postgres: {postgres.Origin}; {await ServerSettingsAsync(connectionString, cancellationToken)}");
            output.WriteLine($"machine: {Environment.ProcessorCount} cores, load average {BenchMachine.LoadAverage()}; {options.Silos} silo processes + gateway process ready after {setup.Elapsed.TotalSeconds:F1} s; logs in {logs}");
            output.WriteLine($"workflow: webhook → transform → http_call (local sink) → terminate; {options.Rate:0.#} webhooks/s open loop, {options.Duration.TotalSeconds:0.#} s per phase, warm-up {options.Warmup.TotalSeconds:0.#} s, SIGTERM {options.DrainAt.TotalSeconds:0.#} s into the drain phase");
            output.WriteLine();

            var path = $"/api/hooks/{Slug}";
            var rounds = new List<(PhaseSummary Steady, PhaseSummary Drain, string Stop)>();
            for (var round = 1; round <= options.Rounds; round++)
            {
                if (options.Warmup > TimeSpan.Zero)
                {
                    await IntakeLoad.RunAsync(http, path, options.Rate, options.Warmup, cancellationToken);
                }

                var deferredBefore = await StartsDeferredAsync(http, cancellationToken);
                var steadySamples = await IntakeLoad.RunAsync(http, path, options.Rate, options.Duration, cancellationToken);
                var deferredMid = await StartsDeferredAsync(http, cancellationToken);
                var steady = IntakeLoad.Summarize("steady", steadySamples, options.Duration, deferredMid - deferredBefore);
                Print(round, steady);

                // The drain phase: the first slot's silo gets SIGTERM DrainAt into the phase and exits during it.
                var victim = silos[(round - 1) % options.Silos];
                var stop = Task.Run(
                    async () =>
                    {
                        await Task.Delay(options.DrainAt, cancellationToken);
                        var signalled = victim.Terminate();
                        var exited = await victim.Exited.WaitAsync(ExitTimeout, cancellationToken);
                        return $"{victim.Name} got SIGTERM {options.DrainAt.TotalSeconds:0.#} s into the phase, exited {victim.ExitCode} after {(exited - signalled).TotalSeconds:F1} s";
                    },
                    cancellationToken);
                var drainSamples = await IntakeLoad.RunAsync(http, path, options.Rate, options.Duration, cancellationToken);
                var stopped = await stop;
                var deferredAfter = await StartsDeferredAsync(http, cancellationToken);
                var drain = IntakeLoad.Summarize("drain", drainSamples, options.Duration, deferredAfter - deferredMid);
                Print(round, drain);
                output.WriteLine($"round {round}: {stopped}");
                output.WriteLine($"round {round} drain timeline, slowest 202 (ms) per 2 s of schedule, SIGTERM at {options.DrainAt.TotalSeconds:0.#} s: {Timeline(drainSamples)}");

                // Back to full strength before the next round (or the end): a new process in the slot.
                var restart = Stopwatch.StartNew();
                await StartSilo((round - 1) % options.Silos).WaitReadyAsync(ReadyTimeout, cancellationToken);
                output.WriteLine($"round {round}: {silos[(round - 1) % options.Silos].Name} started in its place, ready after {restart.Elapsed.TotalSeconds:F1} s");
                rounds.Add((steady, drain, stopped));
            }

            output.WriteLine();
            await ReportAsync(rounds, connectionString, cancellationToken);
        }
        finally
        {
            // Gateway first (a client of the silos), then the silos; each is killed only if still running.
            foreach (var process in Enumerable.Reverse(processes))
            {
                await process.DisposeAsync();
            }
        }
    }

    private void Print(int round, PhaseSummary s) =>
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"round {round} {s.Name,-6}: sent {s.Sent}, 202 {s.Accepted} ({s.AcceptedPerSecond:F1}/s){Others(s)}; 202 latency p50 {s.P50:F1} p90 {s.P90:F1} p99 {s.P99:F1} max {s.Max:F1} ms; starts deferred {s.StartsDeferred}; client send lag max {s.MaxSendLagMs:F0} ms"));

    /// <summary>The slowest answer of each 2 s of the schedule, to see when in the phase the time went.</summary>
    private static string Timeline(IntakeSample[] samples) =>
        string.Join(' ', samples.GroupBy(s => (int)(s.Scheduled.TotalSeconds / 2)).OrderBy(g => g.Key)
            .Select(g => string.Create(CultureInfo.InvariantCulture, $"{g.Key * 2}s:{g.Max(s => s.Latency.TotalMilliseconds):F0}")));

    private static string Others(PhaseSummary s) =>
        s.Others.Count == 0 ? "" : ", other " + string.Join(", ", s.Others.OrderBy(o => o.Key).Select(o => $"{(o.Key == 0 ? "no answer" : o.Key.ToString(CultureInfo.InvariantCulture))}×{o.Value}"));

    private async Task ReportAsync(List<(PhaseSummary Steady, PhaseSummary Drain, string Stop)> rounds, string connectionString, CancellationToken cancellationToken)
    {
        static double Median(IEnumerable<double> values)
        {
            var sorted = values.Order().ToArray();
            return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
        }

        var steadyP99 = Median(rounds.Select(r => r.Steady.P99));
        var drainP99 = Median(rounds.Select(r => r.Drain.P99));
        var change = (drainP99 - steadyP99) / steadyP99 * 100;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Intake: POST /api/hooks/{{slug}} at {options.Rate:0.#}/s open loop, {options.Silos} silos, {options.Duration.TotalSeconds:0.#} s phases, {(rounds.Count == 1 ? "1 round" : $"median of {rounds.Count} rounds")}"));
        output.WriteLine();
        output.WriteLine("| phase | sent | 202 | other | 202/s | p50 ms | p90 ms | p99 ms | max ms | starts deferred |");
        output.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var pick in new Func<(PhaseSummary Steady, PhaseSummary Drain, string Stop), PhaseSummary>[] { r => r.Steady, r => r.Drain })
        {
            var phases = rounds.Select(pick).ToArray();
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {phases[0].Name} | {phases.Sum(p => p.Sent)} | {phases.Sum(p => p.Accepted)} | {phases.Sum(p => p.Sent - p.Accepted)} | {Median(phases.Select(p => p.AcceptedPerSecond)):F1} | {Median(phases.Select(p => p.P50)):F1} | {Median(phases.Select(p => p.P90)):F1} | {Median(phases.Select(p => p.P99)):F1} | {phases.Max(p => p.Max):F1} | {phases.Sum(p => p.StartsDeferred)} |"));
        }

        output.WriteLine();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"p99 change with a silo draining: {steadyP99:F1} → {drainP99:F1} ms ({change:+0.0;-0.0} %); goal ≤ +20 %: {(change <= 20 ? "met" : "NOT met")}"));

        // Every accepted run should have run to its end; a quick look, not part of the figures.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        (long Unfinished, long Failed, long Total) counts;
        do
        {
            counts = await RunCountsAsync(connectionString, cancellationToken);
            if (counts.Unfinished == 0)
            {
                break;
            }

            await Task.Delay(1000, cancellationToken);
        }
        while (DateTime.UtcNow < deadline);
        output.WriteLine($"runs: {counts.Total} stored, {counts.Unfinished} not finished (60 s after the last phase), {counts.Failed} failed or canceled");
    }

    private static async Task<long> StartsDeferredAsync(HttpClient http, CancellationToken cancellationToken)
    {
        var text = await http.GetStringAsync("/metrics", cancellationToken);
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith("meshhook_gateway_starts_deferred", StringComparison.Ordinal) && !line.StartsWith('#'))
            {
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return (long)double.Parse(parts[1], CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }

    private static async Task<(long Unfinished, long Failed, long Total)> RunCountsAsync(string connectionString, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            "SELECT count(*) FILTER (WHERE status IN ('queued', 'running', 'paused')), count(*) FILTER (WHERE status IN ('failed', 'canceled')), count(*) FROM workflow_runs",
            connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
    }

    private static async Task<string> ServerSettingsAsync(string connectionString, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            "SELECT current_setting('server_version'), current_setting('fsync'), current_setting('synchronous_commit'), current_setting('max_connections')", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return $"postgres {reader.GetString(0)}, fsync={reader.GetString(1)} synchronous_commit={reader.GetString(2)} max_connections={reader.GetString(3)}";
    }
}
