using System.Diagnostics;
using MeshHook.Bench.Infrastructure;
using MeshHook.Grains;
using MeshHook.Grains.Runs;
using MeshHook.Silo.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using NpgsqlTypes;

namespace MeshHook.Bench.Throughput;

/// <summary>
/// Durable throughput of the run engine against the raw commit rate of Postgres. For every concurrency level N:
/// N workers in a closed loop create a run, start it and wait for it to finish; then (or before: the order alternates
/// between rounds) N workers insert one jsonb row per autocommit transaction. Both sides get the same window.
/// </summary>
public sealed class ThroughputBenchmark(ThroughputOptions options, TextWriter output)
{
    private const string Slug = "bench-workflow";
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan CeilingWarmup = TimeSpan.FromSeconds(1);

    private long _order;
    private int? _postmasterPid;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        BenchPostgres? postgres = null;
        NpgsqlDataSource? dataSource = null;
        BenchSink? sink = null;
        BenchCluster? cluster = null;
        using var steps = new StepCounter();
        try
        {
            var started = Stopwatch.StartNew();
            postgres = await BenchPostgres.StartAsync(cancellationToken);
            var connectionString = await postgres.CreateDatabaseAsync("meshhook_bench", cancellationToken);
            await SchemaMigrator.MigrateAsync(connectionString, NullLogger.Instance, cancellationToken);
            dataSource = new NpgsqlDataSourceBuilder(connectionString) { Name = "bench" }.Build();
            await using (var create = dataSource.CreateCommand(
                "CREATE TABLE bench_ceiling (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, payload jsonb NOT NULL)"))
            {
                await create.ExecuteNonQueryAsync(cancellationToken);
            }

            sink = await BenchSink.StartAsync(cancellationToken);
            cluster = await BenchCluster.StartAsync(connectionString, options.Silos);
            var store = new RunStore(dataSource);
            await store.PublishAsync(Slug, $"benchmark: {options.Workflow.Name}", options.Workflow.Definition(sink.BaseAddress), secret: null, cancellationToken);
            _postmasterPid = postgres.PostmasterPid;
            await PrintSetupAsync(postgres, dataSource, started.Elapsed, cancellationToken);

            var engine = new Engine(store, cluster.Grains, dataSource, steps);
            var rounds = new List<LevelResult>();
            for (var round = 1; round <= options.Rounds; round++)
            {
                foreach (var concurrency in options.Concurrency)
                {
                    // Alternate which side goes first so that drift on a shared machine does not favour one of them;
                    // the tracing modes turn too.
                    var engineFirst = round % 2 == 0;
                    var modes = options.Tracing.Select((mode, i) => (mode, i)).OrderBy(m => (m.i + round - 1) % options.Tracing.Count).Select(m => m.mode).ToArray();
                    var traced = new Dictionary<TracingMode, PhaseResult>();
                    PhaseResult ceilingResult = null!;
                    if (!engineFirst)
                    {
                        ceilingResult = await MeasureCeilingAsync(dataSource, concurrency, cancellationToken);
                    }

                    foreach (var mode in modes)
                    {
                        using var tracer = BenchTracing.Start(mode, sink.BaseAddress);
                        traced[mode] = await MeasureEngineAsync(engine, concurrency, cancellationToken);
                    }

                    if (engineFirst)
                    {
                        ceilingResult = await MeasureCeilingAsync(dataSource, concurrency, cancellationToken);
                    }

                    var engineResult = traced[options.Tracing[0]];
                    var level = new LevelResult(round, concurrency, options.Workflow.Steps, engineResult, ceilingResult)
                    {
                        Traced = options.Tracing.Select(m => (m, traced[m])).ToArray(),
                    };
                    rounds.Add(level);
                    output.WriteLine(ThroughputReport.RoundLine(level));
                    if (options.Tracing.Count > 1)
                    {
                        output.WriteLine(ThroughputReport.TracingLine(level));
                    }
                }
            }

            output.WriteLine();
            ThroughputReport.Print(output, options, rounds, sink.Requests, RunCompletions.Instance.FinishedEvents, started.Elapsed);
            if (options.Tracing.Count > 1)
            {
                ThroughputReport.PrintTracing(output, options, rounds, sink.Otlp);
            }
        }
        finally
        {
            // Everything started is stopped, in reverse order, whatever happened above.
            await StopQuietlyAsync("cluster", cluster);
            await StopQuietlyAsync("sink", sink);
            await StopQuietlyAsync("data source", dataSource);
            await StopQuietlyAsync("postgres", postgres);
        }
    }

    private async Task PrintSetupAsync(BenchPostgres postgres, NpgsqlDataSource dataSource, TimeSpan startup, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT current_setting('server_version'), current_setting('fsync'), current_setting('synchronous_commit'),
                   current_setting('wal_sync_method'), current_setting('full_page_writes'), current_setting('commit_delay')
            """);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        output.WriteLine($"postgres {reader.GetString(0)} ({postgres.Origin}): fsync={reader.GetString(1)} synchronous_commit={reader.GetString(2)} " +
            $"wal_sync_method={reader.GetString(3)} full_page_writes={reader.GetString(4)} commit_delay={reader.GetString(5)}");
        output.WriteLine($"machine: {Environment.ProcessorCount} cores; {options.Silos} silo(s) in process; setup took {startup.TotalSeconds:F1}s");
        output.WriteLine($"window {options.Duration.TotalSeconds:0.#}s per side and level (engine warm-up {options.Warmup.TotalSeconds:0.#}s, " +
            $"ceiling warm-up {CeilingWarmup.TotalSeconds:0.#}s), {options.Rounds} round(s), concurrency {string.Join(",", options.Concurrency)}");
        output.WriteLine();
    }

    private async Task<PhaseResult> MeasureEngineAsync(Engine engine, int concurrency, CancellationToken cancellationToken)
    {
        var window = Window.Plan(options.Warmup, options.Duration);
        var edges = MeasureEdgesAsync(engine.DataSource, window, engine.Steps, cancellationToken);
        var samples = Enumerable.Range(0, concurrency).Select(_ => new List<Sample>()).ToArray();
        await Task.WhenAll(samples.Select(list => Task.Run(() => EngineWorkerAsync(engine, window.PlannedEnd, list, cancellationToken), cancellationToken)));
        var (start, end) = await edges;
        return Summarize(samples, start, end);
    }

    private async Task EngineWorkerAsync(Engine engine, long stopStartingAt, List<Sample> samples, CancellationToken cancellationToken)
    {
        while (Stopwatch.GetTimestamp() < stopStartingAt)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var intake = Stopwatch.GetTimestamp();
            // What intake does for a webhook: the durable run row (+ run_created), then the grain is told to start.
            var (runId, _) = await engine.Store.CreateRunAsync(Slug, LinearWorkflow.Trigger(Interlocked.Increment(ref _order)), idempotencyKey: null, cancellationToken);
            var finished = RunCompletions.Instance.Expect(runId);
            await engine.Grains.GetGrain<IWorkflowRunGrain>(runId).StartAsync();
            RunStatus? status;
            try
            {
                status = await finished.WaitAsync(RunTimeout, cancellationToken);
            }
            catch (TimeoutException)
            {
                RunCompletions.Instance.Forget(runId);
                status = null;
            }

            samples.Add(new Sample(intake, Stopwatch.GetTimestamp(), status == RunStatus.Succeeded));
        }
    }

    private async Task<PhaseResult> MeasureCeilingAsync(NpgsqlDataSource dataSource, int concurrency, CancellationToken cancellationToken)
    {
        var window = Window.Plan(CeilingWarmup, options.Duration);
        var edges = MeasureEdgesAsync(dataSource, window, steps: null, cancellationToken);
        var samples = Enumerable.Range(0, concurrency).Select(_ => new List<Sample>()).ToArray();
        await Task.WhenAll(samples.Select(list => Task.Run(() => CeilingWorkerAsync(dataSource, window.PlannedEnd, list, cancellationToken), cancellationToken)));
        var (start, end) = await edges;
        return Summarize(samples, start, end);
    }

    private async Task CeilingWorkerAsync(NpgsqlDataSource dataSource, long stopStartingAt, List<Sample> samples, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var insert = new NpgsqlCommand("INSERT INTO bench_ceiling (payload) VALUES (@payload)", connection);
        var payload = new NpgsqlParameter("payload", NpgsqlDbType.Jsonb);
        insert.Parameters.Add(payload);
        while (Stopwatch.GetTimestamp() < stopStartingAt)
        {
            cancellationToken.ThrowIfCancellationRequested();
            // About the size of one of the engine's step events.
            payload.Value = $$"""{"nodeId":"call","attempt":1,"elapsedMs":3,"status":200,"order":{{Interlocked.Increment(ref _order)}}}""";
            var begin = Stopwatch.GetTimestamp();
            await insert.ExecuteNonQueryAsync(cancellationToken);
            samples.Add(new Sample(begin, Stopwatch.GetTimestamp(), Succeeded: true));
        }
    }

    /// <summary>Reads the counters when the window opens and when it closes; each edge's timestamp is taken right after its reading.</summary>
    private async Task<(Edge Start, Edge End)> MeasureEdgesAsync(NpgsqlDataSource dataSource, Window window, StepCounter? steps, CancellationToken cancellationToken)
    {
        var postmasterPid = _postmasterPid;
        await DelayUntilAsync(window.PlannedStart, cancellationToken);
        var start = new Edge(await PgCounters.ReadAsync(dataSource, cancellationToken), CpuCounters.Read(postmasterPid), steps?.Steps ?? 0, Stopwatch.GetTimestamp());
        await DelayUntilAsync(window.PlannedEnd, cancellationToken);
        var end = new Edge(await PgCounters.ReadAsync(dataSource, cancellationToken), CpuCounters.Read(postmasterPid), steps?.Steps ?? 0, Stopwatch.GetTimestamp());
        return (start, end);
    }

    private static async Task DelayUntilAsync(long timestamp, CancellationToken cancellationToken)
    {
        var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), timestamp);
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, cancellationToken);
        }
    }

    private static PhaseResult Summarize(IEnumerable<List<Sample>> perWorker, Edge start, Edge end)
    {
        var all = perWorker.SelectMany(s => s).ToArray();
        var completed = all.Where(s => s.End >= start.Timestamp && s.End < end.Timestamp).ToArray();
        var startedInWindow = all.LongCount(s => s.Begin >= start.Timestamp && s.Begin < end.Timestamp);
        var latencies = completed.Where(s => s.Succeeded).Select(s => Stopwatch.GetElapsedTime(s.Begin, s.End)).Order().ToArray();
        return new PhaseResult(
            Completed: completed.LongCount(s => s.Succeeded),
            Started: startedInWindow,
            Window: Stopwatch.GetElapsedTime(start.Timestamp, end.Timestamp),
            LatencyP50: Percentile(latencies, 0.50),
            LatencyP99: Percentile(latencies, 0.99),
            Database: end.Counters - start.Counters,
            Cpu: end.Cpu - start.Cpu,
            Failures: completed.LongCount(s => !s.Succeeded),
            StepEvents: end.Steps - start.Steps);
    }

    /// <summary>Nearest-rank percentile of sorted values.</summary>
    private static TimeSpan Percentile(TimeSpan[] sorted, double p) =>
        sorted.Length == 0 ? TimeSpan.Zero : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];

    private async Task StopQuietlyAsync(string what, IAsyncDisposable? resource)
    {
        if (resource is null)
        {
            return;
        }

        try
        {
            await resource.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch (Exception e)
        {
            await output.WriteLineAsync($"bench: stopping the {what} failed: {e.Message}");
        }
    }

    private sealed record Engine(RunStore Store, IGrainFactory Grains, NpgsqlDataSource DataSource, StepCounter Steps);

    private readonly record struct Sample(long Begin, long End, bool Succeeded);

    private readonly record struct Edge(PgCounters Counters, CpuCounters Cpu, long Steps, long Timestamp);

    private readonly record struct Window(long PlannedStart, long PlannedEnd)
    {
        public static Window Plan(TimeSpan warmup, TimeSpan duration)
        {
            var now = Stopwatch.GetTimestamp();
            var start = now + (long)(warmup.TotalSeconds * Stopwatch.Frequency);
            return new Window(start, start + (long)(duration.TotalSeconds * Stopwatch.Frequency));
        }
    }
}

/// <summary>One level of one round: the engine and its ceiling, measured back to back.</summary>
public sealed record LevelResult(int Round, int Concurrency, int StepsPerRun, PhaseResult Engine, PhaseResult Ceiling)
{
    /// <summary>The engine in each tracing mode of <c>--tracing</c>, in the order given (<see cref="Engine"/> is the first).</summary>
    public IReadOnlyList<(TracingMode Mode, PhaseResult Result)> Traced { get; init; } = [];

    public double StepsPerSecond => Engine.PerSecond * StepsPerRun;

    public double Ratio => Ceiling.PerSecond == 0 ? 0 : StepsPerSecond / Ceiling.PerSecond;

    /// <summary>The steps done in the engine window (runs straddling an edge count half).</summary>
    public double StepsInWindow => Engine.WorkInWindow * StepsPerRun;
}
