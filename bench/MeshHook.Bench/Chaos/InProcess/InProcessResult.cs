namespace MeshHook.Bench.Chaos.InProcess;

/// <summary>Everything the in-process soak measured and found, and its verdict.</summary>
public sealed class InProcessResult
{
    /// <summary>Stops needed before a graceful rate of 99.9 % may stand in for "every stop graceful".</summary>
    public const int RateNeedsStops = 1000;

    public const double RequiredRate = 0.999;

    /// <summary>Share of the stops that must have had work on the silo, or the soak did not test what it claims.</summary>
    public const double RequiredBusyShare = 0.9;

    public InProcessResult(
        ChaosOptions options,
        IReadOnlyList<SiloStop> stops,
        AuditResult audit,
        SoakLoad load,
        TimeSpan cycleTime,
        TimeSpan settleTime,
        int unfinishedAfterSettle,
        TimeSpan totalTime,
        int freshPortPairs,
        IReadOnlyList<double> siloStartMs,
        IReadOnlyList<(string Silo, string Reason)> interruptions,
        SoakLog log)
    {
        Options = options;
        Stops = stops;
        Audit = audit;
        Load = load;
        CycleTime = cycleTime;
        SettleTime = settleTime;
        UnfinishedAfterSettle = unfinishedAfterSettle;
        TotalTime = totalTime;
        FreshPortPairs = freshPortPairs;
        SiloStartMs = siloStartMs;
        Interruptions = interruptions;
        var forcedSilos = stops.Where(s => s.ForceLogged).Select(s => s.SiloName).ToHashSet(StringComparer.Ordinal);
        InterruptedAsForcedWithoutForce = interruptions.Count(i => i.Reason == "forced stop" && !forcedSilos.Contains(i.Silo));
        Log = log;
        Unforced = [.. stops.Where(s => !s.Forced)];
        Forced = [.. stops.Where(s => s.Forced)];
        Graceful = Unforced.Count(s => s.Graceful);
        Busy = stops.Count(s => s.StepsInFlight > 0 || s.RunsAtStop.Count > 0 || s.Report?.RunsHandedOff > 0);
        ResumeDelays = HandOffToResume(audit, out var neverResumed);
        NeverResumed = neverResumed;
    }

    public ChaosOptions Options { get; }

    public IReadOnlyList<SiloStop> Stops { get; }

    public AuditResult Audit { get; }

    public SoakLoad Load { get; }

    /// <summary>From the first stop to the last stop's end.</summary>
    public TimeSpan CycleTime { get; }

    public TimeSpan SettleTime { get; }

    public int UnfinishedAfterSettle { get; }

    public TimeSpan TotalTime { get; }

    public int FreshPortPairs { get; }

    /// <summary>How long each replacement silo took to start and join (ms).</summary>
    public IReadOnlyList<double> SiloStartMs { get; }

    public SoakLog Log { get; }

    /// <summary>Every run_interrupted event: the silo that wrote it and its reason.</summary>
    public IReadOnlyList<(string Silo, string Reason)> Interruptions { get; }

    /// <summary>run_interrupted events saying "forced stop" written by silos whose stop was never forced (no Force() call logged).</summary>
    public int InterruptedAsForcedWithoutForce { get; }

    /// <summary>Stops without a second signal: the ones the graceful rate is about.</summary>
    public IReadOnlyList<SiloStop> Unforced { get; }

    /// <summary>Stops forced during their drain (ShutdownCoordinator.Force(), the second-signal path), counted on their own.</summary>
    public IReadOnlyList<SiloStop> Forced { get; }

    public int Graceful { get; }

    public double GracefulRate => Unforced.Count == 0 ? 0 : (double)Graceful / Unforced.Count;

    /// <summary>Stops of a silo that had steps in flight, unfinished runs or runs to hand off.</summary>
    public int Busy { get; }

    /// <summary>For every run_handed_off, the time until the run's next run_resumed (ms).</summary>
    public IReadOnlyList<double> ResumeDelays { get; }

    /// <summary>Hand-offs that no run_resumed followed.</summary>
    public int NeverResumed { get; }

    public bool AllStopsDone => Stops.Count >= Options.Stops;

    /// <summary>
    /// As the issue and the process soak judge it: over <see cref="RateNeedsStops"/> stops or more the rate must reach
    /// <see cref="RequiredRate"/>; below that the rate is printed with every ungraceful stop's reason, not judged
    /// (the invariants still are).
    /// </summary>
    public bool GracefulEnough => Unforced.Count < RateNeedsStops || GracefulRate >= RequiredRate;

    public bool ForcedStopsClean => Forced.All(s => s.Problems.Count == 0);

    public bool BusyEnough => Stops.Count > 0 && Busy >= RequiredBusyShare * Stops.Count;

    public bool Passed => AllStopsDone && Audit.Passed && GracefulEnough && ForcedStopsClean && BusyEnough;

    private static List<double> HandOffToResume(AuditResult audit, out int neverResumed)
    {
        neverResumed = 0;
        var delays = new List<double>();
        foreach (var events in audit.Histories.Values)
        {
            for (var i = 0; i < events.Count; i++)
            {
                if (events[i].Type != "run_handed_off")
                {
                    continue;
                }

                var resumed = events.Skip(i + 1).FirstOrDefault(e => e.Type == "run_resumed");
                if (resumed is null)
                {
                    neverResumed++;
                }
                else
                {
                    delays.Add((resumed.Ts - events[i].Ts).TotalMilliseconds);
                }
            }
        }

        return delays;
    }
}
