using System.Net;
using System.Net.Http.Headers;
using System.Text;
using AwesomeAssertions;
using MeshHook.Tests.Gateway.Infrastructure;

namespace MeshHook.Tests.Gateway;

/// <summary>Hostile or broken requests: each gets a clear 4xx (never a 5xx), and nothing reaches Postgres.</summary>
[Collection(GatewayCollection.Name)]
public sealed class BadInputSweepTests(GatewayCluster fixture) : IAsyncLifetime
{
    private static readonly string SweepSlug = Api.NewSlug("sweep");

    private HttpClient Http => fixture.Http;

    public async ValueTask InitializeAsync()
    {
        var response = await Http.PublishAsync(SweepSlug, Api.TransformWorkflow);
        if (response.StatusCode != HttpStatusCode.Created)
        {
            throw new InvalidOperationException($"could not publish {SweepSlug}: {(int)response.StatusCode}");
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    public static TheoryData<string, string, int> HookBodies => new()
    {
        { "malformed", """{"a": """, 400 },
        { "trailing garbage", """{"a": 1} x""", 400 },
        { "single quotes", "{'a': 1}", 400 },
        { "empty", "", 400 },
        { "NUL in a string", """{"a": "x\u0000y"}""", 400 },
        { "NUL in a name", """{"a\u0000": 1}""", 400 },
        { "lone surrogate", """{"a": "\ud800"}""", 400 },
        { "number out of range", """{"a": 1e1000000}""", 400 },
        { "too deep", new string('[', 100) + new string(']', 100), 400 },
    };

    [Theory]
    [MemberData(nameof(HookBodies))]
    public async Task Hook_BadJsonBody_Returns400AndWritesNothing(string name, string body, int status)
    {
        await AssertRefusedAsync(() => Http.PostAsync($"/api/hooks/{SweepSlug}", Api.Json(body)), status, name);
    }

    [Fact]
    public async Task Hook_InvalidUtf8_Returns400AndWritesNothing()
    {
        var content = new ByteArrayContent([(byte)'{', (byte)'"', (byte)'a', (byte)'"', (byte)':', (byte)'"', 0xC3, 0x28, (byte)'"', (byte)'}']);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");

        await AssertRefusedAsync(() => Http.PostAsync($"/api/hooks/{SweepSlug}", content), 400, "invalid UTF-8");
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("application/xml")]
    [InlineData("multipart/form-data; boundary=x")]
    [InlineData("application/json; charset=utf-16")]
    public async Task Hook_NonJsonContentType_Returns400AndWritesNothing(string contentType)
    {
        // DESIGN.md: "400 body not JSON"; a body declared as something else is not JSON to the API.
        await AssertRefusedAsync(() => Http.PostAsync($"/api/hooks/{SweepSlug}", Api.Json("{}", contentType)), 400, contentType);
    }

    [Fact]
    public async Task Hook_JsonSuffixContentTypeAndNoContentType_AreAccepted()
    {
        (await Http.PostAsync($"/api/hooks/{SweepSlug}", Api.Json("{}", "application/vnd.github+json"))).StatusCode.Should().Be(HttpStatusCode.Accepted);
        var bare = new ByteArrayContent("{}"u8.ToArray());
        (await Http.PostAsync($"/api/hooks/{SweepSlug}", bare)).StatusCode.Should().Be(HttpStatusCode.Accepted);
    }

    [Fact]
    public async Task Hook_BodyOverTheLimit_Returns413AndWritesNothing()
    {
        var huge = "{\"a\": \"" + new string('x', 1024 * 1024) + "\"}";

        using var http = OwnConnection();
        await AssertRefusedAsync(() => http.PostAsync($"/api/hooks/{SweepSlug}", Api.Json(huge)), 413, "content-length over the limit");
    }

    [Fact]
    public async Task Hook_ChunkedBodyOverTheLimit_Returns413AndWritesNothing()
    {
        var huge = Encoding.UTF8.GetBytes("{\"a\": \"" + new string('x', 1024 * 1024) + "\"}");
        var content = new StreamContent(new NoLengthStream(huge));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");

        using var http = OwnConnection();
        await AssertRefusedAsync(() => http.PostAsync($"/api/hooks/{SweepSlug}", content), 413, "chunked body over the limit");
    }

    [Fact]
    public async Task Hook_BodyJustUnderTheLimit_IsAccepted()
    {
        var body = "{\"a\": \"" + new string('x', (1024 * 1024) - 100) + "\"}";

        (await Http.PostAsync($"/api/hooks/{SweepSlug}", Api.Json(body))).StatusCode.Should().Be(HttpStatusCode.Accepted);
    }

    [Theory]
    [InlineData("/api/hooks/%C3%A9t%C3%A9")]
    [InlineData("/api/hooks/%E2%80%AEevil")]
    [InlineData("/api/hooks/UPPER")]
    [InlineData("/api/hooks/..%2F..%2Fworkflows%2Fx")]
    [InlineData("/api/hooks/%2e%2e")]
    [InlineData("/api/hooks/%2e%2e%2fruns")]
    [InlineData("/api/hooks/a%2Fb")]
    [InlineData("/api/hooks/a%00b")]
    [InlineData("/api/hooks/a%0A")]
    [InlineData("/api/hooks/a%20b")]
    [InlineData("/api/hooks/")]
    [InlineData("/api/hooks/a/b")]
    [InlineData("/api/hooks/../workflows/x")]
    public async Task Hook_PathTricksAndBadSlugs_Return4xxAndWriteNothing(string path)
    {
        var before = await fixture.CountRowsAsync();

        var response = await Http.SendAsync(new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative)) { Content = Api.Json("{}") });

        ((int)response.StatusCode).Should().BeInRange(400, 499, path);
        (await fixture.CountRowsAsync()).Should().Be(before, path);
    }

