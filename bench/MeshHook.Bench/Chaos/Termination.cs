namespace MeshHook.Bench.Chaos;

/// <summary>What the soak did to a process.</summary>
public enum TerminationKind
{
    /// <summary>SIGTERM to a ready silo (alone, with another, or with all of them).</summary>
    Sigterm,

    /// <summary>SIGTERM to a silo that was still starting (not yet ready).</summary>
    SigtermStarting,

    /// <summary>A second SIGTERM during the drain: a forced stop, counted on its own.</summary>
    Forced,

    /// <summary>SIGKILL: a crash.</summary>
    Sigkill,

    /// <summary>SIGTERM to the gateway, started again on the same address.</summary>
    Gateway,

    /// <summary><c>pg_ctl restart -m fast</c>.</summary>
    PostgresRestart,
}

/// <summary>One termination and what came of it.</summary>
public sealed class Termination
{
    public required int Id { get; init; }

    public required TerminationKind Kind { get; init; }

    /// <summary>The process's name (silo slot and generation, <c>gateway</c>, or <c>postgres</c>).</summary>
    public required string Target { get; init; }

    /// <summary>How many silos got the signal at the same moment (1, 2, or all).</summary>
    public int Together { get; init; } = 1;

    /// <summary>The silo's Orleans port: its address in meshhook_shutdowns and workflow_runs.silo is S127.0.0.1:{port}:{generation}.</summary>
    public int? SiloPort { get; init; }

    public required DateTime SignalledAt { get; init; }

    public DateTime? ExitedAt { get; set; }

    public int? ExitCode { get; set; }

    /// <summary>Still running after the grace period (then it got SIGKILL, as Kubernetes would send).</summary>
    public bool OverGrace { get; set; }

    /// <summary>Postgres was stopped while this silo drained.</summary>
    public bool PostgresDown { get; set; }

    /// <summary>Unfinished runs that workflow_runs placed on the silo right before a SIGKILL (for crash recovery).</summary>
    public IReadOnlyList<Guid> RunsHeld { get; set; } = [];

    /// <summary>The silo's own last report line, "Shutdown report: ...", if it logged one.</summary>
    public string? ReportLine { get; set; }

    /// <summary>The silo logged that the stop came while it was starting (before it joined the cluster).</summary>
    public bool StoppedWhileStarting { get; set; }

    /// <summary>Filled in by the report: the verdict and, when not graceful, why.</summary>
    public string? NotGracefulBecause { get; set; }

    public bool IsSiloSigterm => Kind is TerminationKind.Sigterm or TerminationKind.SigtermStarting;
}
