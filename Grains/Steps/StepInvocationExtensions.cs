using MeshHook.Grains.Definitions;
using Newtonsoft.Json.Linq;

namespace MeshHook.Grains.Steps;

/// <summary>Small helpers shared by the executors.</summary>
internal static class StepInvocationExtensions
{
    /// <summary>The invocation's node as <typeparamref name="TNode"/>; a mismatch is a wiring bug, not a step failure.</summary>
    public static TNode NodeAs<TNode>(this StepInvocation invocation)
        where TNode : WorkflowNode =>
        invocation.Node as TNode
        ?? throw new ArgumentException(
            $"node '{invocation.Node.Id}' has type '{invocation.Node.Type}', which the {typeof(TNode).Name} executor does not handle",
            nameof(invocation));

    /// <summary>
    /// A token safe to hand out as a step's output: JMESPath results can be nodes of the context itself,
    /// and the context must stay untouched whatever the caller does with the output.
    /// </summary>
    public static JToken Detached(this JToken token) => token.Parent is null ? token : token.DeepClone();
}
