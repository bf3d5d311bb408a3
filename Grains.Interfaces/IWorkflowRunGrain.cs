namespace MeshHook.Grains;

/// <summary>One workflow run; the grain key is the run id (workflow_runs.id).</summary>
public interface IWorkflowRunGrain : IGrainWithGuidKey
{
    /// <summary>Starts (or resumes) the run. Idempotent: a started or finished run is left as it is.</summary>
    Task StartAsync();

    /// <summary>The run's current state as the API shows it.</summary>
    Task<RunView> GetViewAsync();

    /// <summary>Cancels the run at any point; the step in flight is cancelled through its token.</summary>
    Task<RunView> CancelAsync();
}
