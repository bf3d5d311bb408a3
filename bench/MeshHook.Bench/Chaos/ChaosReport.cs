using System.Globalization;

namespace MeshHook.Bench.Chaos;

/// <summary>
/// The soak's verdict: runs, steps, history, intake, terminations (with each SIGTERM judged graceful or not, and
/// why), and recovery times, as one table; true when every invariant holds and the graceful rate is high enough.
/// </summary>
public sealed class ChaosReport(ChaosOptions options, TextWriter output)
{
    /// <summary>Below this many SIGTERMs the rate is printed but 99.9 % cannot be stated.</summary>
    public const int SigtermsForRate = 1000;

    public const double RequiredRate = 99.9;

    private static readonly TimeSpan SurvivorStallTarget = TimeSpan.FromSeconds(1);

    public async Task<bool> PrintAsync(AuditResult audit, ChaosLoad load, IReadOnlyList<Termination> terminations, IReadOnlyList<ShutdownRow> shutdowns, TimeSpan elapsed)
    {
        var failures = new List<string>();
        var problemRuns = audit.Lost.Concat(audit.Stuck).Concat(audit.RepeatedAfterCheckpoint).Concat(audit.History)
            .Select(p => Guid.TryParse(p.Length >= 36 ? p[..36] : "", out var id) ? id : Guid.Empty)
            .ToHashSet();

        Line();
        Row("RUNS", "");
        Row("  submitted (webhooks sent)", load.Sent);
        Row("  accepted (202)", audit.Accepted);
        foreach (var (status, count) in audit.ByStatus.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            Row($"  finished {status}", count);
        }

        Row("  lost (must be 0)", audit.Lost.Count);
        Row("  stuck (must be 0)", audit.Stuck.Count);
        Row("STEPS", "");
        Row("  executed again after their outcome was checkpointed (must be 0)", audit.RepeatedAfterCheckpoint.Count);
        Row("  executed again after run_interrupted (cut off at the drain limit or forced)", audit.RestartsAfterInterruption);
        Row("  started again, never begun (start saved, then handed off)", audit.RestartsNotBegun);
        Row("  executed again after an activation ended unsaved (crash)", audit.RestartsAfterLostActivation);
        Row("  peer requests beyond the recorded attempts (repeats of interrupted steps)", audit.PeerRepeats);
        Row("  peer requests without their step's Idempotency-Key (must be 0)", audit.Keys.Count);
        Row("HISTORY", "");
        Row("  runs with a seq gap or not exactly one terminal event (must be 0)", audit.History.Count);

        var webhooks = load.Webhooks.ToList();
        var neverAccepted = webhooks.Where(w => w.RunId is null).ToList();
        var serverErrors = webhooks.Sum(w => w.ServerErrors);
        var mismatched = load.Duplicates.Where(d => d.First is null || d.First != d.Second).ToList();
        var latencies = webhooks.Where(w => w.RunId is not null).Select(w => w.Latency.TotalMilliseconds).Order().ToArray();
        Row("INTAKE", "");
        Row("  webhooks that never got a 202 (must be 0)", neverAccepted.Count);
        Row("  5xx other than 503 (must be 0)", serverErrors);
        Row("  connections refused while no gateway listened (retried)", $"{webhooks.Sum(w => w.Refused)} in {webhooks.Count(w => w.Refused > 0)} webhooks");
        Row("  503 + Retry-After (retried)", $"{webhooks.Sum(w => w.Unavailable)} in {webhooks.Count(w => w.Unavailable > 0)} webhooks");
        Row("  503 without Retry-After (must be 0)", webhooks.Sum(w => w.NoRetryAfter));
        Row("  202 latency p50 / p99 / max, retries included (ms)", $"{Percentile(latencies, 0.5):F0} / {Percentile(latencies, 0.99):F0} / {(latencies.Length == 0 ? 0 : latencies[^1]):F0}");
        Row("  keys sent twice / answered with another run (must be 0)", $"{load.Duplicates.Count} / {mismatched.Count}");
        Row("  cancels sent / answered 202", $"{load.Cancels.Count} / {load.Cancels.Count(c => c.Status == 202)}");

        var sigterms = terminations.Where(t => t.IsSiloSigterm).ToList();
        foreach (var termination in terminations)
        {
            termination.NotGracefulBecause = termination.IsSiloSigterm ? Judge(termination, shutdowns, audit, problemRuns) : null;
        }

        var graceful = sigterms.Count(t => t.NotGracefulBecause is null);
        var rate = sigterms.Count == 0 ? double.NaN : 100.0 * graceful / sigterms.Count;
        var forced = terminations.Where(t => t.Kind == TerminationKind.Forced).ToList();
        Row("TERMINATIONS", "");
        Row("  SIGTERMs to silos (alone / with others / while starting)", $"{sigterms.Count} ({sigterms.Count(t => t.Together == 1 && t.Kind == TerminationKind.Sigterm)} / {sigterms.Count(t => t.Together > 1)} / {sigterms.Count(t => t.Kind == TerminationKind.SigtermStarting)})");
        Row("  graceful", graceful);
        Row("  graceful rate", sigterms.Count == 0 ? "n/a" : $"{rate.ToString("F2", CultureInfo.InvariantCulture)} %" + (sigterms.Count < SigtermsForRate ? $" (fewer than {SigtermsForRate} SIGTERMs: too small a sample to state {RequiredRate} %)" : ""));
        Row("  SIGTERMs while Postgres was down", $"{sigterms.Count(t => t.PostgresDown)} (graceful: exit 0 in the grace period, not forced by its own report line, nothing lost; its row cannot be written while Postgres is down)");
        Row("  forced stops (second SIGTERM), exit 0 / total", $"{forced.Count(t => t.ExitCode == 0 && !t.OverGrace)} / {forced.Count}");
        Row("  SIGKILLs", terminations.Count(t => t.Kind == TerminationKind.Sigkill));
        Row("  gateway restarts, exit 0 / total", $"{terminations.Count(t => t.Kind == TerminationKind.Gateway && t.ExitCode == 0 && !t.OverGrace)} / {terminations.Count(t => t.Kind == TerminationKind.Gateway)}");
        Row("  Postgres restarts (one of them stopped during a drain)", terminations.Count(t => t.Kind == TerminationKind.PostgresRestart));

        var (handOff, toStorage, crash, stall) = Recovery(audit, terminations, shutdowns);
        Row("RECOVERY", "");
        Row("  hand-off to a survivor: SIGTERM'd silo's exit → run's next step, p50 / p99 / max (s)", Summary(handOff));
        Row("  saved with no survivor active: silo's exit → run's next step (after a restart), p50 / p99 / max (s)", Summary(toStorage));
        Row("  crash: SIGKILL → run's next step, p50 / p99 / max (s)", Summary(crash));
        Row("  survivor stall: extra gap between steps while a peer stops, p99 (s; target ≤ 1)", stall);
        Line();
        await output.WriteLineAsync($"seed {options.Seed}; {elapsed.TotalMinutes:F1} min in all; replay with --seed {options.Seed}");

        foreach (var t in terminations.Where(t => t.NotGracefulBecause is not null))
        {
            await output.WriteLineAsync($"not graceful: #{t.Id} {t.Kind} {t.Target} at {t.SignalledAt:HH:mm:ss.fff}: {t.NotGracefulBecause}");
        }

        foreach (var t in forced.Where(t => t.ExitCode != 0 || t.OverGrace))
        {
            failures.Add($"forced stop of {t.Target} exited {t.ExitCode}{(t.OverGrace ? " after the grace period" : "")}");
        }

        foreach (var t in terminations.Where(t => t.Kind == TerminationKind.Gateway && (t.ExitCode != 0 || t.OverGrace)))
        {
            failures.Add($"gateway restart: exit {t.ExitCode}{(t.OverGrace ? " after the grace period" : "")}");
        }

        Add(failures, "lost", audit.Lost);
        Add(failures, "stuck", audit.Stuck);
        Add(failures, "repeated after checkpoint", audit.RepeatedAfterCheckpoint);
        Add(failures, "history", audit.History);
        Add(failures, "idempotency keys", audit.Keys);
        Add(failures, "never accepted", [.. neverAccepted.Select(w => $"webhook #{w.Index} ({w.Slug}, key {w.Key ?? "none"}): {w.Failure}")]);
        Add(failures, "duplicate keys", [.. mismatched.Select(d => $"{d.Key}: {d.First} then {d.Second}")]);
        if (serverErrors > 0)
        {
            failures.Add($"{serverErrors} 5xx answer(s) other than 503");
        }

        if (webhooks.Sum(w => w.NoRetryAfter) > 0)
        {
            failures.Add("503 without Retry-After");
        }

        if (sigterms.Count >= SigtermsForRate && rate < RequiredRate)
        {
            failures.Add($"graceful rate {rate:F2} % < {RequiredRate} % over {sigterms.Count} SIGTERMs");
        }

        foreach (var failure in failures)
        {
            await output.WriteLineAsync($"FAIL {failure}");
        }

        await output.WriteLineAsync(failures.Count == 0 ? "PASS: every invariant holds" : $"FAILED: {failures.Count} problem(s)");
        return failures.Count == 0;
    }

