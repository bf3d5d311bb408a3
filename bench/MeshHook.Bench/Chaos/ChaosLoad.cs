using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using MeshHook.Bench.Infrastructure;

namespace MeshHook.Bench.Chaos;

/// <summary>How one webhook ended, after the client's retries.</summary>
/// <param name="Index">Its place in the schedule.</param>
/// <param name="Slug">The workflow it triggered.</param>
/// <param name="Key">Its client Idempotency-Key, or null.</param>
/// <param name="RunId">The run id of the 202, or null when it never got one.</param>
/// <param name="Failure">Why it never got a 202 (null when it did).</param>
/// <param name="Refused">Connections refused before the answer (no gateway listening: it was restarting), each retried.</param>
/// <param name="Unavailable">503 answers before the final one, each retried after its Retry-After.</param>
/// <param name="NoRetryAfter">503 answers without a Retry-After header (the contract says every 503 has one).</param>
/// <param name="ServerErrors">5xx answers other than 503: failures of the gateway.</param>
/// <param name="Latency">From the first send to the 202 (or the give-up), retries included.</param>
public sealed record Webhook(int Index, string Slug, string? Key, Guid? RunId, string? Failure, int Refused, int Unavailable, int NoRetryAfter, int ServerErrors, TimeSpan Latency);

/// <summary>A cancel the load sent, and how the run ended.</summary>
public sealed record CancelCall(Guid RunId, int Status);

