using MeshHook.Grains.Definitions;
using Newtonsoft.Json.Linq;

namespace MeshHook.Grains.Steps;

/// <summary>Runs the trigger node: its output is the body of the webhook that started the run (JSON null when there is none).</summary>
public sealed class WebhookExecutor : IStepExecutor
{
    public string NodeType => WebhookNode.TypeName;

    public Task<StepOutcome> ExecuteAsync(StepInvocation invocation, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(invocation);
        cancellationToken.ThrowIfCancellationRequested();
        _ = invocation.NodeAs<WebhookNode>();

        var body = (invocation.Context["trigger"] as JObject)?["body"];
        var output = body is null ? JValue.CreateNull() : body.Detached();
        return Task.FromResult<StepOutcome>(new StepOutcome.Succeeded(output));
    }
}
