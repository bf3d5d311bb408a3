namespace MeshHook.Tests.Process;

/// <summary>
/// Every test that starts silo processes: they run one after another, so timings measured on a two-core
/// machine are not skewed by another test's silos, and ports and CPU are not fought over.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SiloProcessesCollection
{
    public const string Name = "Silo processes";
}
