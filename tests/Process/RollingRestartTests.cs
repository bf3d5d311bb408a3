using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using AwesomeAssertions;
using MeshHook.Tests.Integration.Infrastructure;
using MeshHook.Tests.Process.Rolling;
using Npgsql;

namespace MeshHook.Tests.Process;

/// <summary>
/// A rolling restart under load, all real processes: two silos and the gateway on a throwaway database, a steady
/// stream of webhooks through the gateway while each silo in turn gets SIGTERM, exits and is started again.
/// </summary>
[Collection(RollingRestartCollection.Name)]
public sealed class RollingRestartTests(ITestOutputHelper output)
{
    private const int Silos = 2;
    private const double RequestsPerSecond = 20;
    /// <summary>Bounds the stream however slow the restarts are: 20/s for at most 2.5 minutes.</summary>
    private const int MaxRequests = 3000;
    private const int SinkDelayMs = 300;
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(90);
    /// <summary>The silo's host gives its stop the grace period less a second (29 s); 45 s leaves a loaded machine some slack.</summary>
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(45);
    private static readonly TimeSpan FinishTimeout = TimeSpan.FromSeconds(90);
    private static readonly string[] StepNodes = ["hook", "prep", "pause", "call", "done"];

    [Fact(Timeout = 420_000)]
    public async Task RollingRestart_UnderSteadyWebhooks_AcceptsEveryRequest_FinishesEveryRun_RepeatsNoCheckpointedStep()
    {
        await using var sink = await HttpSink.StartAsync();
        await using var cluster = await RollingCluster.StartAsync(Silos, ReadyTimeout);
        using var http = new HttpClient { BaseAddress = cluster.Gateway.HttpAddress, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", RollingCluster.ApiKey);
        try
        {
            var slug = $"rolling-{Guid.NewGuid():N}"[..20];
            var publish = await http.PutAsync($"/api/workflows/{slug}", new StringContent(
                $$"""{"name": "rolling restart", "definition": {{Definition(sink.BaseAddress)}}}""", Encoding.UTF8, "application/json"));
            publish.StatusCode.Should().Be(HttpStatusCode.Created, await publish.Content.ReadAsStringAsync());

            // The stream runs from before the first SIGTERM until after the last silo is back and ready.
            var clock = Stopwatch.StartNew();
            var restarts = new List<SiloRestart>();
            IntakeResult[] loadResults;
            await using (var load = new OpenLoopLoad(cluster.Gateway.HttpAddress, slug, RequestsPerSecond, MaxRequests))
            {
                load.Start();
                await Task.Delay(TimeSpan.FromSeconds(3), TestContext.Current.CancellationToken);
                for (var i = 0; i < Silos; i++)
                {
                    // The SIGTERM must land while the silo runs part of the stream, or its drain proves nothing.
                    var hosting = await cluster.WaitHostingRunsAsync(i, runs: 3, TimeSpan.FromSeconds(30));
                    var at = clock.Elapsed;
                    var restart = await cluster.RestartSiloAsync(i, ExitTimeout, ReadyTimeout);
                    restarts.Add(restart);
                    output.WriteLine($"{at.TotalSeconds,6:F1}s SIGTERM {restart.Stopped} (running {hosting} run(s) by workflow_runs.silo): exit {restart.ExitCode} after {restart.SignalToExit.TotalSeconds:F1} s; {restart.Started} ready {restart.StartToReady.TotalSeconds:F1} s later ({load.Sent} webhooks sent so far)");
                    await Task.Delay(TimeSpan.FromSeconds(2), TestContext.Current.CancellationToken);
                }

                await load.StopAsync();
                loadResults = [.. load.Results.OrderBy(r => r.Index)];
                output.WriteLine($"{clock.Elapsed.TotalSeconds,6:F1}s stream stopped: {load.Sent} webhooks in {load.Results.Max(r => r.SentAt).TotalSeconds:F1} s");
            }

            var latencies = loadResults.Select(r => r.Latency.TotalMilliseconds).Order().ToArray();
            output.WriteLine($"intake: {loadResults.Length} requests, statuses {string.Join(", ", loadResults.GroupBy(r => r.Status).Select(g => $"{g.Key}×{g.Count()}"))}; 202 latency p50 {Percentile(latencies, 0.50):F0} ms, p99 {Percentile(latencies, 0.99):F0} ms, max {latencies[^1]:F0} ms");

            // 1. The gateway answered every request, and every answer was 202 (no 5xx, no dropped connection).
            var notAccepted = loadResults.Where(r => r.Status != (int)HttpStatusCode.Accepted).ToList();
            notAccepted.Should().BeEmpty("every webhook must be accepted while silos restart; first failures: " +
                string.Join("; ", notAccepted.Take(5).Select(r => $"#{r.Index} at {r.SentAt.TotalSeconds:F1}s → {r.Status} {r.Error}")) + "; " + cluster.Explain());
            var runIds = loadResults.Select(r => r.RunId!.Value).ToArray();
            runIds.Should().OnlyHaveUniqueItems();

            // 2. Every accepted run is stored once and finishes, succeeded.
            var finished = await WaitAllFinishedAsync(cluster.ConnectionString, runIds, cluster.Explain);
            output.WriteLine($"{clock.Elapsed.TotalSeconds,6:F1}s all {runIds.Length} runs finished");
            (await CountRunsAsync(cluster.ConnectionString, slug)).Should().Be(runIds.Length, "one stored run per accepted webhook");
            finished.Where(f => f.Value != "succeeded").Select(f => $"{f.Key}: {f.Value}").Should().BeEmpty("every accepted run must succeed; " + cluster.Explain());

            // 3. Each run's history is gapless (seq 1..n), and 4. no checkpointed step ran again: every node
            //    succeeded once, nothing started after its success, and a node started again only after a
            //    run_interrupted that names it (or, never begun, across a hand-off; see RunHistories).
            var histories = await RunHistories.LoadAsync(cluster.ConnectionString, runIds);
            var audits = runIds.ToDictionary(id => id, id => RunHistories.Audit(id, histories[id], StepNodes));
            var interruptions = audits.Values.Sum(a => a.InterruptionsByNode.Values.Sum());
            output.WriteLine($"restarted steps: {audits.Values.Sum(a => a.CutOffRestarts)} after run_interrupted, {audits.Values.Sum(a => a.NotBegunRestarts)} saved as started but handed off before they began");
            audits.Values.SelectMany(a => a.Problems).Should().BeEmpty("no checkpointed step repeats, and a step runs again only after a run_interrupted that names it");

            // 5. The receiver saw the http_call once per run, or (cut off and retried with the same key) at most once
            //    more per recorded interruption of that node.
            var sinkCounts = sink.Requests.GroupBy(r => r.IdempotencyKey).ToDictionary(g => g.Key, g => g.Count());
            var expectedKeys = runIds.ToDictionary(id => $"mh-{id}-call");
            sinkCounts.Keys.Where(k => !expectedKeys.ContainsKey(k)).Should().BeEmpty("the sink is called by this workflow's runs only");
            var sinkWrong = new List<string>();
            foreach (var (key, runId) in expectedKeys)
            {
                var seen = sinkCounts.GetValueOrDefault(key);
                var cutOff = audits[runId].InterruptionsByNode["call"];
                if (cutOff == 0 ? seen != 1 : seen < 1 || seen > 1 + cutOff)
                {
                    sinkWrong.Add($"{key}: received {seen}, interruptions of the call {cutOff}");
                }
            }

            sinkWrong.Should().BeEmpty("Idempotency-Key mh-{runId}-call arrives once unless a run_interrupted says the call was cut off");

            // 6. Each silo stopped gracefully: exit 0, a report row, not forced; the runs really moved between silos.
            restarts.Should().AllSatisfy(r => r.ExitCode.Should().Be(0, $"{r.Stopped} exits 0 after SIGTERM"));
            var shutdowns = await ShutdownsAsync(cluster.ConnectionString);
            shutdowns.Should().HaveCount(Silos, "one meshhook_shutdowns row per SIGTERM");
            shutdowns.Should().AllSatisfy(s => s.Forced.Should().BeFalse());
            shutdowns.Should().AllSatisfy(s => (s.StepsCompleted + s.RunsHandedOff).Should().BePositive($"{s.Silo} had runs when it got SIGTERM: it finished steps or handed runs off"));
            foreach (var s in shutdowns)
            {
                output.WriteLine($"shutdown {s.Silo}: {s.DurationMs} ms (drain {s.DrainMs} ms, hand-off {s.HandOffMs} ms), steps completed {s.StepsCompleted}, interrupted {s.StepsInterrupted}, runs handed off {s.RunsHandedOff}");
            }

            var (handedOff, resumed) = await HandOffEventsAsync(cluster.ConnectionString, runIds);
            output.WriteLine($"events: run_handed_off {handedOff}, run_resumed {resumed}, run_interrupted {interruptions}; sink requests {sink.Requests.Count}");
            handedOff.Should().BeGreaterThan(0, "runs were in flight on each silo when it got SIGTERM, so some were handed off (otherwise the test proved nothing)");
        }
        finally
        {
            output.WriteLine($"process logs: {cluster.SaveLogs()}");
        }
    }

    /// <summary>
    /// webhook → prep (transform) → pause (400 ms durable delay) → call (http_call to the sink, answering after
    /// 300 ms, one attempt) → done (transform): about a second per run, so dozens are in flight on each silo.
    /// </summary>
    private static string Definition(Uri sink) => $$$"""
        {
          "nodes": [
            {"id": "hook", "type": "webhook"},
            {"id": "prep", "type": "transform", "data": {"expression": "{n: trigger.body.n}"}},
            {"id": "pause", "type": "delay", "data": {"ms": 400}},
            {"id": "call", "type": "http_call", "data": {"method": "POST", "url": "{{{new Uri(sink, $"/rolling?ms={SinkDelayMs}")}}}", "body": "steps.prep", "timeoutMs": 20000, "retry": {"maxAttempts": 1} } },
            {"id": "done", "type": "transform", "data": {"expression": "steps.call.status"}}
          ],
          "edges": [
            {"source": "hook", "target": "prep"},
            {"source": "prep", "target": "pause"},
            {"source": "pause", "target": "call"},
            {"source": "call", "target": "done"}
          ]
        }
        """;

    private static async Task<List<ShutdownRow>> ShutdownsAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT silo_name, duration_ms, drain_ms, hand_off_ms, steps_completed, steps_interrupted, runs_handed_off, forced FROM meshhook_shutdowns ORDER BY started_at", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var shutdowns = new List<ShutdownRow>();
        while (await reader.ReadAsync())
        {
            shutdowns.Add(new ShutdownRow(reader.GetString(0), reader.GetInt32(1), reader.GetInt32(2), reader.GetInt32(3), reader.GetInt32(4), reader.GetInt32(5), reader.GetInt32(6), reader.GetBoolean(7)));
        }

        return shutdowns;
    }

