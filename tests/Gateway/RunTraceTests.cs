using System.Diagnostics;
using System.Net;
using AwesomeAssertions;
using MeshHook.Grains.Runs;
using MeshHook.Tests.Gateway.Infrastructure;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace MeshHook.Tests.Gateway;

/// <summary>
/// A run started by a webhook reads as one trace: the intake request, the run's creation in Postgres, the grain call
/// that starts the run, every step, the checkpoints and the request its http_call sends (traceparent), with spans
/// captured in process from the gateway and the silos. A hand-off: <see cref="HandOffTraceTests"/>.
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class RunTraceTests(GatewayCluster fixture)
{
    [Fact]
    public async Task Webhook_ItsRunsSteps_AndTheOutgoingCall_ShareTheIntakesTrace()
    {
        var exported = new List<Activity>();
        using (var tracer = Sdk.CreateTracerProviderBuilder()
                   .AddSource(RunTracing.SourceName, "Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application")
                   .AddAspNetCoreInstrumentation()
                   .AddInMemoryExporter(exported)
                   .Build())
        {
            var slug = await fixture.Http.PublishOkAsync($$"""
                {"nodes": [
                  {"id": "hook", "type": "webhook"},
                  {"id": "shape", "type": "transform", "data": {"expression": "{n: trigger.body.n}"} },
                  {"id": "call", "type": "http_call", "data": {"method": "POST", "url": "{{fixture.Sink.BaseAddress}}traced-run", "body": "steps.shape"} },
                  {"id": "done", "type": "terminate"}
                ], "edges": [{"source": "hook", "target": "shape"}, {"source": "shape", "target": "call"}, {"source": "call", "target": "done"}]}
                """);
            var hook = await fixture.Gateway.Anonymous.PostAsync($"/api/hooks/{slug}", Api.Json("""{"n": 1}"""));
            hook.StatusCode.Should().Be(HttpStatusCode.Accepted);
            var runId = await hook.RunIdOfAsync();
            (await fixture.Http.WaitFinishedAsync(runId)).GetProperty("status").GetString().Should().Be("succeeded");
            tracer.ForceFlush();

            List<Activity> spans;
            lock (exported)
            {
                spans = [.. exported];
            }

            var intake = spans.Should().ContainSingle(a => a.Kind == ActivityKind.Server && a.GetTagItem("url.path") as string == $"/api/hooks/{slug}").Subject;
            var run = spans.Where(a => a.Source.Name == RunTracing.SourceName && a.GetTagItem("meshhook.run_id") as string == runId.ToString()).ToList();
            run.Should().ContainSingle(a => a.DisplayName == "run create").Which.ParentSpanId.Should().Be(intake.SpanId);
            run.Should().Contain(a => a.DisplayName == "run checkpoint", "the http_call's start and the run's end are checkpointed");
            run.Should().NotContain(a => a.DisplayName == "run resume", "the run never left the pass the start call began");
            var steps = run.Where(a => a.DisplayName.StartsWith("step ", StringComparison.Ordinal)).ToList();
            steps.Select(s => s.GetTagItem("meshhook.node_id")).Should().BeEquivalentTo(["hook", "shape", "call", "done"]);
            run.Should().AllSatisfy(s => s.TraceId.Should().Be(intake.TraceId, $"'{s.DisplayName}' ({s.GetTagItem("meshhook.node_id")}) belongs to the intake's trace"));
            var request = fixture.Sink.Requests.Single(r => r.IdempotencyKey == $"mh-{runId}-call");
            request.Headers["traceparent"].Should().StartWith($"00-{intake.TraceId}-", "the peer joins the same trace");
        }
    }
}
