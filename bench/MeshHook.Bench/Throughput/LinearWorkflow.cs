namespace MeshHook.Bench.Throughput;

/// <summary>The benchmarked workflow: webhook → transform → http_call (the local sink) → terminate.</summary>
public static class LinearWorkflow
{
    /// <summary>Nodes a run executes; every one is a step (the webhook and terminate included).</summary>
    public const int Steps = 4;

    public static string Definition(Uri sink) => $$$"""
        {
          "nodes": [
            {"id": "hook", "type": "webhook"},
            {"id": "shape", "type": "transform", "data": {"expression": "{order: trigger.body.order, total: trigger.body.amount}"}},
            {"id": "call", "type": "http_call", "data": {"method": "POST", "url": "{{{new Uri(sink, "/linear")}}}", "body": "steps.shape", "headers": {"X-Order": "to_string(steps.shape.order)"} } },
            {"id": "end", "type": "terminate", "data": {"status": "succeeded"}}
          ],
          "edges": [
            {"source": "hook", "target": "shape"},
            {"source": "shape", "target": "call"},
            {"source": "call", "target": "end"}
          ]
        }
        """;

    /// <summary>The trigger as intake stores it (headers and body of the webhook request).</summary>
    public static string Trigger(long order) => $$$"""{"headers":{"content-type":"application/json"},"body":{"order":{{{order}}},"amount":42}}""";
}
