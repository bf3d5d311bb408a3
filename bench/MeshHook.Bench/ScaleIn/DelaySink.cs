using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MeshHook.Bench.ScaleIn;

/// <summary>
/// The HTTP peer of the scale-in workflow: Kestrel on 127.0.0.1 holding each request for a random server-side delay
/// (uniform in [min, max]), then answering 200. Every request is recorded with the run and node from its
/// Idempotency-Key (<c>mh-{runId}-{nodeId}</c>), its arrival and the moment its answer was written (wall clock, UTC:
/// the silos' event timestamps use the same clock on the same machine). Once <see cref="EndRuns"/> is called it answers
/// 410 at once, so every run ends at its next step.
/// </summary>
public sealed class DelaySink : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<SinkRequest> _requests = new();
    private readonly TimeSpan _minDelay;
    private readonly TimeSpan _maxDelay;
    private volatile bool _ending;

    private DelaySink(WebApplication app, TimeSpan minDelay, TimeSpan maxDelay)
    {
        _app = app;
        _minDelay = minDelay;
        _maxDelay = maxDelay;
    }

    public Uri BaseAddress { get; private set; } = null!;

    public static async Task<DelaySink> StartAsync(TimeSpan minDelay, TimeSpan maxDelay, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxConcurrentConnections = null);
        builder.Logging.ClearProviders().AddConsole().SetMinimumLevel(LogLevel.Warning);
        var app = builder.Build();
        var sink = new DelaySink(app, minDelay, maxDelay);
        app.MapPost("/step", sink.HandleAsync);
        await app.StartAsync(cancellationToken);
        sink.BaseAddress = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        return sink;
    }

    /// <summary>From now on every request is answered 410 Gone at once: each run fails at its next step and is finished.</summary>
    public void EndRuns() => _ending = true;

    /// <summary>Forgets what was recorded and answers normally again (between rounds).</summary>
    public void Reset()
    {
        _requests.Clear();
        _ending = false;
    }

    /// <summary>Every request recorded so far (the ones still held have no <see cref="SinkRequest.Answered"/> yet).</summary>
    public IReadOnlyList<SinkRequest> Requests => _requests.ToArray();

    private async Task HandleAsync(HttpContext context)
    {
        var arrived = DateTime.UtcNow;
        using (var reader = new StreamReader(context.Request.Body))
        {
            await reader.ReadToEndAsync(context.RequestAborted);
        }

        var key = context.Request.Headers["Idempotency-Key"].ToString();
        var ending = _ending;
        var delay = ending ? TimeSpan.Zero : _minDelay + (_maxDelay - _minDelay) * Random.Shared.NextDouble();
        var request = new SinkRequest(ParseRun(key), ParseNode(key), arrived, delay, ending);
        _requests.Enqueue(request);
        try
        {
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, context.RequestAborted);
            }

            context.Response.StatusCode = ending ? StatusCodes.Status410Gone : StatusCodes.Status200OK;
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync("""{"ok":true}""", context.RequestAborted);
            request.Answered = DateTime.UtcNow;
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The caller went away (its silo was killed); the request stays recorded without an answer time.
            request.Aborted = DateTime.UtcNow;
        }
    }

    private static Guid ParseRun(string key) =>
        key.Length >= 39 && key.StartsWith("mh-", StringComparison.Ordinal) && Guid.TryParse(key.AsSpan(3, 36), out var run) ? run : Guid.Empty;

    private static string ParseNode(string key) => key.Length > 40 ? key[40..] : "";

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
    }
}

/// <summary>One request the sink got.</summary>
public sealed class SinkRequest(Guid runId, string nodeId, DateTime arrived, TimeSpan delay, bool ended)
{
    public Guid RunId { get; } = runId;

    public string NodeId { get; } = nodeId;

    public DateTime Arrived { get; } = arrived;

    public TimeSpan Delay { get; } = delay;

    /// <summary>Answered 410 (the run ends), not part of the measurement.</summary>
    public bool Ended { get; } = ended;

    public DateTime? Answered { get; set; }

    public DateTime? Aborted { get; set; }
}
