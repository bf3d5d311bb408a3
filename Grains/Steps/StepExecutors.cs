using System.Collections.Frozen;

namespace MeshHook.Grains.Steps;

/// <summary>Finds the executor of a node type among the registered <see cref="IStepExecutor"/>s.</summary>
public sealed class StepExecutors
{
    private readonly FrozenDictionary<string, IStepExecutor> _byType;

    public StepExecutors(IEnumerable<IStepExecutor> executors)
    {
        ArgumentNullException.ThrowIfNull(executors);
        var byType = new Dictionary<string, IStepExecutor>(StringComparer.Ordinal);
        foreach (var executor in executors)
        {
            if (!byType.TryAdd(executor.NodeType, executor))
            {
                throw new InvalidOperationException(
                    $"two step executors handle node type '{executor.NodeType}': "
                    + $"{byType[executor.NodeType].GetType().Name} and {executor.GetType().Name}");
            }
        }

        _byType = byType.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>The node types that have an executor.</summary>
    public IEnumerable<string> NodeTypes => _byType.Keys;

    /// <summary>The executor of <paramref name="nodeType"/>; throws <see cref="KeyNotFoundException"/> if none is registered.</summary>
    public IStepExecutor For(string nodeType)
    {
        ArgumentNullException.ThrowIfNull(nodeType);
        return _byType.TryGetValue(nodeType, out var executor)
            ? executor
            : throw new KeyNotFoundException(
                $"no step executor for node type '{nodeType}' (known: {string.Join(", ", _byType.Keys.Order(StringComparer.Ordinal))})");
    }

    /// <summary>Looks up the executor of <paramref name="nodeType"/> without throwing.</summary>
    public bool TryFor(string nodeType, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IStepExecutor? executor) =>
        _byType.TryGetValue(nodeType, out executor);
}