    private static async Task<Dictionary<Guid, string>> WaitAllFinishedAsync(string connectionString, Guid[] runIds, Func<string> explain)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        var deadline = DateTime.UtcNow + FinishTimeout;
        while (true)
        {
            await using var command = new NpgsqlCommand("SELECT id, status FROM workflow_runs WHERE id = ANY(@ids)", connection);
            command.Parameters.AddWithValue("ids", runIds);
            var statuses = new Dictionary<Guid, string>();
            await using (var reader = await command.ExecuteReaderAsync())
            {
                while (await reader.ReadAsync())
                {
                    statuses[reader.GetGuid(0)] = reader.GetString(1);
                }
            }

            var unfinished = runIds.Where(id => statuses.GetValueOrDefault(id) is null or "queued" or "running" or "paused").ToList();
            if (unfinished.Count == 0)
            {
                return statuses;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{unfinished.Count} of {runIds.Length} accepted runs did not finish within {FinishTimeout.TotalSeconds} s of the stream's end, e.g. " +
                    string.Join(", ", unfinished.Take(5).Select(id => $"{id} ({statuses.GetValueOrDefault(id) ?? "no row"})")) + "; " + explain());
            }

            await Task.Delay(500);
        }
    }

    private static async Task<long> CountRunsAsync(string connectionString, string slug)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM workflow_runs WHERE slug = @slug", connection);
        command.Parameters.AddWithValue("slug", slug);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<(long HandedOff, long Resumed)> HandOffEventsAsync(string connectionString, Guid[] runIds)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT count(*) FILTER (WHERE type = 'run_handed_off'), count(*) FILTER (WHERE type = 'run_resumed') FROM workflow_events WHERE run_id = ANY(@ids)", connection);
        command.Parameters.AddWithValue("ids", runIds);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];

    private sealed record ShutdownRow(string Silo, int DurationMs, int DrainMs, int HandOffMs, int StepsCompleted, int StepsInterrupted, int RunsHandedOff, bool Forced);
}

/// <summary>The rolling restart runs alone: it measures a loaded machine's worth of real processes.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RollingRestartCollection
{
    public const string Name = "rolling restart";
}
