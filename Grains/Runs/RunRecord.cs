namespace MeshHook.Grains.Runs;

/// <summary>
/// What Postgres holds about a run that the grain needs to execute it (definition and trigger are immutable).
/// Serializable: it travels with a run that migrates, so the new activation need not read it again.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record RunRecord(
    [property: Id(0)] Guid RunId,
    [property: Id(1)] string Slug,
    [property: Id(2)] int Version,
    [property: Id(3)] string DefinitionJson,
    [property: Id(4)] string TriggerJson,
    [property: Id(5)] RunStatus Status,
    [property: Id(6)] int MaxSeq);

/// <summary>One history entry, numbered per run.</summary>
[GenerateSerializer, Immutable]
public sealed record RunEvent(
    [property: Id(0)] int Seq,
    [property: Id(1)] DateTimeOffset Timestamp,
    [property: Id(2)] string Type,
    [property: Id(3)] string PayloadJson);

/// <summary>The workflow_runs columns a checkpoint sets; <paramref name="Silo"/> is the silo that wrote it, <paramref name="ReminderMissing"/> see <see cref="RunState.ReminderMissing"/>.</summary>
public sealed record RunRowUpdate(RunStatus Status, string? OutputJson, string? Error, string Silo, bool ReminderMissing);

/// <summary>The event types of DESIGN.md.</summary>
public static class RunEventTypes
{
    public const string RunCreated = "run_created";
    public const string StepStarted = "step_started";
    public const string HttpAttempted = "http_attempted";
    public const string StepSucceeded = "step_succeeded";
    public const string StepFailed = "step_failed";
    public const string RunCompleted = "run_completed";
    public const string RunCanceled = "run_canceled";
    public const string RunInterrupted = "run_interrupted";
    public const string RunHandedOff = "run_handed_off";
    public const string RunResumed = "run_resumed";
}
