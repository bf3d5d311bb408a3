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

    private async Task<GatewayServer> StartGatewayAsync()
    {
        var gateway = await GatewayServer.StartAsync(fixture.ConnectionString, fixture.Cluster.Options.ClusterId, fixture.Cluster.Options.ServiceId);
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
