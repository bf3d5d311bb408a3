using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using AwesomeAssertions;
using MeshHook.Tests.Gateway.Infrastructure;
using Microsoft.Extensions.Logging;

namespace MeshHook.Tests.Gateway;

/// <summary>
/// Every /api route except the webhook intake needs <c>Authorization: Bearer &lt;key&gt;</c>; without it, or with a key
/// that is not configured, it answers 401 problem+json with a Bearer challenge and does nothing.
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class ApiKeyTests(GatewayCluster fixture)
{
    private const string WrongKey = "not-the-gateway-key-0123456789";

    public static TheoryData<string, string> KeyedRoutes => new()
    {
        { "PUT", "/api/workflows/{slug}" },
        { "GET", "/api/workflows/{slug}" },
        { "GET", "/api/runs/{run}" },
        { "GET", "/api/runs/{run}/events" },
        { "POST", "/api/runs/{run}/cancel" },
        { "PUT", "/api/secrets/{secret}" },
        { "DELETE", "/api/secrets/{secret}" },
        { "GET", "/api/secrets" },
    };

    [Theory]
    [MemberData(nameof(KeyedRoutes))]
    public async Task KeyedRoute_WithoutAValidKey_Answers401WithABearerChallenge_AndDoesNothing(string method, string template)
    {
        var slug = await fixture.Http.PublishOkAsync(Api.SlowWorkflow);
        var runId = await (await fixture.Http.PostAsync($"/api/hooks/{slug}", Api.Json("{}"))).RunIdOfAsync();
        var newSlug = Api.NewSlug();
        var kept = $"kept-{Guid.NewGuid():N}"[..20];
        var added = $"added-{Guid.NewGuid():N}"[..20];
        (await fixture.Http.PutAsync($"/api/secrets/{kept}", Api.Json("""{"value": "kept-value"}"""))).StatusCode.Should().Be(HttpStatusCode.NoContent);
        var path = template.Replace("{slug}", method == "PUT" ? newSlug : slug, StringComparison.Ordinal).Replace("{run}", runId.ToString(), StringComparison.Ordinal)
            .Replace("{secret}", method == "PUT" ? added : kept, StringComparison.Ordinal);
        var before = await fixture.CountRowsAsync();

        foreach (var authorization in new[] { null, $"Bearer {WrongKey}", $"Bearer {GatewayServer.ApiKey}x", $"Basic {GatewayServer.ApiKey}", "Bearer" })
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), path);
            if (method == "PUT")
            {
                request.Content = template.StartsWith("/api/secrets", StringComparison.Ordinal)
                    ? Api.Json("""{"value": "refused-value"}""")
                    : Api.Json($$"""{"name": "n", "definition": {{Api.TransformWorkflow}}}""");
            }

            if (authorization is not null)
            {
                request.Headers.TryAddWithoutValidation("Authorization", authorization);
            }

            using var response = await fixture.Gateway.Anonymous.SendAsync(request);

            var what = $"{method} {path} with Authorization '{authorization ?? "(none)"}'";
            response.StatusCode.Should().Be(HttpStatusCode.Unauthorized, what);
            response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json", what);
            response.Headers.WwwAuthenticate.Should().ContainSingle(what).Which.Scheme.Should().Be("Bearer");
            var problem = await response.ReadJsonAsync();
            problem.GetProperty("status").GetInt32().Should().Be(401);
            problem.GetProperty("errors").GetArrayLength().Should().BeGreaterThan(0, what);
            problem.ToString().Should().NotContain(GatewayServer.ApiKey, "an answer never quotes a key").And.NotContain(WrongKey);
        }

        (await fixture.CountRowsAsync()).Should().Be(before, "a refused request writes nothing");
        (await fixture.Http.GetAsync($"/api/workflows/{newSlug}")).StatusCode.Should().Be(HttpStatusCode.NotFound, "nothing was published");
        var run = await (await fixture.Http.GetAsync($"/api/runs/{runId}")).ReadJsonAsync();
        run.GetProperty("status").GetString().Should().BeOneOf(["queued", "running"], "nothing was canceled");
        var secrets = (await (await fixture.Http.GetAsync("/api/secrets")).ReadJsonAsync()).EnumerateArray().Select(e => e.GetString()).ToList();
        secrets.Should().Contain(kept, "nothing was deleted").And.NotContain(added, "nothing was stored");
    }

    [Fact]
    public async Task Webhook_NeedsNoKey()
    {
        var slug = await fixture.Http.PublishOkAsync(Api.TransformWorkflow);

        var response = await fixture.Gateway.Anonymous.PostAsync($"/api/hooks/{slug}", Api.Json("""{"n": 1}"""));

        response.StatusCode.Should().Be(HttpStatusCode.Accepted, "webhooks stay open (signed when the workflow has a secret)");
    }

    [Fact]
    public async Task HealthMetricsAndOpenApi_NeedNoKey()
    {
        foreach (var path in new[] { "/health/live", "/health/ready", "/metrics", "/openapi/v1.json" })
        {
            (await fixture.Gateway.Anonymous.GetAsync(path)).StatusCode.Should().Be(HttpStatusCode.OK, path);
        }
    }

    [Fact]
    public async Task OpenApi_DeclaresTheBearerScheme_RequiredByEveryKeyedRouteAndNotByTheWebhook()
    {
        var document = await (await fixture.Http.GetAsync("/openapi/v1.json")).ReadJsonAsync();

        var scheme = document.GetProperty("components").GetProperty("securitySchemes").GetProperty("apiKey");
        scheme.GetProperty("type").GetString().Should().Be("http");
        scheme.GetProperty("scheme").GetString().Should().Be("bearer");
        var paths = document.GetProperty("paths");
        foreach (var (path, verb) in new[]
        {
            ("/api/workflows/{slug}", "put"), ("/api/workflows/{slug}", "get"), ("/api/runs/{runId}", "get"),
            ("/api/runs/{runId}/events", "get"), ("/api/runs/{runId}/cancel", "post"),
            ("/api/secrets/{name}", "put"), ("/api/secrets/{name}", "delete"), ("/api/secrets", "get"),
        })
        {
            var operation = paths.GetProperty(path).GetProperty(verb);
            operation.GetProperty("security")[0].TryGetProperty("apiKey", out _).Should().BeTrue($"{verb} {path} needs the key");
            operation.GetProperty("responses").TryGetProperty("401", out _).Should().BeTrue($"{verb} {path} documents its 401");
        }

        paths.GetProperty("/api/hooks/{slug}").GetProperty("post").TryGetProperty("security", out _).Should().BeFalse("the webhook needs no key");
    }

    [Fact]
    public async Task SeveralKeys_EachIsAccepted_AndNoKeyIsEverLogged()
    {
        const string Old = "rotation-old-key-0123456789";
        const string New = "rotation-new-key-9876543210";
        var logs = new CapturingLoggerProvider();
        await using var gateway = await GatewayServer.StartAsync(
            fixture.ConnectionString,
            fixture.Cluster.Options.ClusterId,
            fixture.Cluster.Options.ServiceId,
            new Dictionary<string, string?> { ["MeshHook:Gateway:ApiKeys:0"] = Old, ["MeshHook:Gateway:ApiKeys:1"] = New },
            logging => logging.AddProvider(logs).SetMinimumLevel(LogLevel.Trace));
        await gateway.WaitReadyAsync();

        foreach (var key in new[] { Old, New })
        {
            gateway.Anonymous.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
            (await gateway.Anonymous.PublishAsync(Api.NewSlug(), Api.TransformWorkflow)).StatusCode.Should().Be(HttpStatusCode.Created);
        }

        gateway.Anonymous.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", WrongKey);
        (await gateway.Anonymous.GetAsync($"/api/runs/{Guid.NewGuid()}")).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        gateway.Http.DefaultRequestHeaders.Authorization = null;
        (await gateway.Http.GetAsync($"/api/runs/{Guid.NewGuid()}")).StatusCode.Should().Be(HttpStatusCode.Unauthorized, "the default test key is not configured here");

        logs.Lines.Should().NotBeEmpty("the gateway logged at trace level");
        logs.Lines.Should().NotContain(l => l.Contains(Old) || l.Contains(New) || l.Contains(WrongKey), "keys, right or wrong, are never logged");
    }

    [Fact]
    public async Task AllowAnonymousApi_WithoutKeys_OpensTheApi()
    {
        await using var gateway = await GatewayServer.StartAsync(
            fixture.ConnectionString,
            fixture.Cluster.Options.ClusterId,
            fixture.Cluster.Options.ServiceId,
            new Dictionary<string, string?> { ["MeshHook:Gateway:ApiKeys:0"] = null, ["MeshHook:Gateway:AllowAnonymousApi"] = "true" });
        await gateway.WaitReadyAsync();

        (await gateway.Anonymous.PublishAsync(Api.NewSlug(), Api.TransformWorkflow)).StatusCode.Should().Be(HttpStatusCode.Created);
    }

    private sealed class CapturingLoggerProvider : ILoggerProvider
    {
        private readonly ConcurrentQueue<string> _lines = new();

        public IReadOnlyList<string> Lines => [.. _lines];

        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _lines);

        public void Dispose()
        {
        }

        private sealed class Logger(string category, ConcurrentQueue<string> lines) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                lines.Enqueue($"{category}: {formatter(state, exception)} {exception} {state}");
        }
    }
}
