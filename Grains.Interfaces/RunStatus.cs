namespace MeshHook.Grains;

/// <summary>The status of a run, as stored in workflow_runs.status (lower case).</summary>
[GenerateSerializer]
public enum RunStatus
{
    Queued = 0,
    Running = 1,
    Succeeded = 2,
    Failed = 3,
    Paused = 4,
    Canceled = 5,
}

/// <summary>The status of one step of a run.</summary>
[GenerateSerializer]
public enum StepStatus
{
    Pending = 0,
    Running = 1,
    Succeeded = 2,
    Failed = 3,
    Skipped = 4,
    Canceled = 5,
}

/// <summary>Conversions between the status enums and their stored text.</summary>
public static class StatusText
{
    public static string ToText(this RunStatus status) => status switch
    {
        RunStatus.Queued => "queued",
        RunStatus.Running => "running",
        RunStatus.Succeeded => "succeeded",
        RunStatus.Failed => "failed",
        RunStatus.Paused => "paused",
        RunStatus.Canceled => "canceled",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
    };

    public static string ToText(this StepStatus status) => status switch
    {
        StepStatus.Pending => "pending",
        StepStatus.Running => "running",
        StepStatus.Succeeded => "succeeded",
        StepStatus.Failed => "failed",
        StepStatus.Skipped => "skipped",
        StepStatus.Canceled => "canceled",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
    };

    public static bool IsFinished(this RunStatus status) =>
        status is RunStatus.Succeeded or RunStatus.Failed or RunStatus.Canceled;
}
