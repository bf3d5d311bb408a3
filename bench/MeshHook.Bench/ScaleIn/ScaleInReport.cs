using System.Globalization;

namespace MeshHook.Bench.ScaleIn;

/// <summary>The summary table: per round, then the median of the rounds, against the issue's targets.</summary>
public static class ScaleInReport
{
    private static readonly TimeSpan TargetA = TimeSpan.FromMilliseconds(500);
    private const double TargetBP99Ms = 1000;
    private const double TargetCP99Ms = 10_000;

    public static void Print(TextWriter output, ScaleInOptions options, IReadOnlyList<RoundResult> rounds, TimeSpan total)
    {
        output.WriteLine($"Scale-in: {options.Runs} runs, {options.Silos} silo processes, chain of {options.Steps} http_calls held {options.MinDelay.TotalMilliseconds:0}-{options.MaxDelay.TotalMilliseconds:0} ms, DrainTimeout {options.DrainTimeout.TotalSeconds:0.#} s");
        output.WriteLine();
        output.WriteLine("| round | steps/s | (a) exit ms | in-flight steps ms | (a) exit − steps ms | handed off | (b) p50 ms | (b) p99 ms | killed runs | dead after ms | (c) p50 ms | (c) p99 ms | checks |");
        output.WriteLine("|------:|--------:|------------:|-------------------:|--------------------:|-----------:|-----------:|-----------:|------------:|--------------:|-----------:|-----------:|:------:|");
        foreach (var r in rounds)
        {
            output.WriteLine(Row(r.Round.ToString(CultureInfo.InvariantCulture), r.StepRate, r.Drain.Exit.TotalMilliseconds, r.Drain.StepsDone.TotalMilliseconds,
                r.Drain.Overhead.TotalMilliseconds, r.Drain.HandedOff, r.Drain.NextStepFromExit.P50, r.Drain.NextStepFromExit.P99, r.Crash.Resumed,
                r.Crash.DeclaredDead?.TotalMilliseconds ?? double.NaN, r.Crash.NextStep.P50, r.Crash.NextStep.P99, r.Checks.Ok ? "ok" : "FAILED"));
        }

        var a = Median(rounds.Select(r => r.Drain.Overhead.TotalMilliseconds));
        var bP99 = Median(rounds.Select(r => r.Drain.NextStepFromExit.P99));
        var cP99 = Median(rounds.Select(r => r.Crash.NextStep.P99));
        output.WriteLine(Row("median", Median(rounds.Select(r => r.StepRate)), Median(rounds.Select(r => r.Drain.Exit.TotalMilliseconds)),
            Median(rounds.Select(r => r.Drain.StepsDone.TotalMilliseconds)), a, Median(rounds.Select(r => (double)r.Drain.HandedOff)),
            Median(rounds.Select(r => r.Drain.NextStepFromExit.P50)), bP99, Median(rounds.Select(r => (double)r.Crash.Resumed)),
            Median(rounds.Select(r => r.Crash.DeclaredDead?.TotalMilliseconds ?? double.NaN)), Median(rounds.Select(r => r.Crash.NextStep.P50)), cP99,
            rounds.All(r => r.Checks.Ok) ? "ok" : "FAILED"));
        output.WriteLine();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"targets (median of rounds): (a) {a:F0} ms ≤ {TargetA.TotalMilliseconds:0} ms: {Verdict(a <= TargetA.TotalMilliseconds)}; " +
            $"(b) p99 {bP99:F0} ms ≤ {TargetBP99Ms:0} ms: {Verdict(bP99 <= TargetBP99Ms)}; (c) p99 {cP99:F0} ms ≤ {TargetCP99Ms:0} ms: {Verdict(cP99 <= TargetCP99Ms)}"));
        if (options.FastExit == "alternate")
        {
            var off = Median(rounds.Where(r => !options.FastExitIn(r.Round)).Select(r => r.Drain.Overhead.TotalMilliseconds));
            var on = Median(rounds.Where(r => options.FastExitIn(r.Round)).Select(r => r.Drain.Overhead.TotalMilliseconds));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"(a) exit − steps by MeshHook:Shutdown:FastExit, median: false (odd rounds) {off:F0} ms, true (even rounds) {on:F0} ms; true/false {on / off:F2}"));
        }

        output.WriteLine($"checks: {(rounds.All(r => r.Checks.Ok) ? "every run finished, seqs gapless, no checkpointed step repeated, in every round" : "FAILED in some round (see the round lines)")}; total {total.TotalSeconds:F0} s");
    }

    private static string Verdict(bool met) => met ? "met" : "NOT met";

    private static string Row(string round, double rate, double exit, double steps, double a, double handedOff, double b50, double b99, double killed, double dead, double c50, double c99, string checks) =>
        string.Create(CultureInfo.InvariantCulture,
            $"| {round,5} | {rate,7:F0} | {exit,11:F0} | {steps,18:F0} | {a,19:F0} | {handedOff,10:F0} | {b50,10:F0} | {b99,10:F0} | {killed,11:F0} | {dead,13:F0} | {c50,10:F0} | {c99,10:F0} | {checks,6} |");

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Where(v => !double.IsNaN(v)).Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
