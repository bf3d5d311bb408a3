using System.Diagnostics;
using System.Net;
using System.Text;

namespace MeshHook.Bench.Intake;

/// <summary>One webhook of a phase: its scheduled send time, latency from that time to the answer (no coordinated omission), how late it really left, the status (0: no answer).</summary>
public readonly record struct IntakeSample(TimeSpan Scheduled, TimeSpan Latency, TimeSpan SendLag, int Status);

/// <summary>
/// Open-loop load: webhook i is due at start + i / rate and is sent then, whether earlier ones answered or not. Latency
/// counts from the due time, so a stalled gateway shows up in full rather than as fewer requests.
/// </summary>
public static class IntakeLoad
{
    public static async Task<IntakeSample[]> RunAsync(HttpClient http, string path, double rate, TimeSpan duration, CancellationToken cancellationToken)
    {
        var count = (int)Math.Round(rate * duration.TotalSeconds);
        var samples = new IntakeSample[count];
        var sends = new Task[count];
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            var due = TimeSpan.FromSeconds(i / rate);
            var wait = due - clock.Elapsed;
            if (wait > TimeSpan.FromMilliseconds(1))
            {
                await Task.Delay(wait, cancellationToken);
            }

            var index = i;
            sends[i] = SendAsync(http, path, index, due, clock, samples, cancellationToken);
        }

        await Task.WhenAll(sends);
        return samples;
    }

    private static async Task SendAsync(HttpClient http, string path, int index, TimeSpan due, Stopwatch clock, IntakeSample[] samples, CancellationToken cancellationToken)
    {
        var lag = clock.Elapsed - due;
        int status;
        try
        {
            using var content = new StringContent($$"""{"order":{{index}},"amount":42}""", Encoding.UTF8, "application/json");
            using var response = await http.PostAsync(path, content, cancellationToken);
            await response.Content.LoadIntoBufferAsync(cancellationToken);
            status = (int)response.StatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            status = 0;
        }

        samples[index] = new IntakeSample(due, clock.Elapsed - due, lag, status);
    }

    /// <summary>The value at quantile <paramref name="q"/> (nearest rank) of sorted values.</summary>
    public static double Quantile(double[] sorted, double q) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];

    /// <summary>A summary of a phase.</summary>
    public static PhaseSummary Summarize(string name, IntakeSample[] samples, TimeSpan duration, long startsDeferred)
    {
        var accepted = samples.Where(s => s.Status == (int)HttpStatusCode.Accepted).Select(s => s.Latency.TotalMilliseconds).Order().ToArray();
        var others = samples.Where(s => s.Status != (int)HttpStatusCode.Accepted).GroupBy(s => s.Status).ToDictionary(g => g.Key, g => g.Count());
        return new PhaseSummary(
            name,
            samples.Length,
            accepted.Length,
            others,
            accepted.Length / duration.TotalSeconds,
            Quantile(accepted, 0.50),
            Quantile(accepted, 0.90),
            Quantile(accepted, 0.99),
            accepted.Length == 0 ? double.NaN : accepted[^1],
            samples.Length == 0 ? 0 : samples.Max(s => s.SendLag.TotalMilliseconds),
            startsDeferred);
    }
}

/// <summary>Figures of one measured phase; latencies in ms over the 202 answers.</summary>
public sealed record PhaseSummary(
    string Name, int Sent, int Accepted, IReadOnlyDictionary<int, int> Others, double AcceptedPerSecond,
    double P50, double P90, double P99, double Max, double MaxSendLagMs, long StartsDeferred);
