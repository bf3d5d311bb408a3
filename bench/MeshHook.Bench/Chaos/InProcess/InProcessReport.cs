using System.Globalization;

namespace MeshHook.Bench.Chaos.InProcess;

/// <summary>Prints the in-process soak's table: stops, hand-offs, the audit, problems, and the verdict with the seed.</summary>
public static class InProcessReport
{
    private const int ListAtMost = 10;

    public static void Print(TextWriter output, InProcessResult r)
    {
        var stops = r.Stops;
        var reports = stops.Select(s => s.Report).OfType<MeshHook.Silo.Shutdown.ShutdownReport>().ToList();
        var handedOff = reports.Select(rep => (double)rep.RunsHandedOff).ToList();
        var durations = stops.Select(s => s.Duration.TotalMilliseconds).ToList();
        var audit = r.Audit;
        var load = r.Load;

        output.WriteLine();
        output.WriteLine("== in-process chaos soak ==");
        Row(output, "stops", $"{stops.Count} of {r.Options.Stops} ({stops.Count(s => s.TwoAtOnce)} in {stops.Count(s => s.TwoAtOnce) / 2} rounds of two at once)");
        var sample = r.Unforced.Count < InProcessResult.RateNeedsStops
            ? $" (fewer than {InProcessResult.RateNeedsStops} stops: too small a sample to state {Percent(InProcessResult.RequiredRate)})"
            : "";
        Row(output, "graceful", $"{r.Graceful} of {r.Unforced.Count} stops without a second signal: {Percent(r.GracefulRate)}{sample}");
        Row(output, "  drain limit reached", $"{r.Unforced.Count(s => s.CutOffAtDrainLimit)} (report Forced=true because steps outlasted the {ChaosWorkflows.DrainTimeout.TotalSeconds:0} s drain limit; no second signal; not graceful)");
        Row(output, "  report Forced=false", $"{r.Unforced.Count(s => s.Report is { Forced: false })} of {r.Unforced.Count}");
        Row(output, "forced (second signal)", $"{r.Forced.Count}: report Forced=true {r.Forced.Count(s => s.Report?.Forced == true)}, without other problems {r.Forced.Count(s => s.Problems.Count == 0)}");
        Row(output, "stop path", $"ApplicationStopping first ('stop requested') {stops.Count(s => s.IntakeCause == "stop requested")}, ShutdownCoordinator.Report given {reports.Count}, row in meshhook_shutdowns {stops.Count(s => !s.Problems.Any(p => p.StartsWith("no row", StringComparison.Ordinal)) && s.Report is not null)}");
        Row(output, "stops with work in flight", $"{r.Busy} of {stops.Count} (steps in flight at the signal: mean {Mean(stops.Select(s => (double)s.StepsInFlight)):0.0}, max {stops.Select(s => s.StepsInFlight).DefaultIfEmpty().Max()})");
        Row(output, "runs handed off per stop", $"mean {Mean(handedOff):0.0}, p50 {Percentile(handedOff, 0.5):0}, p99 {Percentile(handedOff, 0.99):0}, max {handedOff.DefaultIfEmpty().Max():0}; total {handedOff.Sum():0}");
        Row(output, "steps during drains", $"completed {reports.Sum(rep => rep.StepsCompleted)}, interrupted {reports.Sum(rep => rep.StepsInterrupted)}");
        Row(output, "run_interrupted reasons", $"{string.Join(", ", r.Interruptions.GroupBy(i => i.Reason).Select(g => $"'{g.Key}' {g.Count()}"))}; 'forced stop' from silos never forced: {r.InterruptedAsForcedWithoutForce}");
        Row(output, "stop duration", $"p50 {Percentile(durations, 0.5):0} ms, p99 {Percentile(durations, 0.99):0} ms, max {durations.DefaultIfEmpty().Max():0} ms (grace {InProcessSoak.GracePeriod.TotalSeconds:0} s)");
        Row(output, "hand-off to resume", $"p50 {Percentile(r.ResumeDelays, 0.5):0} ms, p99 {Percentile(r.ResumeDelays, 0.99):0} ms, max {r.ResumeDelays.DefaultIfEmpty().Max():0} ms over {r.ResumeDelays.Count} hand-offs; over 1 s {r.ResumeDelays.Count(d => d > 1000)}; never resumed {r.NeverResumed}");
        Row(output, "replacement silo start", $"p50 {Percentile(r.SiloStartMs, 0.5):0} ms, p99 {Percentile(r.SiloStartMs, 0.99):0} ms, max {r.SiloStartMs.DefaultIfEmpty().Max():0} ms over {r.SiloStartMs.Count} starts");
        Row(output, "time per stop", $"{(stops.Count == 0 ? 0 : r.CycleTime.TotalSeconds / stops.Count):0.00} s ({r.CycleTime.TotalSeconds:0} s for the stops; settle {r.SettleTime.TotalSeconds:0} s; total {r.TotalTime.TotalSeconds:0} s; {r.FreshPortPairs} port pairs; load average now {MeshHook.Bench.Infrastructure.BenchMachine.LoadAverage()})");

        output.WriteLine();
        Row(output, "runs submitted", $"{load.Submitted}; accepted {load.Accepted.Count}; not accepted {load.NotAccepted}");
        Row(output, "runs finished", $"{string.Join(", ", audit.ByStatus.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => $"{s.Key} {s.Value}"))}");
        Row(output, "lost", $"{audit.Lost.Count}");
        Row(output, "stuck", $"{audit.Stuck.Count} (still unfinished after the settle time)");
        Row(output, "repeated after checkpoint", $"{audit.RepeatedAfterCheckpoint.Count}");
        Row(output, "history problems", $"{audit.History.Count}");
        Row(output, "key problems", $"{audit.Keys.Count}");
        Row(output, "restarts by cause", $"after interruption {audit.RestartsAfterInterruption}, not begun before hand-off {audit.RestartsNotBegun}, after a lost activation {audit.RestartsAfterLostActivation}; peer repeats {audit.PeerRepeats}");
        Row(output, "intake", $"start retries {load.StartRetries}, starts left to the recovery sweep {load.StartsLeftToRecovery}; cancels sent {load.CancelsSent}, failed {load.CancelsFailed}");

        Row(output, "runs in error lines", $"{r.Log.RunsInTrouble.Count} run(s) the run grain logged an error or a second activation about (histories in the log): {string.Join(", ", r.Log.RunsInTrouble.Values.Distinct().Select(m => Shorten(m, 60)))}");

        List(output, "lost", audit.Lost);
        List(output, "stuck", audit.Stuck);
        List(output, "repeated after checkpoint", audit.RepeatedAfterCheckpoint);
        List(output, "history problems", audit.History);
        List(output, "key problems", audit.Keys);
        List(output, "load errors (not transient)", [.. load.Errors]);
        List(output, "stops not graceful", [.. stops.Where(s => s.Problems.Count > 0).Select(s =>
            $"#{s.Index} {s.SiloName}{(s.Forced ? " (forced)" : "")}: {string.Join("; ", s.Problems)}")]);

        var warnings = r.Log.Counts();
        if (warnings.Count > 0)
        {
            output.WriteLine();
            output.WriteLine($"warnings and errors logged by the silos and the client (all in {r.Log.Path}):");
            foreach (var (level, category, message, count) in warnings.Take(ListAtMost))
            {
                output.WriteLine($"  {count,6} {level,-11} {Shorten(category, 40)}: {Shorten(message, 110)}");
            }
        }

        output.WriteLine();
        var failures = new List<string>();
        if (!r.AllStopsDone)
        {
            failures.Add($"only {stops.Count} of {r.Options.Stops} stops done");
        }

        if (!audit.Passed)
        {
            failures.Add("the audit found problems");
        }

        if (!r.GracefulEnough)
        {
            failures.Add($"{r.Unforced.Count - r.Graceful} stop(s) not graceful ({Percent(r.GracefulRate)}; " +
                $"{Percent(InProcessResult.RequiredRate)} over at least {InProcessResult.RateNeedsStops} stops would do)");
        }

        if (!r.ForcedStopsClean)
        {
            failures.Add("forced stops with problems");
        }

        if (!r.BusyEnough)
        {
            failures.Add($"only {r.Busy} of {stops.Count} stops had work in flight (at least {Percent(InProcessResult.RequiredBusyShare)} must)");
        }

        output.WriteLine(failures.Count == 0
            ? $"PASSED: every invariant holds; {Percent(r.GracefulRate)} of the stops were graceful. seed {r.Options.Seed}"
            : $"FAILED: {string.Join("; ", failures)}. seed {r.Options.Seed}");
    }

    private static void Row(TextWriter output, string label, FormattableString value) =>
        output.WriteLine($"{label,-26} {value.ToString(CultureInfo.InvariantCulture)}");

    private static void List(TextWriter output, string title, IReadOnlyList<string> items)
    {
        if (items.Count == 0)
        {
            return;
        }

        output.WriteLine();
        output.WriteLine($"{title} ({items.Count}{(items.Count > ListAtMost ? $", first {ListAtMost}" : "")}):");
        foreach (var item in items.Take(ListAtMost))
        {
            output.WriteLine($"  {item}");
        }
    }

    private static string Percent(double share) => (share * 100).ToString("0.00", CultureInfo.InvariantCulture) + " %";

    private static double Mean(IEnumerable<double> values)
    {
        var list = values.ToList();
        return list.Count == 0 ? 0 : list.Average();
    }

    private static double Percentile(IReadOnlyList<double> values, double p)
    {
        if (values.Count == 0)
        {
            return 0;
        }

        var sorted = values.Order().ToList();
        return sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];
    }

    private static string Shorten(string text, int length)
    {
        var line = text.ReplaceLineEndings(" ");
        return line.Length <= length ? line : line[..(length - 1)] + "…";
    }
}
