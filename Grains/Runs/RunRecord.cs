namespace MeshHook.Grains.Runs;

/// <summary>
/// What Postgres holds about a run that the grain needs to execute it (definition and trigger are immutable).
/// Serializable: it travels with a run that migrates, so the new activation need not read it again.
/// <paramref name="TraceParent"/> is the W3C trace context the run was created in (null when tracing was off):
/// see <see cref="RunTracing"/>.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record RunRecord(
    [property: Id(0)] Guid RunId,
    [property: Id(1)] string Slug,
    [property: Id(2)] int Version,
    [property: Id(3)] string DefinitionJson,
    [property: Id(4)] string TriggerJson,
    [property: Id(5)] RunStatus Status,
    [property: Id(6)] int MaxSeq,
    [property: Id(7)] string? TraceParent = null);

/// <summary>One history entry, numbered per run.</summary>
[GenerateSerializer, Immutable]
public sealed record RunEvent(
    [property: Id(0)] int Seq,
    [property: Id(1)] DateTimeOffset Timestamp,
    [property: Id(2)] string Type,
    [property: Id(3)] string PayloadJson);

/// <summary>
/// The workflow_runs columns a checkpoint sets; <paramref name="Silo"/> is the silo that wrote it. With
/// <paramref name="Reminder"/>, the checkpoint also makes sure the run's reminder row exists while the run is
/// unfinished, and deletes it when the run finishes (sql/0105).
/// </summary>
public sealed record RunRowUpdate(RunStatus Status, string? OutputJson, string? Error, string Silo, RunReminderRow? Reminder = null);

/// <summary>
/// A run's row in Orleans' reminder table, as Orleans' ADO.NET reminder table writes it: the service id, the grain id's
/// text, the reminder's name, the grain id's uniform hash as a signed int, and the period in milliseconds.
/// </summary>
public sealed record RunReminderRow(string ServiceId, string GrainId, string Name, int GrainHash, long PeriodMs)
{
    /// <summary>The reminder row of the run grain <paramref name="grainId"/>.</summary>
    public static RunReminderRow For(string serviceId, GrainId grainId, string name, TimeSpan period) =>
        new(serviceId, grainId.ToString(), name, unchecked((int)grainId.GetUniformHashCode()), (long)period.TotalMilliseconds);
}

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
