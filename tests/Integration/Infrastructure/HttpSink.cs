using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MeshHook.Tests.Integration.Infrastructure;

/// <summary>
/// A real HTTP server on 127.0.0.1 that http_call steps call. It records every request (path, Idempotency-Key, headers, body)
/// so tests can count executions. <c>?ms=N</c> delays the answer; <c>/status/{code}</c> answers with that code; <c>/fail-first/{n}</c> answers 503
/// to the first n requests with one Idempotency-Key, then 200.
/// </summary>
public sealed class HttpSink : IAsyncDisposable
{
    private readonly WebApplication _app;

    private HttpSink(WebApplication app, Uri baseAddress)
    {
        _app = app;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    public ConcurrentQueue<SinkRequest> Requests { get; } = new();

    public static async Task<HttpSink> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        var app = builder.Build();
        HttpSink? sink = null;
        app.Map("/{**path}", async (HttpContext context) =>
        {
            using var reader = new StreamReader(context.Request.Body);
            var body = await reader.ReadToEndAsync();
            var key = context.Request.Headers["Idempotency-Key"].ToString();
            var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
            sink!.Requests.Enqueue(new SinkRequest(context.Request.Method, context.Request.Path.Value ?? "", key, body, DateTimeOffset.UtcNow, headers));
            if (int.TryParse(context.Request.Query["ms"], out var ms))
            {
                await Task.Delay(ms, context.RequestAborted);
            }

            var path = context.Request.Path.Value ?? "";
            if (path.StartsWith("/status/", StringComparison.Ordinal) && int.TryParse(path["/status/".Length..], out var code))
            {
                context.Response.StatusCode = code;
                return;
            }

            if (path.StartsWith("/fail-first/", StringComparison.Ordinal) && int.TryParse(path["/fail-first/".Length..], out var failures)
                && sink.CountFor(key) <= failures)
            {
                context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                return;
            }

            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync($$"""{"ok":true,"path":"{{path}}"}""");
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        sink = new HttpSink(app, new Uri(address));
        return sink;
    }

    public int CountFor(string idempotencyKey) => Requests.Count(r => r.IdempotencyKey == idempotencyKey);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>One request the sink received.</summary>
public sealed record SinkRequest(
    string Method, string Path, string IdempotencyKey, string Body, DateTimeOffset ReceivedAt, IReadOnlyDictionary<string, string> Headers);
