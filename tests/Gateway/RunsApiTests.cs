using System.Net;
using AwesomeAssertions;
using MeshHook.Tests.Gateway.Infrastructure;
using MeshHook.Tests.Integration.Infrastructure;

namespace MeshHook.Tests.Gateway;

[Collection(GatewayCollection.Name)]
public sealed class RunsApiTests(GatewayCluster fixture)
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task Events_FinishedRun_Returns200WithTheHistoryInOrder()
    {
        var slug = await Http.PublishOkAsync(Api.TransformWorkflow);
        var runId = await (await Http.PostAsync($"/api/hooks/{slug}", Api.Json("""{"n": 1}"""))).RunIdOfAsync();
        await Http.WaitFinishedAsync(runId);

        var response = await Http.GetAsync($"/api/runs/{runId}/events");

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        var events = (await response.ReadJsonAsync()).EnumerateArray().ToList();
        events.Select(e => e.GetProperty("seq").GetInt32()).Should().BeInAscendingOrder().And.StartWith(1);
        events[0].GetProperty("type").GetString().Should().Be("run_created");
        events[0].GetProperty("payload").GetProperty("slug").GetString().Should().Be(slug);
        events[0].TryGetProperty("ts", out _).Should().BeTrue();
        events[^1].GetProperty("type").GetString().Should().Be("run_completed");
    }

    [Fact]
    public async Task Cancel_RunningRun_Returns202AndTheRunEndsCanceled()
    {
        var slug = await Http.PublishOkAsync(Api.SlowWorkflow);
        var runId = await (await Http.PostAsync($"/api/hooks/{slug}", Api.Json("{}"))).RunIdOfAsync();
        await Poll.UntilAsync(
            async () => (await (await Http.GetAsync($"/api/runs/{runId}")).ReadJsonAsync()).GetProperty("steps")[1].GetProperty("status").GetString() == "running",
            "the delay step to be running");

        var response = await Http.PostAsync($"/api/runs/{runId}/cancel", null);

        response.StatusCode.Should().Be(HttpStatusCode.Accepted);
        var view = await Http.WaitFinishedAsync(runId);
        view.GetProperty("status").GetString().Should().Be("canceled");
        (await fixture.RowStatusAsync(runId)).Should().Be("canceled");
    }

    [Theory]
    [InlineData("GET", "/api/runs/{0}")]
    [InlineData("GET", "/api/runs/{0}/events")]
    [InlineData("POST", "/api/runs/{0}/cancel")]
    public async Task UnknownOrMalformedId_Returns404AndWritesNothing(string method, string template)
    {
        var before = await fixture.CountRowsAsync();
        foreach (var id in new[] { Guid.NewGuid().ToString(), Guid.Empty.ToString(), "not-a-guid", "1", Guid.NewGuid().ToString("N"), $"{{{Guid.NewGuid()}}}", "..%2F..%2Fetc" })
        {
            var response = await Http.SendAsync(new HttpRequestMessage(new HttpMethod(method), string.Format(template, id)));

            ((int)response.StatusCode).Should().Be(404, $"{method} {template} with id '{id}'");
        }

        // Kestrel itself refuses a NUL in the path, before routing.
        var nul = await Http.SendAsync(new HttpRequestMessage(new HttpMethod(method), string.Format(template, "%00")));
        ((int)nul.StatusCode).Should().Be(400);

        (await fixture.CountRowsAsync()).Should().Be(before);
    }
}
