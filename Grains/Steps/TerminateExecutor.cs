using MeshHook.Grains.Definitions;

namespace MeshHook.Grains.Steps;

/// <summary>Runs terminate nodes: ends the run with the node's status.</summary>
public sealed class TerminateExecutor : IStepExecutor
{
    public string NodeType => TerminateNode.TypeName;

    public Task<StepOutcome> ExecuteAsync(StepInvocation invocation, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(invocation);
        cancellationToken.ThrowIfCancellationRequested();
        var node = invocation.NodeAs<TerminateNode>();
        return Task.FromResult<StepOutcome>(new StepOutcome.Terminated(node.Status));
    }
}
