using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Xunit;

namespace MeshHook.Tests.Unit.Steps;

/// <summary>A real Kestrel server on 127.0.0.1 with an ephemeral port that records every request it receives.</summary>
internal sealed class LocalHttpServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();
    private int _count;

    private LocalHttpServer(WebApplication app) => _app = app;

    public Uri BaseAddress { get; private set; } = null!;

    public IReadOnlyList<RecordedRequest> Requests => [.. _requests.OrderBy(r => r.Number)];

    public int RequestCount => Volatile.Read(ref _count);

    /// <summary>Starts a server answering with <paramref name="handler"/>, which gets the 1-based number of the request.</summary>
    public static async Task<LocalHttpServer> StartAsync(Func<HttpContext, int, Task> handler, string address = "127.0.0.1")
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://{address}:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var server = new LocalHttpServer(app);
        app.Run(context => server.HandleAsync(context, handler));
        await app.StartAsync(TestContext.Current.CancellationToken);
        server.BaseAddress = new Uri(app.Urls.Single());
        return server;
    }

    public Uri Url(string path) => new(BaseAddress, path);

    /// <summary>Holds the request open until the client goes away or the server stops.</summary>
    public static async Task HangAsync(HttpContext context)
    {
        var stopping = context.RequestServices.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, stopping);
        try
        {
            await Task.Delay(Timeout.Infinite, linked.Token);
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context, Func<HttpContext, int, Task> handler)
    {
        var number = Interlocked.Increment(ref _count);
        var receivedAt = Stopwatch.GetTimestamp();
        using var reader = new StreamReader(context.Request.Body);
        var body = await reader.ReadToEndAsync(context.RequestAborted);
        var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        _requests.Enqueue(new RecordedRequest(number, receivedAt, context.Request.Method, context.Request.Path, headers, body));
        await handler(context, number);
    }
}

/// <summary>What the server saw of one request; <see cref="ReceivedAt"/> is a <see cref="Stopwatch"/> timestamp.</summary>
internal sealed record RecordedRequest(
    int Number,
    long ReceivedAt,
    string Method,
    string Path,
    IReadOnlyDictionary<string, string> Headers,
    string Body);
