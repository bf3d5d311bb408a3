using System.Diagnostics;
using System.Net;
using AwesomeAssertions;
using MeshHook.Grains.Runs;
using MeshHook.Tests.Gateway.Infrastructure;
using MeshHook.Tests.Integration.Infrastructure;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace MeshHook.Tests.Gateway;

/// <summary>Two silos behind the real gateway: one of them stops during the test.</summary>
public sealed class TwoSiloGatewayCluster : GatewayCluster
{
    protected override short InitialSilos => 2;
}

/// <summary>
/// A run handed off by a draining silo reads as one trace: the intake request, the run's creation, its steps on the
/// first silo, the checkpoints, the hand-off, the resume on the survivor and the steps there, down to the last one,
/// all share the intake's trace id (spans of the gateway and both silos captured in process).
/// </summary>
public sealed class HandOffTraceTests(TwoSiloGatewayCluster fixture) : IClassFixture<TwoSiloGatewayCluster>
{
    [Fact]
    public async Task RunHandedOffMidDelay_EverySpanFromIntakeToItsLastStep_SharesTheIntakesTrace()
    {
        var exported = new List<Activity>();
        using var tracer = Sdk.CreateTracerProviderBuilder()
            .AddSource(RunTracing.SourceName, "Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application")
            .AddAspNetCoreInstrumentation()
            .AddInMemoryExporter(exported)
            .Build();
        var slug = await fixture.Http.PublishOkAsync($$"""
            {"nodes": [
              {"id": "hook", "type": "webhook"},
              {"id": "shape", "type": "transform", "data": {"expression": "{n: trigger.body.n}"} },
              {"id": "wait", "type": "delay", "data": {"ms": 3000} },
              {"id": "call", "type": "http_call", "data": {"method": "POST", "url": "{{fixture.Sink.BaseAddress}}handed-off", "body": "steps.shape"} },
              {"id": "done", "type": "terminate"}
            ], "edges": [{"source": "hook", "target": "shape"}, {"source": "shape", "target": "wait"}, {"source": "wait", "target": "call"}, {"source": "call", "target": "done"}]}
            """);
        var hook = await fixture.Gateway.Anonymous.PostAsync($"/api/hooks/{slug}", Api.Json("""{"n": 7}"""));
        hook.StatusCode.Should().Be(HttpStatusCode.Accepted);
        var runId = await hook.RunIdOfAsync();

        // The run waits in its delay, checkpointed: stop the silo it lives on, which hands it to the other one.
        await Poll.UntilAsync(
            async () => (await fixture.Store.ReadEventsAsync(runId, CancellationToken.None))
                .Any(e => e.Type == RunEventTypes.StepStarted && e.PayloadJson.Contains("\"wait\"", StringComparison.Ordinal)),
            "the run is in its delay");
        var owner = await OwnerAsync(runId);
        var victim = fixture.Cluster.GetActiveSilos().Single(s => s.SiloAddress.ToString() == owner);
        await fixture.Cluster.StopSiloAsync(victim);
        (await fixture.Http.WaitFinishedAsync(runId, TimeSpan.FromSeconds(60))).GetProperty("status").GetString().Should().Be("succeeded");
        tracer.ForceFlush();

        var events = await fixture.Store.ReadEventsAsync(runId, CancellationToken.None);
        events.Select(e => e.Type).Should().ContainInOrder(RunEventTypes.RunHandedOff, RunEventTypes.RunResumed, RunEventTypes.RunCompleted);
        List<Activity> spans;
        lock (exported)
        {
            spans = [.. exported];
        }

        var intake = spans.Should().ContainSingle(a => a.Kind == ActivityKind.Server && a.GetTagItem("url.path") as string == $"/api/hooks/{slug}").Subject;
        var run = spans.Where(a => a.Source.Name == RunTracing.SourceName && a.GetTagItem("meshhook.run_id") as string == runId.ToString()).ToList();
        var create = run.Should().ContainSingle(a => a.DisplayName == "run create").Subject;
        create.ParentSpanId.Should().Be(intake.SpanId, "the run is created inside the intake request");
        var handOff = run.Should().ContainSingle(a => a.DisplayName == "run hand-off").Subject;
        handOff.GetTagItem("meshhook.silo").Should().Be(victim.Name);
        handOff.GetTagItem("meshhook.survivor").Should().Be(true);
        var resume = run.Should().ContainSingle(a => a.DisplayName == "run resume").Subject;
        resume.GetTagItem("meshhook.silo").Should().NotBe(victim.Name, "the run resumes on the survivor");
        run.Where(a => a.DisplayName == "run checkpoint").Should().NotBeEmpty();
        run.Where(a => a.DisplayName == "run checkpoint").Should().Contain(c => c.ParentSpanId == handOff.SpanId, "the hand-off saves the run");

        var steps = run.Where(a => a.DisplayName.StartsWith("step ", StringComparison.Ordinal)).ToList();
        steps.Select(s => s.GetTagItem("meshhook.node_id")).Should().Contain(["hook", "shape", "wait", "call", "done"]);
        // The delay was cut short by the drain and starts again on the survivor, where it waits out the rest.
        steps.Where(s => (string?)s.GetTagItem("meshhook.node_id") == "wait").Select(s => s.GetTagItem("meshhook.execution"))
            .Should().BeEquivalentTo(new object[] { 1, 2 });
        foreach (var node in new[] { "call", "done" })
        {
            steps.Single(s => (string?)s.GetTagItem("meshhook.node_id") == node).ParentSpanId.Should().Be(resume.SpanId, $"step {node} runs in the survivor's pass");
        }

        run.Should().AllSatisfy(a => a.TraceId.Should().Be(intake.TraceId, $"'{a.DisplayName}' belongs to the intake's trace"));
        var request = fixture.Sink.Requests.Single(r => r.IdempotencyKey == $"mh-{runId}-call");
        request.Headers["traceparent"].Should().StartWith($"00-{intake.TraceId}-", "the peer called after the hand-off joins the same trace");
    }

    private async Task<string> OwnerAsync(Guid runId)
    {
        await using var command = fixture.DataSource.CreateCommand("SELECT silo FROM workflow_runs WHERE id = @id");
        command.Parameters.AddWithValue("id", runId);
        return (string)(await command.ExecuteScalarAsync())!;
    }
}
