using System.Net;
using System.Net.Sockets;
using AwesomeAssertions;
using MeshHook.Tests.Gateway.Infrastructure;

namespace MeshHook.Tests.Gateway;

/// <summary>
/// With MeshHook:Gateway:ManagementUrls set, /metrics and /openapi answer only there, the API only on the main address,
/// and /health on both: only the intake and the API face the SvelteKit app.
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class ManagementAddressTests(GatewayCluster fixture)
{
    [Fact]
    public async Task ManagementUrls_SplitOpsFromTheApi_ByTheAddressTheRequestCameIn()
    {
        var port = FreePort();
        await using var gateway = await GatewayServer.StartAsync(
            fixture.ConnectionString,
            fixture.Cluster.Options.ClusterId,
            fixture.Cluster.Options.ServiceId,
            new Dictionary<string, string?> { ["MeshHook:Gateway:ManagementUrls:0"] = $"http://127.0.0.1:{port}" });
        await gateway.WaitReadyAsync();
        using var management = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        management.DefaultRequestHeaders.Authorization = gateway.Http.DefaultRequestHeaders.Authorization;

        (await gateway.Http.GetAsync("/metrics")).StatusCode.Should().Be(HttpStatusCode.NotFound, "metrics moved to the management address");
        (await gateway.Http.GetAsync("/openapi/v1.json")).StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await management.GetAsync("/metrics")).StatusCode.Should().Be(HttpStatusCode.OK);
        (await management.GetAsync("/openapi/v1.json")).StatusCode.Should().Be(HttpStatusCode.OK);

        var slug = await gateway.Http.PublishOkAsync(Api.TransformWorkflow);
        (await management.GetAsync($"/api/workflows/{slug}")).StatusCode.Should().Be(HttpStatusCode.NotFound, "the API is not served to the management network");
        (await management.PostAsync($"/api/hooks/{slug}", Api.Json("{}"))).StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await gateway.Http.GetAsync($"/api/workflows/{slug}")).StatusCode.Should().Be(HttpStatusCode.OK);

        // A Host header naming the management port does not make the main address serve metrics.
        using var spoofed = new HttpRequestMessage(HttpMethod.Get, "/metrics") { Headers = { Host = $"127.0.0.1:{port}" } };
        (await gateway.Http.SendAsync(spoofed)).StatusCode.Should().Be(HttpStatusCode.NotFound);

        foreach (var client in new[] { gateway.Http, management })
        {
            (await client.GetAsync("/health/live")).StatusCode.Should().Be(HttpStatusCode.OK, "probes reach either address");
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