    [Theory]
    [InlineData("malformed", """{"name": "x", "definition": """, "application/json", 400)]
    [InlineData("array", "[]", "application/json", 400)]
    [InlineData("string", "\"x\"", "application/json", 400)]
    [InlineData("definition not an object", """{"name": "x", "definition": "nodes"}""", "application/json", 400)]
    [InlineData("NUL in name", """{"name": "a\u0000", "definition": {"nodes": [], "edges": []}}""", "application/json", 400)]
    [InlineData("text/plain", """{"name": "x", "definition": {"nodes": [], "edges": []}}""", "text/plain", 400)]
    public async Task Publish_BadBody_Returns4xxAndWritesNothing(string name, string body, string contentType, int status)
    {
        await AssertRefusedAsync(() => Http.PutAsync($"/api/workflows/{Api.NewSlug()}", Api.Json(body, contentType)), status, name);
    }

    [Fact]
    public async Task Publish_BodyOverTheLimit_Returns413AndWritesNothing()
    {
        var huge = "{\"name\": \"x\", \"definition\": {\"nodes\": [], \"edges\": [], \"pad\": \"" + new string('x', 1024 * 1024) + "\"}}";

        using var http = OwnConnection();
        await AssertRefusedAsync(() => http.PutAsync($"/api/workflows/{Api.NewSlug()}", Api.Json(huge)), 413, "huge definition");
    }

    /// <summary>
    /// A client of its own (the server closes a connection whose oversized body it did not read) that sends
    /// <c>Expect: 100-continue</c> and waits for the server's answer before uploading. The server refuses on the declared
    /// length without asking for the body, so the client never writes it; without this, a slow server answers while the
    /// client is still writing, and the test sees a broken pipe instead of the 413. The wait is long because a loaded
    /// machine may take more than the default second to answer.
    /// </summary>
    private HttpClient OwnConnection() =>
        new(new SocketsHttpHandler { Expect100ContinueTimeout = TimeSpan.FromSeconds(30) })
        {
            BaseAddress = fixture.Gateway.BaseAddress,
            DefaultRequestHeaders =
            {
                ExpectContinue = true,
                Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", GatewayServer.ApiKey),
            },
        };

    private async Task AssertRefusedAsync(Func<Task<HttpResponseMessage>> send, int status, string because)
    {
        var before = await fixture.CountRowsAsync();

        var response = await send();

        ((int)response.StatusCode).Should().Be(status, because);
        response.Content.Headers.ContentType?.MediaType.Should().Be("application/problem+json", because);
        (await fixture.CountRowsAsync()).Should().Be(before, because);
    }

    /// <summary>A stream without a known length, so HttpClient sends it chunked (no Content-Length).</summary>
    private sealed class NoLengthStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
    }
}
