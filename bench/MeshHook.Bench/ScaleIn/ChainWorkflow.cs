using System.Text;

namespace MeshHook.Bench.ScaleIn;

/// <summary>
/// The scale-in workflow: webhook → c1 → c2 → … → cN (http_call to the delaying sink) → terminate. Loop-free; every
/// http_call is one step the sink holds for a while, so runs stay busy for the whole measurement. When the benchmark is
/// done measuring, the sink answers 410 and each run ends (failed) at its next step.
/// </summary>
public static class ChainWorkflow
{
    public const string Slug = "bench-scalein";

    public static string Definition(Uri sink, int calls)
    {
        var url = new Uri(sink, "/step");
        var nodes = new StringBuilder("""{"id": "hook", "type": "webhook"}""");
        var edges = new StringBuilder();
        var previous = "hook";
        for (var i = 1; i <= calls; i++)
        {
            // One attempt: a retry would blur "one request per step"; the sink never fails during the measurement.
            nodes.Append(", {\"id\": \"c").Append(i).Append("\", \"type\": \"http_call\", \"data\": {\"method\": \"POST\", \"url\": \"").Append(url)
                .Append("\", \"body\": \"trigger.body\", \"timeoutMs\": 60000, \"retry\": {\"maxAttempts\": 1}}}");
            edges.Append(edges.Length == 0 ? "" : ", ").Append($$"""{"source": "{{previous}}", "target": "c{{i}}"}""");
            previous = $"c{i}";
        }

        nodes.Append(""", {"id": "end", "type": "terminate", "data": {"status": "succeeded"}}""");
        edges.Append($$""", {"source": "{{previous}}", "target": "end"}""");
        return "{\"nodes\": [" + nodes + "], \"edges\": [" + edges + "]}";
    }

    public static string Trigger(int index) => $$$"""{"headers":{"content-type":"application/json"},"body":{"run":{{{index}}} } }""";
}
