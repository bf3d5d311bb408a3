using System.Net;
using AwesomeAssertions;
using MeshHook.Tests.Gateway.Infrastructure;

namespace MeshHook.Tests.Gateway;

/// <summary>
/// Publishing refuses an http_call whose URL is a literal address no run could reach (the egress rule, with the
/// gateway's MeshHook:Http:AllowedNetworks), naming the node; a host name is judged when a run resolves it.
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class BlockedUrlPublishTests(GatewayCluster fixture)
{
    [Theory]
    [InlineData("http://169.254.169.254/latest/meta-data/", "link-local")]
    [InlineData("http://10.0.0.5:5432/", "private")]
    [InlineData("http://[::1]:8081/metrics", "loopback")]
    [InlineData("https://[fd00::7]/", "private")]
    [InlineData("http://0.0.0.0/", "unspecified")]
    public async Task Publish_CallToABlockedLiteralAddress_Is400NamingTheNode_AndWritesNothing(string url, string blockedClass)
    {
        var before = await fixture.CountRowsAsync();

        var response = await fixture.Http.PublishAsync(Api.NewSlug(), Definition(url));

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        var errors = (await response.ReadJsonAsync()).GetProperty("errors");
        errors.GetArrayLength().Should().Be(1);
        errors[0].GetProperty("nodeId").GetString().Should().Be("call");
        errors[0].GetProperty("message").GetString().Should().Contain($"is a {blockedClass} address").And.Contain("MeshHook:Http:AllowedNetworks");
        (await fixture.CountRowsAsync()).Should().Be(before);
    }

    [Theory]
    [InlineData("http://127.0.0.1:9/hook")]
    [InlineData("http://metadata.internal.example/")]
    [InlineData("https://93.184.215.14/")]
    public async Task Publish_CallToAnAllowedAddressOrAName_IsPublished(string url)
    {
        // 127.0.0.0/8 is allowed on the test gateway; a name is judged when a run connects.
        (await fixture.Http.PublishAsync(Api.NewSlug(), Definition(url))).StatusCode.Should().Be(HttpStatusCode.Created);
    }

    private static string Definition(string url) => $$$"""
        {"nodes": [{"id": "hook", "type": "webhook"}, {"id": "call", "type": "http_call", "data": {"method": "GET", "url": "{{{url}}}"}}],
         "edges": [{"source": "hook", "target": "call"}]}
        """;
}
