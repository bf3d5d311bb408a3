using System.Net;
using System.Text.Json;
using AwesomeAssertions;
using MeshHook.Tests.Gateway.Infrastructure;

namespace MeshHook.Tests.Gateway;

[Collection(GatewayCollection.Name)]
public sealed class HooksApiTests(GatewayCluster fixture)
{
    private const string Secret = "whsec-test-0123456789";

    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task Post_PublishedWorkflow_Returns202WithLocationAndTheRunFinishes()
    {
        var slug = await Http.PublishOkAsync(Api.TransformWorkflow);
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/hooks/{slug}") { Content = Api.Json("""{"n": 21}""") };
        request.Headers.Add("X-Custom", "ada");

        var response = await Http.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.Accepted);
        var runId = await response.RunIdOfAsync();
        response.Headers.Location!.ToString().Should().Be($"/api/runs/{runId}");
        var view = await Http.WaitFinishedAsync(runId);
        view.GetProperty("status").GetString().Should().Be("succeeded");
        view.GetProperty("slug").GetString().Should().Be(slug);
        view.GetProperty("version").GetInt32().Should().Be(1);
        view.GetProperty("output").ValueKind.Should().Be(JsonValueKind.Object, "output is JSON, not a string");
        view.GetProperty("output").GetProperty("n").GetInt32().Should().Be(21);
        view.GetProperty("output").GetProperty("who").GetString().Should().Be("ada");
        view.GetProperty("steps").EnumerateArray().Select(s => (s.GetProperty("nodeId").GetString(), s.GetProperty("status").GetString(), s.GetProperty("attempts").GetInt32()))
            .Should().Equal(("hook", "succeeded", 1), ("double", "succeeded", 1));
        view.TryGetProperty("error", out _).Should().BeFalse();
    }

    [Fact]
    public async Task Post_UnknownSlug_Returns404AndWritesNothing()
    {
        var before = await fixture.CountRowsAsync();

        var response = await Http.PostAsync($"/api/hooks/{Api.NewSlug()}", Api.Json("{}"));

        response.StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await fixture.CountRowsAsync()).Should().Be(before);
    }

    [Fact]
    public async Task Post_StoresHeadersAndBodyButNeverCredentialsOrSignatures()
    {
        var slug = await Http.PublishOkAsync(Api.TransformWorkflow, Secret);
        const string body = """{"n": 1, "nested": {"list": [1, "two", null]}}""";
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/hooks/{slug}") { Content = Api.Json(body) };
        request.Headers.Add("X-Hub-Signature-256", $"sha256={Api.Sign(Secret, body)}");
        request.Headers.Add("X-Signature", Api.Sign(Secret, body));
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer very-secret");
        request.Headers.TryAddWithoutValidation("Cookie", "session=abc");
        request.Headers.Add("X-Api-Key", "k-123");
        request.Headers.Add("X-Custom", "kept");

        var response = await Http.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.Accepted);
        using var trigger = JsonDocument.Parse(await fixture.TriggerOfAsync(await response.RunIdOfAsync()));
        var headers = trigger.RootElement.GetProperty("headers");
        headers.GetProperty("x-custom").GetString().Should().Be("kept");
        headers.GetProperty("content-type").GetString().Should().StartWith("application/json");
        var names = headers.EnumerateObject().Select(p => p.Name).ToList();
        names.Should().NotContain(["authorization", "cookie", "x-api-key", "x-signature", "x-hub-signature-256"]);
        trigger.RootElement.GetRawText().Should().NotContain("very-secret").And.NotContain("k-123").And.NotContain(Api.Sign(Secret, body));
        trigger.RootElement.GetProperty("body").GetProperty("nested").GetProperty("list")[1].GetString().Should().Be("two");
    }

    public static TheoryData<string, string, bool> Signatures => new()
    {
        // header, value builder key, valid
        { "X-Hub-Signature-256", "prefixed", true },
        { "X-Hub-Signature-256", "prefixed-upper-hex", true },
        { "X-Signature", "prefixed", true },
        { "X-Signature", "bare", true },
        { "X-Hub-Signature-256", "bare", false },
        { "X-Hub-Signature-256", "wrong-secret", false },
        { "X-Signature", "wrong-secret", false },
        { "X-Hub-Signature-256", "other-body", false },
        { "X-Signature", "other-body", false },
        { "X-Hub-Signature-256", "sha1", false },
        { "X-Signature", "not-hex", false },
        { "X-Signature", "truncated", false },
        { "X-Hub-Signature-256", "empty", false },
    };

    [Theory]
    [MemberData(nameof(Signatures))]
    public async Task Post_SignedWorkflow_AcceptsOnlyAValidSignature(string header, string form, bool valid)
    {
        var slug = await Http.PublishOkAsync(Api.TransformWorkflow, Secret);
        const string body = """{"n": 5}""";
        var good = Api.Sign(Secret, body);
        var value = form switch
        {
            "prefixed" => $"sha256={good}",
            "prefixed-upper-hex" => $"sha256={good.ToUpperInvariant()}",
            "bare" => good,
            "wrong-secret" => $"sha256={Api.Sign("other-secret", body)}",
            "other-body" => $"sha256={Api.Sign(Secret, """{"n": 6}""")}",
            "sha1" => $"sha1={good[..40]}",
            "not-hex" => $"sha256={new string('z', 64)}",
            "truncated" => $"sha256={good[..62]}",
            "empty" => "",
            _ => throw new ArgumentOutOfRangeException(nameof(form)),
        };
        var before = await fixture.CountRowsAsync();
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/hooks/{slug}") { Content = Api.Json(body) };
        request.Headers.TryAddWithoutValidation(header, value);

        var response = await Http.SendAsync(request);

        if (valid)
        {
            response.StatusCode.Should().Be(HttpStatusCode.Accepted);
        }
        else
        {
            response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
            (await fixture.CountRowsAsync()).Should().Be(before);
        }
    }

    [Fact]
    public async Task Post_SignedWorkflowWithoutSignature_Returns401AndWritesNothing()
    {
        var slug = await Http.PublishOkAsync(Api.TransformWorkflow, Secret);
        var before = await fixture.CountRowsAsync();

        var response = await Http.PostAsync($"/api/hooks/{slug}", Api.Json("{}"));

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        (await fixture.CountRowsAsync()).Should().Be(before);
    }

    [Fact]
    public async Task Post_BothHeadersOneWrong_Returns401()
    {
        var slug = await Http.PublishOkAsync(Api.TransformWorkflow, Secret);
        const string body = "{}";
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/hooks/{slug}") { Content = Api.Json(body) };
        request.Headers.Add("X-Hub-Signature-256", $"sha256={Api.Sign(Secret, body)}");
        request.Headers.Add("X-Signature", $"sha256={Api.Sign("wrong", body)}");

        var response = await Http.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Post_UnsignedWorkflow_IgnoresSignatureHeaders()
    {
        var slug = await Http.PublishOkAsync(Api.TransformWorkflow);
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/hooks/{slug}") { Content = Api.Json("{}") };
        request.Headers.Add("X-Signature", "garbage");

        var response = await Http.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.Accepted);
    }

    [Fact]
    public async Task Post_ConcurrentDuplicatesWithOneIdempotencyKey_StoreExactlyOneRun()
    {
        var slug = await Http.PublishOkAsync(Api.TransformWorkflow);
        var key = $"order-{Guid.NewGuid():N}";
        using var gate = new SemaphoreSlim(0);
        var posts = Enumerable.Range(0, 20).Select(async i =>
        {
            await gate.WaitAsync();
            var request = new HttpRequestMessage(HttpMethod.Post, $"/api/hooks/{slug}") { Content = Api.Json($$"""{"n": {{i}}}""") };
            request.Headers.Add("Idempotency-Key", key);
            var response = await Http.SendAsync(request);
            return (response.StatusCode, RunId: response.StatusCode == HttpStatusCode.Accepted ? await response.RunIdOfAsync() : Guid.Empty,
                Replayed: response.Headers.Contains("Idempotent-Replayed"));
        }).ToList();
        gate.Release(20);

        var results = await Task.WhenAll(posts);

        results.Select(r => r.StatusCode).Should().AllBeEquivalentTo(HttpStatusCode.Accepted);
        results.Select(r => r.RunId).Distinct().Should().ContainSingle();
        results.Count(r => !r.Replayed).Should().Be(1, "exactly one request created the run");
        (await fixture.CountRunsWithKeyAsync(slug, key)).Should().Be(1);
    }

    [Fact]
    public async Task Post_SameIdempotencyKeyLater_ReturnsTheSameRunAndDifferentKeysDoNot()
    {
        var slug = await Http.PublishOkAsync(Api.TransformWorkflow);

        async Task<Guid> PostAsync(string key)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, $"/api/hooks/{slug}") { Content = Api.Json("{}") };
            request.Headers.Add("Idempotency-Key", key);
            var response = await Http.SendAsync(request);
            response.StatusCode.Should().Be(HttpStatusCode.Accepted);
            return await response.RunIdOfAsync();
        }

        var first = await PostAsync("k-1");
        var again = await PostAsync("k-1");
        var other = await PostAsync("k-2");

        again.Should().Be(first);
        other.Should().NotBe(first);
    }

    [Theory]
    [InlineData("has space")]
    [InlineData("tab\tkey")]
    [InlineData("")]
    [InlineData("201")]
    public async Task Post_BadIdempotencyKey_Returns400AndWritesNothing(string key)
    {
        var slug = await Http.PublishOkAsync(Api.TransformWorkflow);
        var before = await fixture.CountRowsAsync();
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/hooks/{slug}") { Content = Api.Json("{}") };
        request.Headers.TryAddWithoutValidation("Idempotency-Key", key == "201" ? new string('k', 201) : key);

        var response = await Http.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await fixture.CountRowsAsync()).Should().Be(before);
    }
}
