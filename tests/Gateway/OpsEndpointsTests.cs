using System.Net;
using AwesomeAssertions;
using MeshHook.Tests.Gateway.Infrastructure;
using MeshHook.Tests.Integration.Infrastructure;

namespace MeshHook.Tests.Gateway;

[Collection(GatewayCollection.Name)]
public sealed class OpsEndpointsTests(GatewayCluster fixture)
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task Health_ConnectedGateway_LiveAndReadyAnswer200()
    {
        (await Http.GetAsync("/health/live")).StatusCode.Should().Be(HttpStatusCode.OK);
        (await Http.GetAsync("/health/ready")).StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Metrics_AfterIntake_ShowsPrometheusTextWithIntakeCounts()
    {
        var slug = await Http.PublishOkAsync(Api.TransformWorkflow);
        (await Http.PostAsync($"/api/hooks/{slug}", Api.Json("{}"))).StatusCode.Should().Be(HttpStatusCode.Accepted);

        // The Prometheus exporter may answer a scrape from its short response cache (ScrapeResponseCacheDurationMilliseconds):
        // another test of the collection may have scraped just before this intake.
        var text = "";
        await Poll.UntilAsync(async () => (text = await Http.GetStringAsync("/metrics")).Contains("meshhook_gateway_intake_total{", StringComparison.Ordinal),
            "a scrape after the intake shows its counter", TimeSpan.FromSeconds(5));

        text.Should().Contain("meshhook_gateway_intake_total{").And.Contain("outcome=\"accepted\"");
        text.Should().Contain("http_server_request_duration_seconds");
    }

    [Fact]
    public async Task OpenApi_Document_DescribesEveryApiCall()
    {
        var document = await (await Http.GetAsync("/openapi/v1.json")).ReadJsonAsync();

        var paths = document.GetProperty("paths");
        paths.GetProperty("/api/workflows/{slug}").TryGetProperty("put", out _).Should().BeTrue();
        paths.GetProperty("/api/workflows/{slug}").TryGetProperty("get", out _).Should().BeTrue();
        paths.GetProperty("/api/hooks/{slug}").TryGetProperty("post", out _).Should().BeTrue();
        paths.GetProperty("/api/runs/{runId}").TryGetProperty("get", out _).Should().BeTrue();
        paths.GetProperty("/api/runs/{runId}/events").TryGetProperty("get", out _).Should().BeTrue();
        paths.GetProperty("/api/runs/{runId}/cancel").TryGetProperty("post", out _).Should().BeTrue();
        document.GetProperty("components").GetProperty("schemas").TryGetProperty("RunResponse", out _).Should().BeTrue();

        // Request bodies are documented (for a generated client) without routing refusing other content types with 415.
        foreach (var (path, verb) in new[] { ("/api/workflows/{slug}", "put"), ("/api/hooks/{slug}", "post") })
        {
            var content = paths.GetProperty(path).GetProperty(verb).GetProperty("requestBody").GetProperty("content");
            content.TryGetProperty("application/json", out var json).Should().BeTrue($"{verb} {path} documents a JSON body");
            json.TryGetProperty("schema", out _).Should().BeTrue($"{verb} {path} documents the body's schema");
        }
    }
}