    private static string? Judge(Termination t, IReadOnlyList<ShutdownRow> shutdowns, AuditResult audit, HashSet<Guid> problemRuns)
    {
        if (t.OverGrace)
        {
            return $"still running after the {ProcessSoak.GracePeriod.TotalSeconds:0} s grace period (then SIGKILLed)";
        }

        if (t.ExitCode != 0)
        {
            return $"exit code {t.ExitCode}";
        }

        var port = $":{t.SiloPort?.ToString(CultureInfo.InvariantCulture)}:";
        var row = shutdowns.FirstOrDefault(s => s.Address.Contains(port, StringComparison.Ordinal));
        string? silo;
        if (row is null && t.Kind == TerminationKind.SigtermStarting && t.StoppedWhileStarting && t.ReportLine is null)
        {
            // Stopped before it had joined the cluster: it held no run, and there was no drain to report.
            return null;
        }

        if (row is null)
        {
            if (!t.PostgresDown || t.ReportLine is null)
            {
                return $"no meshhook_shutdowns row{(t.ReportLine is null ? " and no report line in its log" : "")}";
            }

            if (!t.ReportLine.Contains("forced False", StringComparison.Ordinal))
            {
                return $"its report line says it was forced: {t.ReportLine}";
            }

            silo = null;
        }
        else
        {
            if (row.Forced)
            {
                return "its meshhook_shutdowns row says forced";
            }

            silo = row.Silo;
        }

        var damaged = audit.Histories
            .Where(h => problemRuns.Contains(h.Key) && h.Value.Any(e => (e.Type is "run_handed_off" or "run_interrupted" or "run_resumed") && (silo is null || e.Silo == silo)))
            .Select(h => h.Key)
            .ToList();
        return damaged.Count > 0 && silo is not null ? $"{damaged.Count} run(s) it held failed the audit, e.g. {damaged[0]}" : null;
    }

