using MeshHook.Grains.Definitions;
using Newtonsoft.Json.Linq;

namespace MeshHook.Grains.Steps;

/// <summary>Runs branch nodes: evaluates the condition and picks the edge labelled "true" or "false" by JMESPath truthiness.</summary>
public sealed class BranchExecutor(Microsoft.Extensions.Options.IOptions<ExpressionOptions>? options = null) : IStepExecutor
{
    private readonly ExpressionLimits _limits = options?.Value.Limits ?? ExpressionLimits.Default;

    public string NodeType => BranchNode.TypeName;

    public Task<StepOutcome> ExecuteAsync(StepInvocation invocation, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(invocation);
        cancellationToken.ThrowIfCancellationRequested();
        var node = invocation.NodeAs<BranchNode>();

        StepOutcome outcome;
        try
        {
            var taken = JmesExpression.IsTruthy(node.Condition.Evaluate(invocation.Context, _limits));
            outcome = new StepOutcome.Succeeded(new JValue(taken), taken ? BranchNode.TrueLabel : BranchNode.FalseLabel);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            outcome = new StepOutcome.Failed($"condition '{node.Condition.Text}' failed: {e.Message}");
        }

        return Task.FromResult(outcome);
    }
}
