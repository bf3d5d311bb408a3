namespace MeshHook.Grains.Runs;

/// <summary>
/// What a run grain holds of its run. Stored by <see cref="RunStorage"/>: what it writes is <see cref="Pending"/> and
/// the row's fields, and what it reads is rebuilt from workflow_runs and workflow_events (<see cref="RunJournal"/>).
/// The rest is derived, and travels as it is when the run migrates to another silo.
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

    /// <summary>Events added since the last checkpoint; the next one appends them to workflow_events.</summary>
    [Id(4)]
    public List<RunEvent> Pending { get; set; } = [];

    [Id(5)]
    public string? OutputJson { get; set; }

    [Id(6)]
    public string? Error { get; set; }

    /// <summary>The step that succeeded last; its output becomes the run's output when the run succeeds.</summary>
    [Id(8)]
    public string? LastSucceededNodeId { get; set; }

    /// <summary>When a drain interrupted or handed off the run; the resume measures recovery time from it.</summary>
    [Id(9)]
    public DateTimeOffset? SuspendedAt { get; set; }

    // [Id(10)] was ReminderMissing: reminders are written by the checkpoints now (sql/0105). Not to be reused.

    /// <summary>The run's definition and trigger, read with its history (null when no such run exists).</summary>
    [Id(11)]
    public RunRecord? Record { get; set; }
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
