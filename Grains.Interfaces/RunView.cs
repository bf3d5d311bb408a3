namespace MeshHook.Grains;

/// <summary>What the API shows of a run: status, one entry per step, output or error.</summary>
[GenerateSerializer, Immutable]
public sealed record RunView(
    [property: Id(0)] Guid RunId,
    [property: Id(1)] string Slug,
    [property: Id(2)] int Version,
    [property: Id(3)] RunStatus Status,
    [property: Id(4)] IReadOnlyList<StepView> Steps,
    [property: Id(5)] string? OutputJson,
    [property: Id(6)] string? Error);

/// <summary>One step of a run as the API shows it.</summary>
[GenerateSerializer, Immutable]
public sealed record StepView(
    [property: Id(0)] string NodeId,
    [property: Id(1)] StepStatus Status,
    [property: Id(2)] int Attempts);