/// <summary>
/// The soak's traffic through the gateway's HTTP API, as the SvelteKit API sends it: webhooks at a steady rate (open
/// loop) over the workflow mix; some with a client Idempotency-Key, some of those sent twice; now and then a cancel of a
/// running run. A refused connection (no gateway listening) and a 503 (honouring Retry-After) are retried for up to
/// <see cref="RetryFor"/>; a webhook without a key is retried only then, when it certainly was not stored.
/// </summary>
public sealed class ChaosLoad(Func<Uri> gateway, double rate, int seed, TextWriter output) : IAsyncDisposable
{
    /// <summary>How long a client keeps retrying one webhook (a gateway restart or a Postgres restart takes a few seconds).</summary>
    public static readonly TimeSpan RetryFor = TimeSpan.FromSeconds(90);

    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);
    private readonly HttpClient _http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256, PooledConnectionLifetime = TimeSpan.FromSeconds(30), ConnectTimeout = TimeSpan.FromSeconds(5) })
    {
        Timeout = RequestTimeout,
    }.Authorized();

    private readonly ConcurrentBag<Webhook> _webhooks = [];
    private readonly ConcurrentBag<(string Key, Guid? First, Guid? Second)> _duplicates = [];
    private readonly ConcurrentBag<CancelCall> _cancels = [];
    private readonly ConcurrentQueue<(Guid RunId, DateTime At)> _cancelable = new();
    private readonly List<Task> _inFlight = [];
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;
    private int _sent;

    public IReadOnlyCollection<Webhook> Webhooks => _webhooks;

    /// <summary>Keys sent twice, with both answers' run ids (which must be equal).</summary>
    public IReadOnlyCollection<(string Key, Guid? First, Guid? Second)> Duplicates => _duplicates;

    public IReadOnlyCollection<CancelCall> Cancels => _cancels;

    public int Sent => Volatile.Read(ref _sent);

    public void Start() => _loop = Task.Run(() => RunAsync(_stop.Token));

    /// <summary>Stops sending and waits for every webhook still retrying to end.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        Task[] pending;
        lock (_inFlight)
        {
            pending = [.. _inFlight];
        }

        await Task.WhenAll(pending).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _http.Dispose();
        _stop.Dispose();
    }

    private async Task RunAsync(CancellationToken stop)
    {
        var clock = Stopwatch.StartNew();
        var interval = TimeSpan.FromSeconds(1 / rate);
        var nextCancel = TimeSpan.FromSeconds(5);
        for (var index = 0; !stop.IsCancellationRequested; index++)
        {
            var due = interval * index;
            var wait = due - clock.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(wait, stop);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }

            Track(SendAsync(index));
            if (clock.Elapsed > nextCancel)
            {
                nextCancel = clock.Elapsed + TimeSpan.FromSeconds(4);
                Track(CancelOneAsync());
            }
        }
    }

    private void Track(Task task)
    {
        lock (_inFlight)
        {
            _inFlight.RemoveAll(t => t.IsCompleted);
            _inFlight.Add(task);
        }
    }

    private async Task SendAsync(int index)
    {
        // Per webhook, so the mix does not depend on the order in which answers come back.
        var random = new Random(HashCode.Combine(seed, index));
        var workflow = ChaosWorkflows.Pick(random);
        var keyed = random.NextDouble() < 0.3;
        var twice = keyed && random.NextDouble() < 0.34;
        var key = keyed ? $"chaos-{seed}-{index}" : null;
        Interlocked.Increment(ref _sent);
        var first = await WebhookAsync(index, workflow, key);
        _webhooks.Add(first);
        if (first.RunId is { } runId && workflow.Cancelable)
        {
            _cancelable.Enqueue((runId, DateTime.UtcNow));
        }

        if (twice)
        {
            // The SvelteKit API resending after a lost answer: the same key must give the same run.
            await Task.Delay(TimeSpan.FromMilliseconds(random.Next(100, 2000)));
            var second = await WebhookAsync(index, workflow, key);
            _duplicates.Add((key!, first.RunId, second.RunId));
        }
    }

    private async Task<Webhook> WebhookAsync(int index, ChaosWorkflow workflow, string? key)
    {
        var clock = Stopwatch.StartNew();
        int refused = 0, unavailable = 0, noRetryAfter = 0, serverErrors = 0;
        var body = $$"""{"n": {{index.ToString(CultureInfo.InvariantCulture)}}}""";
        while (true)
        {
            string failure;
            TimeSpan? retryAfter = null;
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(gateway(), $"/api/hooks/{workflow.Slug}"))
                {
                    Content = new StringContent(body, Encoding.UTF8, "application/json"),
                };
                if (key is not null)
                {
                    request.Headers.Add("Idempotency-Key", key);
                }

                using var response = await _http.SendAsync(request);
                var text = await response.Content.ReadAsStringAsync();
                if (response.StatusCode == HttpStatusCode.Accepted)
                {
                    var runId = JsonDocument.Parse(text).RootElement.GetProperty("runId").GetGuid();
                    return new Webhook(index, workflow.Slug, key, runId, null, refused, unavailable, noRetryAfter, serverErrors, clock.Elapsed);
                }

                if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
                {
                    unavailable++;
                    retryAfter = response.Headers.RetryAfter?.Delta;
                    noRetryAfter += retryAfter is null ? 1 : 0;
                    failure = "503";
                }
                else if ((int)response.StatusCode >= 500)
                {
                    serverErrors++;
                    failure = $"{(int)response.StatusCode}: {text[..Math.Min(200, text.Length)]}";
                    if (key is null)
                    {
                        // The run may or may not be stored: without a key a retry could make a second one.
                        return new Webhook(index, workflow.Slug, key, null, failure, refused, unavailable, noRetryAfter, serverErrors, clock.Elapsed);
                    }
                }
                else
                {
                    return new Webhook(index, workflow.Slug, key, null, $"{(int)response.StatusCode}: {text[..Math.Min(200, text.Length)]}", refused, unavailable, noRetryAfter, serverErrors, clock.Elapsed);
                }
            }
            catch (HttpRequestException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused })
            {
                refused++;
                failure = "connection refused";
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
            {
                failure = $"no answer ({e.GetType().Name}: {e.Message}{(e.InnerException is { } inner ? $" / {inner.GetType().Name}: {inner.Message}" : "")})";
                if (key is null)
                {
                    // Sent, answer lost: only a keyed webhook can be retried safely.
                    return new Webhook(index, workflow.Slug, key, null, failure, refused, unavailable, noRetryAfter, serverErrors, clock.Elapsed);
                }
            }

            if (clock.Elapsed > RetryFor)
            {
                return new Webhook(index, workflow.Slug, key, null, $"gave up after {RetryFor.TotalSeconds:0} s; last: {failure}", refused, unavailable, noRetryAfter, serverErrors, clock.Elapsed);
            }

            var pause = retryAfter is { } after && after > TimeSpan.Zero ? TimeSpan.FromTicks(Math.Min(after.Ticks, TimeSpan.FromSeconds(2).Ticks)) : TimeSpan.FromMilliseconds(250);
            await Task.Delay(pause);
        }
    }

    private async Task CancelOneAsync()
    {
        // A run accepted a second or more ago is usually in its delay or slow call by now.
        while (_cancelable.TryDequeue(out var candidate))
        {
            if (DateTime.UtcNow - candidate.At < TimeSpan.FromSeconds(1))
            {
                _cancelable.Enqueue(candidate);
                return;
            }

            if (DateTime.UtcNow - candidate.At > TimeSpan.FromSeconds(5))
            {
                continue;
            }

            var status = 0;
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < RetryFor)
            {
                try
                {
                    using var response = await _http.PostAsync(new Uri(gateway(), $"/api/runs/{candidate.RunId}/cancel"), content: null);
                    status = (int)response.StatusCode;
                    if (response.StatusCode != HttpStatusCode.ServiceUnavailable)
                    {
                        break;
                    }
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
                {
                    status = -1;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(250));
            }

            _cancels.Add(new CancelCall(candidate.RunId, status));
            if (status is not 202)
            {
                await output.WriteLineAsync($"cancel of {candidate.RunId} answered {status}");
            }

            return;
        }
    }
}
