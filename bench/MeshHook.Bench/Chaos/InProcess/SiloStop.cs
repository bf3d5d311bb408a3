using MeshHook.Grains.Draining;
using MeshHook.Silo.Shutdown;

namespace MeshHook.Bench.Chaos.InProcess;

/// <summary>One silo stop of the in-process soak: what was asked, what the silo's shutdown coordinator reported, and the verdict.</summary>
public sealed class SiloStop
{
    public required int Index { get; init; }

    public required string SiloName { get; init; }

    public required string SiloAddress { get; init; }

    /// <summary>Stopped together with another silo.</summary>
    public required bool TwoAtOnce { get; init; }

    /// <summary>ShutdownCoordinator.Force() was called during the stop (the second-signal path), before its report was written.</summary>
    public required bool Forced { get; init; }

    /// <summary>Steps executing and delays waiting on the silo when the stop began (its SiloDrain's count).</summary>
    public required int StepsInFlight { get; init; }

    /// <summary>Unfinished runs whose row named the silo when the stop began.</summary>
    public required IReadOnlyList<Guid> RunsAtStop { get; init; }

    /// <summary>From the stop call to the host having stopped (everything the SIGTERM path does before the process exits).</summary>
    public required TimeSpan Duration { get; init; }

    public required bool WithinGrace { get; init; }

    /// <summary>What ShutdownCoordinator.Report gave, or null when it never completed.</summary>
    public required ShutdownReport? Report { get; init; }

    /// <summary>The coordinator logged that the stop was forced: Force() was called, by the soak or by anything else.</summary>
    public required bool ForceLogged { get; init; }

    /// <summary>The cause the coordinator logged when intake closed; "stop requested" is the host's ApplicationStopping.</summary>
    public required string? IntakeCause { get; init; }

    /// <summary>The stop call failed (its exception), or null.</summary>
    public required string? Error { get; init; }

    /// <summary>The report says forced, but only because steps outlasted the drain limit: no second signal, see <see cref="InProcessSoak"/>.</summary>
    public bool CutOffAtDrainLimit { get; set; }

    /// <summary>Why the stop does not count as graceful; empty when it does.</summary>
    public List<string> Problems { get; } = [];

    public bool Graceful => !Forced && Problems.Count == 0;
}
