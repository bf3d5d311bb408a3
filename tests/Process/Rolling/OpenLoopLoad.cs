using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;

namespace MeshHook.Tests.Process.Rolling;

/// <summary>
/// A steady, open-loop stream of webhooks: request i is sent at start + i / rate whether or not earlier ones have
/// answered, until stopped or until <c>maxRequests</c> were sent. Every answer (or failure) is recorded.
/// </summary>
public sealed class OpenLoopLoad : IAsyncDisposable
{
    private readonly HttpClient _http;
    private readonly string _path;
    private readonly double _rate;
    private readonly int _maxRequests;
    private readonly ConcurrentBag<Task> _inFlight = [];
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;

    public OpenLoopLoad(Uri gateway, string slug, double requestsPerSecond, int maxRequests)
    {
        _http = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
        {
            BaseAddress = gateway,
            Timeout = TimeSpan.FromSeconds(60),
        };
        _path = $"/api/hooks/{slug}";
        _rate = requestsPerSecond;
        _maxRequests = maxRequests;
    }

    public ConcurrentQueue<IntakeResult> Results { get; } = new();

    /// <summary>Requests sent so far.</summary>
    public int Sent { get; private set; }

    public void Start() => _loop = Task.Run(LoopAsync);

    /// <summary>Stops sending and waits for every request already sent to answer.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        if (_loop is not null)
        {
            await _loop;
        }

        await Task.WhenAll(_inFlight);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _http.Dispose();
        _stop.Dispose();
    }

    private async Task LoopAsync()
    {
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < _maxRequests && !_stop.IsCancellationRequested; i++)
        {
            var due = TimeSpan.FromSeconds(i / _rate);
            var wait = due - clock.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(wait, _stop.Token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }

            _inFlight.Add(SendAsync(i, clock.Elapsed));
            Sent = i + 1;
        }
    }

    private async Task SendAsync(int index, TimeSpan sentAt)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            using var content = new StringContent(JsonSerializer.Serialize(new { n = index }), Encoding.UTF8, "application/json");
            using var response = await _http.PostAsync(_path, content);
            var body = await response.Content.ReadAsStringAsync();
            Guid? runId = null;
            if (response.StatusCode == HttpStatusCode.Accepted)
            {
                using var document = JsonDocument.Parse(body);
                runId = document.RootElement.GetProperty("runId").GetGuid();
            }

            Results.Enqueue(new IntakeResult(index, sentAt, Stopwatch.GetElapsedTime(started), (int)response.StatusCode, runId, runId is null ? body : null));
        }
        catch (Exception e)
        {
            Results.Enqueue(new IntakeResult(index, sentAt, Stopwatch.GetElapsedTime(started), 0, null, $"{e.GetType().Name}: {e.Message}"));
        }
    }
}

/// <summary>One webhook: its number, when it was sent, how long the answer took, the status (0: no answer), the run id of a 202.</summary>
public sealed record IntakeResult(int Index, TimeSpan SentAt, TimeSpan Latency, int Status, Guid? RunId, string? Error);
