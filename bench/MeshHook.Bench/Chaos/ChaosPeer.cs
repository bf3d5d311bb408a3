using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MeshHook.Bench.Chaos;

/// <summary>One request the peer received.</summary>
/// <param name="At">Arrival (UTC wall clock, the same clock the engine stamps events with on this machine).</param>
/// <param name="Path">The endpoint: <c>/fast</c>, <c>/slow</c>, <c>/flaky</c> or <c>/hang-once</c>.</param>
/// <param name="IdempotencyKey">The request's <c>Idempotency-Key</c> header, or null when it had none.</param>
/// <param name="Attempt">1 for the first request with this key, 2 for the second, and so on.</param>
public sealed record PeerRequest(DateTime At, string Path, string? IdempotencyKey, int Attempt);

/// <summary>
/// The HTTP peer of the soak's http_call steps (Kestrel on 127.0.0.1), recording every request with its
/// <c>Idempotency-Key</c>. Behaviour per endpoint, counted per key:
/// <list type="bullet">
/// <item><c>/fast</c>: answers 200 at once;</item>
/// <item><c>/slow?ms=N</c>: answers 200 after N ms (a step still running when its silo gets SIGTERM);</item>
/// <item><c>/flaky?fails=N</c>: answers 503 to the first N requests of a key, then 200;</item>
/// <item><c>/hang-once</c>: never answers the first request of a key (the caller's timeout ends it), answers the next at once.</item>
/// </list>
/// </summary>
public sealed class ChaosPeer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<PeerRequest> _requests = new();
    private readonly ConcurrentDictionary<string, int> _attempts = new(StringComparer.Ordinal);

    private ChaosPeer(WebApplication app) => _app = app;

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>Every request received so far.</summary>
    public IReadOnlyCollection<PeerRequest> Requests => _requests;

    public static async Task<ChaosPeer> StartAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders().AddConsole().SetMinimumLevel(LogLevel.Error);
        var app = builder.Build();
        var peer = new ChaosPeer(app);
        app.Map("/{**path}", peer.HandleAsync);
        await app.StartAsync(cancellationToken);
        peer.BaseAddress = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        return peer;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        var at = DateTime.UtcNow;
        var path = context.Request.Path.Value ?? "/";
        var key = context.Request.Headers["Idempotency-Key"].FirstOrDefault();
        var attempt = key is null ? 1 : _attempts.AddOrUpdate($"{path} {key}", 1, (_, n) => n + 1);
        _requests.Enqueue(new PeerRequest(at, path, key, attempt));

        // Read the body as a real peer would.
        using (var reader = new StreamReader(context.Request.Body))
        {
            await reader.ReadToEndAsync(context.RequestAborted);
        }

        try
        {
            switch (path)
            {
                case "/slow":
                    await Task.Delay(TimeSpan.FromMilliseconds(Query(context, "ms", 1000)), context.RequestAborted);
                    break;
                case "/flaky" when attempt <= Query(context, "fails", 1):
                    context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                    return;
                case "/hang-once" when attempt == 1:
                    // Until the caller gives up: its per-attempt timeout, then a retry with the same key.
                    await Task.Delay(Timeout.InfiniteTimeSpan, context.RequestAborted);
                    return;
            }

            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync($$"""{"ok":true,"attempt":{{attempt.ToString(CultureInfo.InvariantCulture)}}}""", context.RequestAborted);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The caller went away (its timeout, or its silo was killed or cut the step off).
        }
    }

    private static int Query(HttpContext context, string name, int fallback) =>
        int.TryParse(context.Request.Query[name], CultureInfo.InvariantCulture, out var value) ? value : fallback;
}
