namespace MeshHook.Grains.Runs;

/// <summary>
/// The run grain's checkpoint, stored through Orleans' ADO.NET grain storage. It is the source of truth:
/// workflow_events and workflow_runs are brought up to date from it (see <see cref="Pending"/>).
/// </summary>
[GenerateSerializer]
public sealed class RunState
{
    /// <summary>False until the run has been started once.</summary>
    [Id(0)]
    public bool Initialized { get; set; }

    [Id(1)]
    public RunStatus Status { get; set; }

    /// <summary>The seq the next event gets; every seq below it is taken.</summary>
    [Id(2)]
    public int NextSeq { get; set; }

    [Id(3)]
    public Dictionary<string, StepState> Steps { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Events checkpointed here but maybe not yet in workflow_events. They are written after each state
    /// write and again on activation; the insert is idempotent on (run_id, seq), so nothing is lost or doubled.
    /// </summary>
    [Id(4)]
    public List<RunEvent> Pending { get; set; } = [];

    [Id(5)]
    public string? OutputJson { get; set; }

    [Id(6)]
    public string? Error { get; set; }

    /// <summary>workflow_runs still has to be brought to <see cref="Status"/> (with output and error).</summary>
    [Id(7)]
    public bool RunRowStale { get; set; }

    /// <summary>The step that succeeded last; its output becomes the run's output when the run succeeds.</summary>
    [Id(8)]
    public string? LastSucceededNodeId { get; set; }

    /// <summary>When a drain interrupted or handed off the run; the resume measures recovery time from it.</summary>
    [Id(9)]
    public DateTimeOffset? SuspendedAt { get; set; }

    /// <summary>
    /// The run went on without its reminder (Orleans' reminder service did not take it in time) and it has not been
    /// seen to land since: whichever activation holds the run keeps registering it (see <see cref="RunReminder"/>).
    /// </summary>
    [Id(10)]
    public bool ReminderMissing { get; set; }
}

/// <summary>One step's checkpoint.</summary>
[GenerateSerializer]
public sealed class StepState
{
    [Id(0)]
    public StepStatus Status { get; set; }

    /// <summary>Executions begun (a resumed step counts again); HTTP attempts are in <see cref="HttpAttempts"/>.</summary>
    [Id(1)]
    public int Executions { get; set; }

    [Id(2)]
    public int HttpAttempts { get; set; }

    [Id(3)]
    public DateTimeOffset? FirstStartedAt { get; set; }

    [Id(4)]
    public string? OutputJson { get; set; }

    [Id(5)]
    public string? BranchLabel { get; set; }

    [Id(6)]
    public string? Error { get; set; }
}
