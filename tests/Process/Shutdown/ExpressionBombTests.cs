using System.Diagnostics;
using AwesomeAssertions;
using MeshHook.Tests.Integration.Infrastructure;
using MeshHook.Tests.Process.Infrastructure;

namespace MeshHook.Tests.Process.Shutdown;

/// <summary>
/// A JMESPath expression within the publish limits that would run for more than a minute (a filter over 20,000 items
/// inside a filter over the same items): on a real silo process, its evaluation is stopped at MeshHook:Expressions:Timeout
/// and fails its step, another run on the same silo keeps its pace meanwhile, and a SIGTERM that lands during the
/// evaluation still ends in a graceful exit long before the drain limit.
/// </summary>
[Collection(SiloProcessesCollection.Name)]
public sealed class ExpressionBombTests
{
    private const int SteadySteps = 12;
    private static readonly TimeSpan ExpressionTimeout = TimeSpan.FromSeconds(4);
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(20);
    private static readonly string BombInput = $$"""{"a": [{{string.Join(",", Enumerable.Range(0, 20_000))}}]}""";

    private static ITestOutputHelper? Log => TestContext.Current.TestOutputHelper;

    [Fact]
    public async Task Bomb_FailsItsStepAtTheLimit_WhileAnotherRunKeepsItsPace_AndASigtermDuringItDrainsInTime()
    {
        await using var cluster = await ProcessCluster.CreateAsync("proc_bomb", new Dictionary<string, string?>
        {
            ["MeshHook__Expressions__Timeout"] = ExpressionTimeout.ToString("c"),
            ["MeshHook__Shutdown__DrainTimeout"] = DrainTimeout.ToString("c"),
        });
        var silo = (await cluster.StartSilosAsync("a"))[0];
        var bomb = await cluster.PublishAsync(Bomb(cluster.Sink.BaseAddress));
        var steady = await cluster.PublishAsync(Steady(cluster.Sink.BaseAddress));

        // 1. The bomb and a run of short calls on the same silo, at the same time.
        var bombRun = (await cluster.Database.CreateRunsAsync(bomb, 1, BombInput))[0];
        var steadyRun = (await cluster.Database.CreateRunsAsync(steady, 1))[0];
        await Poll.UntilAsync(async () => (await cluster.Database.StatusesAsync([bombRun, steadyRun])).Values.All(s => s is "succeeded" or "failed"),
            "both runs finish", TimeSpan.FromSeconds(60));

        var statuses = await cluster.Database.StatusesAsync([bombRun, steadyRun]);
        statuses[bombRun].Should().Be("failed");
        (await FailureAsync(cluster, bombRun)).Should().Contain($"evaluation ran longer than {ExpressionTimeout.TotalMilliseconds:0} ms (MeshHook:Expressions:Timeout)");
        statuses[steadyRun].Should().Be("succeeded");
        var bombStarted = cluster.Sink.Requests.Single(r => r.IdempotencyKey == $"mh-{bombRun}-before").ReceivedAt;
        var calls = cluster.Sink.Requests.Where(r => r.IdempotencyKey.StartsWith($"mh-{steadyRun}-", StringComparison.Ordinal)).OrderBy(r => r.ReceivedAt).ToList();
        calls.Should().HaveCount(SteadySteps);
        var gaps = calls.Zip(calls.Skip(1), (a, b) => (At: a.ReceivedAt, Gap: b.ReceivedAt - a.ReceivedAt)).ToList();
        var duringBomb = gaps.Where(g => g.At >= bombStarted && g.At < bombStarted + ExpressionTimeout).ToList();
        Log?.WriteLine($"steady run's gaps between calls (ms): {string.Join(", ", gaps.Select(g => $"{g.Gap.TotalMilliseconds:0}{(duringBomb.Contains(g) ? "*" : "")}"))} (* while the bomb ran)");
        duringBomb.Should().NotBeEmpty("the steady run called its peer while the bomb was being evaluated");
        gaps.Should().AllSatisfy(g => g.Gap.Should().BeLessThan(TimeSpan.FromSeconds(1.5), "a call takes 100 ms; no run waits for the bomb"));

        // 2. SIGTERM while a bomb is being evaluated.
        var second = (await cluster.Database.CreateRunsAsync(bomb, 1, BombInput))[0];
        await Poll.UntilAsync(() => Task.FromResult(cluster.Sink.CountFor($"mh-{second}-before") > 0), "the second bomb's first step ran", TimeSpan.FromSeconds(30));
        await Task.Delay(TimeSpan.FromSeconds(1), TestContext.Current.CancellationToken);
        var clock = Stopwatch.StartNew();
        silo.Process.Terminate();
        var exitCode = await silo.WaitForExitAsync(DrainTimeout + TimeSpan.FromSeconds(30), "the SIGTERMed silo exits");
        Log?.WriteLine($"SIGTERM -> exit: {clock.Elapsed.TotalMilliseconds:0} ms (expression limit {ExpressionTimeout.TotalSeconds} s, drain limit {DrainTimeout.TotalSeconds} s)");

        exitCode.Should().Be(0, silo.Process.Output);
        clock.Elapsed.Should().BeLessThan(ExpressionTimeout + TimeSpan.FromSeconds(5), "the drain waits for the evaluation only until its limit stops it");
        var report = (await cluster.Database.ShutdownsAsync(silo.AddressPrefix)).Should().ContainSingle().Subject;
        report.Forced.Should().BeFalse();
        report.StepsInterrupted.Should().Be(0, "the evaluation ended within the drain, as a failed step");
        (await cluster.Database.StatusesAsync([second]))[second].Should().Be("failed", "the failed step was checkpointed before the silo exited");
        (await FailureAsync(cluster, second)).Should().Contain("evaluation ran longer than");
    }

    private static async Task<string> FailureAsync(ProcessCluster cluster, Guid runId) =>
        string.Join("\n", (await cluster.Database.EventsAsync(runId)).Where(e => e.Type is "step_failed" or "run_failed").Select(e => e.PayloadJson));

    private static string Bomb(Uri sink) => $$$"""
        {
          "nodes": [
            {"id": "hook", "type": "webhook"},
            {"id": "before", "type": "http_call", "data": {"method": "POST", "url": "{{{new Uri(sink, "/before-bomb")}}}"}},
            {"id": "bomb", "type": "transform", "data": {"expression": "length(trigger.body.a[?length($.trigger.body.a[?@ == `7`]) > `0`])"}},
            {"id": "done", "type": "terminate"}
          ],
          "edges": [{"source": "hook", "target": "before"}, {"source": "before", "target": "bomb"}, {"source": "bomb", "target": "done"}]
        }
        """;

    private static string Steady(Uri sink)
    {
        var calls = Enumerable.Range(1, SteadySteps).Select(i =>
            $$"""{"id": "c{{i}}", "type": "http_call", "data": {"method": "POST", "url": "{{new Uri(sink, "/steady?ms=100")}}"} }""");
        var edges = Enumerable.Range(1, SteadySteps).Select(i => $$"""{"source": "{{(i == 1 ? "hook" : $"c{i - 1}")}}", "target": "c{{i}}"}""");
        return $$"""
            {"nodes": [{"id": "hook", "type": "webhook"}, {{string.Join(", ", calls)}}],
             "edges": [{{string.Join(", ", edges)}}]}
            """;
    }
}
