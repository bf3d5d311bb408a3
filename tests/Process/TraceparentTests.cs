using System.Text.RegularExpressions;
using AwesomeAssertions;
using MeshHook.Tests.Integration.Infrastructure;
using MeshHook.Tests.Integration.Runs;
using MeshHook.Tests.Process.Infrastructure;

namespace MeshHook.Tests.Process;

/// <summary>
/// With <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> set, a real silo traces its steps and an http_call's request carries the
/// step's W3C <c>traceparent</c>, so the receiving service joins the trace. Without it, nothing listens, no span is
/// created, and no request carries one. (The endpoint here is a closed port: the exporter's failures stay inside it.)
/// </summary>
[Collection(SiloProcessesCollection.Name)]
public sealed partial class TraceparentTests
{
    [Fact]
    public async Task HttpCall_WithTracingOn_CarriesTheStepsTraceparent_OneTracePerRun()
    {
        var requests = await RunTwoAsync("proc_trace_on", new Dictionary<string, string?> { ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:9" });

        requests.Should().HaveCount(2).And.AllSatisfy(r => r.Headers.Should().ContainKey("traceparent"));
        var traceIds = requests.Select(r => Traceparent().Match(r.Headers["traceparent"])).Select(m => m.Success ? m.Groups[1].Value : "malformed").ToList();
        traceIds.Should().NotContain("malformed", "traceparent is 00-<trace id>-<span id>-<flags>");
        traceIds.Distinct().Should().HaveCount(2, "each run started on its own has a trace of its own");
    }

    [Fact]
    public async Task HttpCall_WithTracingOff_CarriesNoTraceparent()
    {
        var requests = await RunTwoAsync("proc_trace_off", new Dictionary<string, string?>());

        requests.Should().HaveCount(2).And.AllSatisfy(r => r.Headers.Should().NotContainKey("traceparent"));
    }

    [Fact]
    public async Task JsonLogs_OfAStep_CarryItsTraceId()
    {
        await using var cluster = await ProcessCluster.CreateAsync("proc_trace_logs", new Dictionary<string, string?>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:9",
            ["Logging__Console__FormatterName"] = "json",
            ["Logging__Console__FormatterOptions__IncludeScopes"] = "true",
        });
        var silo = (await cluster.StartSilosAsync("a"))[0];
        var slug = await cluster.PublishAsync(Workflows.CallStatus(cluster.Sink.BaseAddress, 404));
        var runId = (await cluster.Database.CreateRunsAsync(slug, 1))[0];
        await Poll.UntilAsync(async () => (await cluster.Database.StatusesAsync([runId]))[runId] == "failed", "the run fails on the 404", TimeSpan.FromSeconds(60));

        var traceId = Traceparent().Match(cluster.Sink.Requests.Single(r => r.IdempotencyKey == $"mh-{runId}-call").Headers["traceparent"]).Groups[1].Value;
        var line = silo.Process.Output.Split('\n').Single(l => l.Contains($"http_call call of run {runId} failed", StringComparison.Ordinal));
        using var json = System.Text.Json.JsonDocument.Parse(line[line.IndexOf('{', StringComparison.Ordinal)..]);
        var scopes = json.RootElement.GetProperty("Scopes").EnumerateArray().Where(s => s.ValueKind == System.Text.Json.JsonValueKind.Object).ToList();
        var traceIds = scopes.Select(s => s.TryGetProperty("TraceId", out var id) ? id.GetString() : null).ToList();
        traceIds.Should().Contain(traceId, "the step's log line names the trace the peer joined");
    }

    [Fact]
    public async Task OtlpExport_OfARealSilo_NamesTheServiceAndTheSilo_AndCarriesNoPayload()
    {
        // The sink doubles as the collector: OTLP over HTTP/protobuf posts to <endpoint>/v1/traces. Protobuf keeps strings
        // as UTF-8 bytes, so names and attribute values can be looked for in the body without decoding it.
        const string marker = "payload-marker-7f3c";
        await using var cluster = await ProcessCluster.CreateAsync("proc_trace_otlp", new Dictionary<string, string?>());
        cluster.Set("OTEL_EXPORTER_OTLP_ENDPOINT", cluster.Sink.BaseAddress.ToString().TrimEnd('/'));
        cluster.Set("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf");
        cluster.Set("OTEL_BSP_SCHEDULE_DELAY", "200");
        var silo = (await cluster.StartSilosAsync("a"))[0];
        var slug = await cluster.PublishAsync(Workflows.Linear(cluster.Sink.BaseAddress, "/exported"));
        var runId = (await cluster.Database.CreateRunsAsync(slug, 1, $$"""{"order": "{{marker}}"}"""))[0];
        await RunChecks.AllSucceedAsync(cluster, [runId], TimeSpan.FromSeconds(60), "the run finishes");
        await Poll.UntilAsync(
            () => Task.FromResult(Exports(cluster).Any(b => b.Contains(runId.ToString(), StringComparison.Ordinal) && b.Contains("step terminate", StringComparison.Ordinal))),
            "the run's spans are exported", TimeSpan.FromSeconds(30));

        var siloName = await cluster.Database.SiloNameAsync(cluster.ClusterId, silo.SiloPort);
        var exports = Exports(cluster);
        var body = exports.First(b => b.Contains(runId.ToString(), StringComparison.Ordinal));
        body.Should().Contain("service.name").And.Contain("meshhook-silo");
        body.Should().Contain("meshhook.silo.name").And.Contain(siloName);
        foreach (var span in new[] { "step webhook", "step transform", "step http_call", "run checkpoint" })
        {
            exports.Should().Contain(b => b.Contains(span, StringComparison.Ordinal), $"a '{span}' span is exported");
        }

        exports.Should().NotContain(b => b.Contains(marker, StringComparison.Ordinal), "no payload is a span attribute");
        exports.Should().NotContain(b => b.Contains("/exported", StringComparison.Ordinal), "the called URL keeps its scheme, host and port only");
    }

    private static List<string> Exports(ProcessCluster cluster) =>
        [.. cluster.Sink.Requests.Where(r => r.Path == "/v1/traces" && r.Method == "POST").Select(r => r.Body)];

    private static async Task<List<SinkRequest>> RunTwoAsync(string database, Dictionary<string, string?> settings)
    {
        await using var cluster = await ProcessCluster.CreateAsync(database, settings);
        await cluster.StartSilosAsync("a");
        var slug = await cluster.PublishAsync(Workflows.Linear(cluster.Sink.BaseAddress, "/traced"));
        var runIds = await cluster.Database.CreateRunsAsync(slug, 2);
        await RunChecks.AllSucceedAsync(cluster, runIds, TimeSpan.FromSeconds(60), "both runs finish");
        return [.. cluster.Sink.Requests.Where(r => r.Path == "/traced")];
    }

    [GeneratedRegex("^00-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")]
    private static partial Regex Traceparent();
}
