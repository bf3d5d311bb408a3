namespace MeshHook.Demo;

/// <summary>The example workflow ./run.sh publishes: shape the order, wait a moment, route big orders to an HTTP peer.</summary>
public static class ExampleWorkflow
{
    public static string Definition(Uri notifyUrl) => $$$"""
        {
          "nodes": [
            {"id": "hook", "type": "webhook"},
            {"id": "shape", "type": "transform", "data": {"expression": "{order: trigger.body.order, customer: trigger.body.customer, total: trigger.body.amount}"}},
            {"id": "settle", "type": "delay", "data": {"ms": 500}},
            {"id": "big", "type": "branch", "data": {"condition": "steps.shape.total > `100`"}},
            {"id": "notify", "type": "http_call", "data": {"method": "POST", "url": "{{{notifyUrl}}}", "body": "steps.shape", "retry": {"maxAttempts": 5, "baseDelayMs": 200, "maxDelayMs": 5000} } },
            {"id": "note", "type": "transform", "data": {"expression": "join(' ', ['small order', to_string(steps.shape.order)])"}},
            {"id": "done", "type": "terminate", "data": {"status": "succeeded"}}
          ],
          "edges": [
            {"source": "hook", "target": "shape"},
            {"source": "shape", "target": "settle"},
            {"source": "settle", "target": "big"},
            {"source": "big", "target": "notify", "label": "true"},
            {"source": "big", "target": "note", "label": "false"},
            {"source": "notify", "target": "done"},
            {"source": "note", "target": "done"}
          ]
        }
        """;
}
