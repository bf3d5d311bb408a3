using System.Net;
using AwesomeAssertions;
using MeshHook.Tests.Gateway.Infrastructure;

namespace MeshHook.Tests.Gateway;

/// <summary>
/// A workflow published with <c>timestampedSignature: true</c> takes only webhooks that carry
/// <c>X-Signature-Timestamp</c> within 5 minutes of the gateway's clock and sign <c>"&lt;timestamp&gt;.&lt;body&gt;"</c>,
/// so a captured request cannot be replayed later.
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class TimestampedSignatureTests(GatewayCluster fixture)
{
    private const string Secret = "replay-guarded-secret";
    private const string Body = """{"n": 1}""";

    [Fact]
    public async Task Webhook_SignedWithAFreshTimestamp_IsAccepted_AndTheWorkflowSaysItNeedsOne()
    {
        var slug = await PublishAsync();
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        (await SendAsync(slug, now, Api.Sign(Secret, $"{now}.{Body}"))).StatusCode.Should().Be(HttpStatusCode.Accepted);

        var workflow = await (await fixture.Http.GetAsync($"/api/workflows/{slug}")).ReadJsonAsync();
        workflow.GetProperty("timestampedSignature").GetBoolean().Should().BeTrue();
    }

    // Ten seconds past the window, not one: the test reads its clock in whole seconds before the gateway reads its own,
    // so +301 landed inside the window whenever the truncated fraction plus the request's delay passed a second.
    [Theory]
    [InlineData(-310, "more than 300 s away")]
    [InlineData(+310, "more than 300 s away")]
    public async Task Webhook_WithATimestampOutsideTheWindow_Is401_AndWritesNothing(int offsetSeconds, string message)
    {
        var slug = await PublishAsync();
        var at = DateTimeOffset.UtcNow.ToUnixTimeSeconds() + offsetSeconds;
        var before = await fixture.CountRowsAsync();

        var response = await SendAsync(slug, at, Api.Sign(Secret, $"{at}.{Body}"));

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized, "a correctly signed but old request is a replay");
        (await response.ReadJsonAsync()).GetProperty("detail").GetString().Should().Contain(message);
        (await fixture.CountRowsAsync()).Should().Be(before);
    }

    [Fact]
    public async Task Webhook_WithoutATimestamp_OrWithTheBodyAloneSigned_OrATimestampChanged_Is401()
    {
        var slug = await PublishAsync();
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        (await SendAsync(slug, timestamp: null, Api.Sign(Secret, Body))).StatusCode.Should().Be(HttpStatusCode.Unauthorized, "no timestamp");
        (await SendAsync(slug, now, Api.Sign(Secret, Body))).StatusCode.Should().Be(HttpStatusCode.Unauthorized, "the timestamp is not signed");
        (await SendAsync(slug, now - 10, Api.Sign(Secret, $"{now}.{Body}"))).StatusCode.Should().Be(HttpStatusCode.Unauthorized, "the timestamp was changed after signing");
    }

    [Fact]
    public async Task Publish_TimestampedSignatureWithoutASecret_Is400()
    {
        var response = await fixture.Http.PutAsync(
            $"/api/workflows/{Api.NewSlug()}",
            Api.Json($$"""{"name": "n", "definition": {{Api.TransformWorkflow}}, "timestampedSignature": true}"""));

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await response.Content.ReadAsStringAsync()).Should().Contain("timestampedSignature needs a secret");
    }

    private async Task<string> PublishAsync()
    {
        var slug = Api.NewSlug();
        var response = await fixture.Http.PutAsync(
            $"/api/workflows/{slug}",
            Api.Json($$"""{"name": "n", "definition": {{Api.TransformWorkflow}}, "secret": "{{Secret}}", "timestampedSignature": true}"""));
        response.StatusCode.Should().Be(HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return slug;
    }

    private async Task<HttpResponseMessage> SendAsync(string slug, long? timestamp, string signature)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/hooks/{slug}") { Content = Api.Json(Body) };
        request.Headers.TryAddWithoutValidation("X-Hub-Signature-256", $"sha256={signature}");
        if (timestamp is { } at)
        {
            request.Headers.TryAddWithoutValidation("X-Signature-Timestamp", at.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        return await fixture.Gateway.Anonymous.SendAsync(request);
    }
}
