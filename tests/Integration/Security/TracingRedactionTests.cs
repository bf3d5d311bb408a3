using System.Diagnostics;
using AwesomeAssertions;
using MeshHook.Grains.Definitions;
using MeshHook.Grains.Steps;
using MeshHook.Grains.Steps.Egress;
using MeshHook.Silo.Hosting;
using MeshHook.Tests.Integration.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Newtonsoft.Json.Linq;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace MeshHook.Tests.Integration.Security;

/// <summary>
/// With the silo's tracing on, an http_call's span holds its URL's scheme, host and port only: a Slack- or
/// Discord-style webhook URL carries its credential in the path, and spans leave the silo for a trace backend.
/// </summary>
public sealed class TracingRedactionTests
{
    [Fact]
    public async Task HttpCallSpan_KeepsNoPathOrQueryOfTheUrl()
    {
        var exported = new List<Activity>();
        using var tracer = Sdk.CreateTracerProviderBuilder().AddMeshHookSiloTracing().AddInMemoryExporter(exported).Build();
        await using var sink = await HttpSink.StartAsync();
        await using var services = new ServiceCollection()
            .AddMeshHookSteps()
            .AddSingleton(Options.Create(new EgressOptions { AllowedNetworks = ["127.0.0.0/8"] }))
            .BuildServiceProvider();
        var url = new Uri(sink.BaseAddress, "/services/T000/B000/XXXXsecretpath?token=querysecret");
        var node = new HttpCallNode("notify", HttpMethod.Post, url, [], null, TimeSpan.FromSeconds(5), new RetryPolicy(1, TimeSpan.Zero, TimeSpan.Zero));

        var outcome = await services.GetRequiredService<StepExecutors>().For(HttpCallNode.TypeName)
            .ExecuteAsync(new StepInvocation(Guid.NewGuid(), node, new JObject(), DateTimeOffset.UtcNow, new NoObserver()), TestContext.Current.CancellationToken);
        tracer.ForceFlush();

        outcome.Should().BeOfType<StepOutcome.Succeeded>();
        var span = exported.Should().ContainSingle(a => a.Source.Name == "System.Net.Http").Subject;
        span.GetTagItem("url.full").Should().Be(sink.BaseAddress.GetLeftPart(UriPartial.Authority));
        // (The sink's own server span, traced by the same provider in this process, is the peer's and is not looked at.)
        span.TagObjects.Select(t => $"{t.Key}={t.Value}").Should()
            .NotContain(t => t.Contains("secretpath", StringComparison.Ordinal) || t.Contains("querysecret", StringComparison.Ordinal));
        span.DisplayName.Should().NotContain("secretpath");
    }

    private sealed class NoObserver : IStepObserver
    {
        public void OnHttpAttempt(HttpAttempt attempt)
        {
        }

        public Task BeforeRetryAsync() => Task.CompletedTask;
    }
}
