namespace MeshHook.Grains.Definitions;

/// <summary>One thing wrong with a definition; <see cref="NodeId"/> names the node it concerns, if any.</summary>
public sealed record DefinitionProblem(string? NodeId, string Message)
{
    public override string ToString() => NodeId is null ? Message : $"node '{NodeId}': {Message}";
}

/// <summary>The outcome of validation: a workflow, or every problem found (never both).</summary>
public sealed record DefinitionResult(Workflow? Workflow, IReadOnlyList<DefinitionProblem> Problems)
{
    public bool IsValid => Workflow is not null;
}
