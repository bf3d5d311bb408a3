using System.Net;
using AwesomeAssertions;
using MeshHook.Tests.Gateway.Infrastructure;

namespace MeshHook.Tests.Gateway;

[Collection(GatewayCollection.Name)]
public sealed class WorkflowsApiTests(GatewayCluster fixture)
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task Put_ValidDefinition_Returns201WithNewVersionEachTime()
    {
        var slug = Api.NewSlug();

        var first = await Http.PublishAsync(slug, Api.TransformWorkflow, secret: "top-secret");
        var second = await Http.PublishAsync(slug, Api.TransformWorkflow, name: "second name");

        first.StatusCode.Should().Be(HttpStatusCode.Created);
        first.Headers.Location!.ToString().Should().Be($"/api/workflows/{slug}");
        (await first.ReadJsonAsync()).GetProperty("version").GetInt32().Should().Be(1);
        (await second.ReadJsonAsync()).GetProperty("version").GetInt32().Should().Be(2);
        (await second.ReadJsonAsync()).GetProperty("slug").GetString().Should().Be(slug);
    }

    [Fact]
    public async Task Get_Published_ReturnsLatestVersionAndNeverTheSecret()
    {
        var slug = Api.NewSlug();
        await Http.PublishAsync(slug, Api.SlowWorkflow, secret: "first-secret");
        await Http.PublishAsync(slug, Api.TransformWorkflow, secret: "second-secret", name: "latest");

        var response = await Http.GetAsync($"/api/workflows/{slug}");

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        var text = await response.Content.ReadAsStringAsync();
        text.Should().NotContain("secret");
        var body = await response.ReadJsonAsync();
        body.GetProperty("slug").GetString().Should().Be(slug);
        body.GetProperty("version").GetInt32().Should().Be(2);
        body.GetProperty("name").GetString().Should().Be("latest");
        body.GetProperty("definition").GetProperty("nodes")[1].GetProperty("id").GetString().Should().Be("double");
    }

    [Fact]
    public async Task Get_Unknown_Returns404()
    {
        var response = await Http.GetAsync($"/api/workflows/{Api.NewSlug()}");

        response.StatusCode.Should().Be(HttpStatusCode.NotFound);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
    }

    [Fact]
    public async Task Put_InvalidDefinitionAndFields_Returns400ListingEveryProblemAndWritesNothing()
    {
        var before = await fixture.CountRowsAsync();
        const string definition = """
            {"nodes": [{"id": "hook", "type": "webhook"}, {"id": "a", "type": "nope"}, {"id": "b", "type": "transform", "data": {"expression": "(("}},
                       {"id": "b", "type": "delay", "data": {"ms": 1}}],
             "edges": [{"source": "hook", "target": "ghost"}]}
            """;

        var response = await Http.PutAsync($"/api/workflows/{Api.NewSlug()}", Api.Json($$"""{"name": "", "definition": {{definition}}, "secret": 7}"""));

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        var errors = (await response.ReadJsonAsync()).GetProperty("errors").EnumerateArray()
            .Select(e => (NodeId: e.TryGetProperty("nodeId", out var n) ? n.GetString() : null, Message: e.GetProperty("message").GetString()!))
            .ToList();
        errors.Should().Contain(e => e.NodeId == null && e.Message.Contains("name"));
        errors.Should().Contain(e => e.NodeId == null && e.Message.Contains("secret"));
        errors.Should().Contain(e => e.NodeId == "a" && e.Message.Contains("unknown node type"));
        errors.Should().Contain(e => e.NodeId == "b" && e.Message.Contains("duplicate"));
        errors.Should().Contain(e => e.Message.Contains("ghost"));
        (await fixture.CountRowsAsync()).Should().Be(before);
    }

    [Fact]
    public async Task Put_OnlyTheDefinitionInvalid_Returns400WithTheValidatorsProblems()
    {
        var response = await Http.PublishAsync(Api.NewSlug(), """{"nodes": [{"id": "x", "type": "transform", "data": {"expression": "a"}}], "edges": []}""");

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        var messages = (await response.ReadJsonAsync()).GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("message").GetString()).ToList();
        messages.Should().Contain(m => m!.Contains("no webhook trigger"));
    }

    [Theory]
    [InlineData("Upper")]
    [InlineData("-leading-dash")]
    [InlineData("has.dot")]
    [InlineData("%C3%A9t%C3%A9")]
    [InlineData("a%2Fb")]
    [InlineData("a%0A")]
    public async Task Put_InvalidSlug_Returns400AndWritesNothing(string slug)
    {
        var before = await fixture.CountRowsAsync();

        var response = await Http.PutAsync($"/api/workflows/{slug}", Api.Json($$"""{"name": "n", "definition": {{Api.TransformWorkflow}}}"""));

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await fixture.CountRowsAsync()).Should().Be(before);
    }

    [Fact]
    public async Task Put_SlugOf101Characters_Returns400()
    {
        var response = await Http.PutAsync($"/api/workflows/{new string('a', 101)}", Api.Json($$"""{"name": "n", "definition": {{Api.TransformWorkflow}}}"""));

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
    }
}
