using System.Collections.Concurrent;
using MeshHook.Grains.Definitions;

namespace MeshHook.Grains.Runs;

/// <summary>Parsed workflows by (slug, version). Published versions are immutable, so an entry never goes stale.</summary>
public sealed class WorkflowCache
{
    private readonly ConcurrentDictionary<(string Slug, int Version), Workflow> _workflows = new();

    /// <summary>The parsed workflow of a run; throws when the stored definition does not validate.</summary>
    public Workflow Get(RunRecord record)
    {
        if (_workflows.TryGetValue((record.Slug, record.Version), out var cached))
        {
            return cached;
        }

        var result = DefinitionValidator.Validate(record.DefinitionJson);
        if (result.Workflow is null)
        {
            throw new InvalidOperationException(
                $"stored definition of workflow '{record.Slug}' version {record.Version} is invalid: {string.Join("; ", result.Problems)}");
        }

        return _workflows.GetOrAdd((record.Slug, record.Version), result.Workflow);
    }
}