    private static (List<double> HandOff, List<double> ToStorage, List<double> Crash, string Stall) Recovery(AuditResult audit, IReadOnlyList<Termination> terminations, IReadOnlyList<ShutdownRow> shutdowns)
    {
        var handOff = new List<double>();
        var toStorage = new List<double>();
        foreach (var t in terminations.Where(t => t.IsSiloSigterm && t.ExitedAt is not null))
        {
            var port = $":{t.SiloPort?.ToString(CultureInfo.InvariantCulture)}:";
            if (shutdowns.FirstOrDefault(s => s.Address.Contains(port, StringComparison.Ordinal)) is not { } row)
            {
                continue;
            }

            foreach (var events in audit.Histories.Values)
            {
                var at = IndexOf(events, e => e.Type == "run_handed_off" && e.Silo == row.Silo);
                var next = at < 0 ? -1 : IndexOf(events, e => e.Type == "step_started", at + 1);
                if (next >= 0)
                {
                    (events[at].To == "storage" ? toStorage : handOff).Add((events[next].Ts - t.ExitedAt!.Value).TotalSeconds);
                }
            }
        }

        var crash = new List<double>();
        foreach (var t in terminations.Where(t => t.Kind == TerminationKind.Sigkill))
        {
            foreach (var runId in t.RunsHeld)
            {
                if (audit.Histories.TryGetValue(runId, out var events) && events.FirstOrDefault(e => e.Type == "step_started" && e.Ts > t.SignalledAt) is { } next)
                {
                    crash.Add((next.Ts - t.SignalledAt).TotalSeconds);
                }
            }
        }

        return (handOff, toStorage, crash, SurvivorStall(audit, terminations));
    }

