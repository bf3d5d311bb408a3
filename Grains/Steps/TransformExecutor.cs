using MeshHook.Grains.Definitions;

namespace MeshHook.Grains.Steps;

/// <summary>Runs transform nodes: the output is the node's JMESPath expression evaluated over the run context.</summary>
public sealed class TransformExecutor(Microsoft.Extensions.Options.IOptions<ExpressionOptions>? options = null) : IStepExecutor
{
    private readonly ExpressionLimits _limits = options?.Value.Limits ?? ExpressionLimits.Default;

    public string NodeType => TransformNode.TypeName;

    public Task<StepOutcome> ExecuteAsync(StepInvocation invocation, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(invocation);
        cancellationToken.ThrowIfCancellationRequested();
        var node = invocation.NodeAs<TransformNode>();

        StepOutcome outcome;
        try
        {
            outcome = new StepOutcome.Succeeded(node.Expression.Evaluate(invocation.Context, _limits).Detached());
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            outcome = new StepOutcome.Failed($"expression '{node.Expression.Text}' failed: {e.Message}");
        }

        return Task.FromResult(outcome);
    }
}
