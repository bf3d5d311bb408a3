using System.Net;
using AwesomeAssertions;
using MeshHook.Tests.Gateway.Infrastructure;

namespace MeshHook.Tests.Gateway;

/// <summary>The gateway's own graceful stop: readiness flips first, requests in flight finish (and reach the cluster).</summary>
[Collection(GatewayCollection.Name)]
public sealed class GatewayShutdownTests(GatewayCluster fixture)
{
    [Fact]
    public async Task Readiness_OnceStoppingBegins_Answers503WhileLiveStays200()
    {
        await using var gateway = await StartGatewayAsync();

        // Only the signal: nothing calls StopAsync, so the server keeps answering and readiness can be read.
        gateway.App.Lifetime.StopApplication();

        (await gateway.Http.GetAsync("/health/ready")).StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        (await gateway.Http.GetAsync("/health/live")).StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Intake_InFlightWhenTheGatewayStops_FinishesWith202AndTheRunRuns()
    {
        await using var gateway = await StartGatewayAsync();
        var slug = await gateway.Http.PublishOkAsync(Api.TransformWorkflow);
        var content = new GatedContent("""{"n": """, "3}");
        var stopping = new TaskCompletionSource();
        gateway.App.Lifetime.ApplicationStopping.Register(() => stopping.TrySetResult());

        var post = gateway.Http.PostAsync($"/api/hooks/{slug}", content);
        await content.FirstPartSent.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var stop = gateway.App.StopAsync();
        await stopping.Task.WaitAsync(TimeSpan.FromSeconds(10));
        content.Release();
        var response = await post.WaitAsync(TimeSpan.FromSeconds(20));
        await stop.WaitAsync(TimeSpan.FromSeconds(30));

        response.StatusCode.Should().Be(HttpStatusCode.Accepted);
        var view = await fixture.WaitFinishedAsync(await response.RunIdOfAsync());
        view.OutputJson.Should().Contain("3");
    }

    // Bug 12 of the chaos soak: Kestrel's stop closed idle kept-alive connections at once, and a webhook sent on one
    // at that moment got no answer at all. Without the stop delay the second webhook below fails the same way.
    [Fact]
    public async Task Intake_OnAKeptAliveConnectionOnceStoppingBegins_IsAnsweredWithConnectionClose()
    {
        await using var gateway = await StartGatewayAsync(new Dictionary<string, string?> { ["MeshHook:Gateway:StopDelay"] = "00:00:03" });
        var slug = await gateway.Http.PublishOkAsync(Api.TransformWorkflow);
        var before = await gateway.Http.PostAsync($"/api/hooks/{slug}", Api.Json("""{"n": 1}"""));
        before.StatusCode.Should().Be(HttpStatusCode.Accepted);
        before.Headers.ConnectionClose.Should().NotBe(true, "the connection stays open while the gateway runs");
        var stopping = new TaskCompletionSource();
        gateway.App.Lifetime.ApplicationStopping.Register(() => stopping.TrySetResult());

        var stop = gateway.App.StopAsync();
        await stopping.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var during = await gateway.Http.PostAsync($"/api/hooks/{slug}", Api.Json("""{"n": 2}"""));
        (await gateway.Http.GetAsync("/health/ready")).StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        await stop.WaitAsync(TimeSpan.FromSeconds(30));

        during.StatusCode.Should().Be(HttpStatusCode.Accepted);
        during.Headers.ConnectionClose.Should().Be(true, "clients must leave their connections before the server closes them");
        var view = await fixture.WaitFinishedAsync(await during.RunIdOfAsync());
        view.OutputJson.Should().Contain("2");
    }

    [Fact]
    public async Task StopDelay_NotShorterThanTheShutdownTimeout_RefusesToStart()
    {
        var start = () => GatewayServer.StartAsync(
            fixture.ConnectionString, fixture.Cluster.Options.ClusterId, fixture.Cluster.Options.ServiceId,
            new Dictionary<string, string?> { ["MeshHook:Gateway:StopDelay"] = "00:00:20", ["MeshHook:Gateway:ShutdownTimeout"] = "00:00:20" });

        (await start.Should().ThrowAsync<Microsoft.Extensions.Options.OptionsValidationException>())
            .Which.Message.Should().Contain("StopDelay").And.Contain("ShutdownTimeout");
    }

    private async Task<GatewayServer> StartGatewayAsync(IDictionary<string, string?>? settings = null)
    {
        var gateway = await GatewayServer.StartAsync(fixture.ConnectionString, fixture.Cluster.Options.ClusterId, fixture.Cluster.Options.ServiceId, settings);
        await gateway.WaitReadyAsync();
        return gateway;
    }

    /// <summary>A chunked body that sends its first part, then waits for <see cref="Release"/> before the rest.</summary>
    private sealed class GatedContent(string first, string rest) : HttpContent
    {
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource FirstPartSent { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Release() => _release.TrySetResult();

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(first));
            await stream.FlushAsync();
            FirstPartSent.TrySetResult();
            await _release.Task;
            await stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(rest));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
