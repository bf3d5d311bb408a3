namespace MeshHook.Grains;

/// <summary>No run with this id exists in workflow_runs.</summary>
[GenerateSerializer]
public sealed class RunNotFoundException : Exception
{
    public RunNotFoundException(Guid runId)
        : base($"no run with id {runId}")
    {
        RunId = runId;
    }

    [Id(0)]
    public Guid RunId { get; init; }
}