    /// <summary>
    /// Gaps between a step's outcome and the next step's start of the same run, with no hand-off, resume or
    /// interruption between them (the run stayed where it was): in quiet periods, and while a peer silo stops
    /// (its SIGTERM to its exit plus a second). The extra gap is a stop-time gap less the quiet median.
    /// </summary>
    private static string SurvivorStall(AuditResult audit, IReadOnlyList<Termination> terminations)
    {
        var stops = terminations.Where(t => t.IsSiloSigterm && t.ExitedAt is not null && !t.PostgresDown)
            .Select(t => (From: t.SignalledAt, To: t.ExitedAt!.Value.AddSeconds(1))).ToList();
        var disturbed = terminations.Where(t => t.ExitedAt is not null || t.Kind == TerminationKind.PostgresRestart)
            .Select(t => (From: t.SignalledAt.AddSeconds(-1), To: (t.ExitedAt ?? t.SignalledAt).AddSeconds(t.Kind == TerminationKind.PostgresRestart ? 15 : 5))).ToList();
        var postgres = terminations.Where(t => t.Kind == TerminationKind.PostgresRestart || t.PostgresDown)
            .Select(t => (From: t.SignalledAt.AddSeconds(-1), To: t.SignalledAt.AddSeconds(15))).ToList();
        var quiet = new List<double>();
        var during = new List<double>();
        foreach (var events in audit.Histories.Values)
        {
            for (var i = 1; i < events.Count; i++)
            {
                if (events[i].Type != "step_started")
                {
                    continue;
                }

                var previous = events[i - 1];
                if (previous.Type != "step_succeeded")
                {
                    continue;
                }

                var gap = (events[i].Ts - previous.Ts).TotalSeconds;
                var next = events[i].Ts;
                bool Overlaps(List<(DateTime From, DateTime To)> windows) => windows.Any(w => previous.Ts <= w.To && next >= w.From);
                if (Overlaps(postgres))
                {
                    continue;
                }

                if (Overlaps(stops))
                {
                    during.Add(gap);
                }
                else if (!Overlaps(disturbed))
                {
                    quiet.Add(gap);
                }
            }
        }

        if (during.Count == 0 || quiet.Count == 0)
        {
            return $"n/a ({during.Count} gaps during stops, {quiet.Count} quiet)";
        }

        var quietSorted = quiet.Order().ToArray();
        var baseline = Percentile(quietSorted, 0.5);
        var extra = during.Select(g => g - baseline).Order().ToArray();
        var p99 = Percentile(extra, 0.99);
        return $"{p99:F2} ({(p99 <= SurvivorStallTarget.TotalSeconds ? "met" : "NOT met")}; {during.Count} gaps during stops, max {extra[^1]:F2}; quiet gaps p50 {baseline * 1000:F0} ms, p99 {Percentile(quietSorted, 0.99) * 1000:F0} ms over {quiet.Count})";
    }

    private static int IndexOf(IReadOnlyList<AuditEvent> events, Func<AuditEvent, bool> match, int from = 0)
    {
        for (var i = from; i < events.Count; i++)
        {
            if (match(events[i]))
            {
                return i;
            }
        }

        return -1;
    }

    private static string Summary(List<double> seconds)
    {
        if (seconds.Count == 0)
        {
            return "n/a (none measured)";
        }

        var sorted = seconds.Order().ToArray();
        return $"{Percentile(sorted, 0.5):F2} / {Percentile(sorted, 0.99):F2} / {sorted[^1]:F2} ({sorted.Length} runs)";
    }

    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];

    private static void Add(List<string> failures, string what, IReadOnlyList<string> problems)
    {
        if (problems.Count > 0)
        {
            failures.Add($"{what}: {problems.Count}, e.g. {string.Join("; ", problems.Take(5))}");
        }
    }

    private void Line() => output.WriteLine(new string('-', 118));

    private void Row(string label, object value) => output.WriteLine($"{label,-84} {Convert.ToString(value, CultureInfo.InvariantCulture)}");
}
