namespace MeshHook.Tests.Integration.Runs;

/// <summary>Definitions the run tests publish; URLs point at the test's HTTP sink.</summary>
internal static class Workflows
{
    /// <summary>webhook → transform → http_call → terminate, the shape of the throughput benchmark.</summary>
    public static string Linear(Uri sink, string path = "/linear") => $$$"""
        {
          "nodes": [
            {"id": "hook", "type": "webhook"},
            {"id": "shape", "type": "transform", "data": {"expression": "{order: trigger.body.order, total: trigger.body.amount}"}},
            {"id": "call", "type": "http_call", "data": {"method": "POST", "url": "{{{new Uri(sink, path)}}}", "body": "steps.shape", "headers": {"X-Order": "to_string(steps.shape.order)"} } },
            {"id": "end", "type": "terminate", "data": {"status": "succeeded"}}
          ],
          "edges": [
            {"source": "hook", "target": "shape"},
            {"source": "shape", "target": "call"},
            {"source": "call", "target": "end"}
          ]
        }
        """;

    /// <summary>webhook → branch(amount > 100) → true: big (http_call) / false: small (transform).</summary>
    public static string Branching(Uri sink) => $$$"""
        {
          "nodes": [
            {"id": "hook", "type": "webhook"},
            {"id": "check", "type": "branch", "data": {"condition": "trigger.body.amount > `100`"}},
            {"id": "big", "type": "http_call", "data": {"method": "POST", "url": "{{{new Uri(sink, "/big")}}}", "body": "trigger.body"}},
            {"id": "small", "type": "transform", "data": {"expression": "'small order'"}}
          ],
          "edges": [
            {"source": "hook", "target": "check"},
            {"source": "check", "target": "big", "label": "true"},
            {"source": "check", "target": "small", "label": "false"}
          ]
        }
        """;

    /// <summary>webhook → first (fast http_call) → second (http_call answering after <paramref name="slowMs"/>) → done.</summary>
    public static string TwoCalls(Uri sink, int slowMs) => $$$"""
        {
          "nodes": [
            {"id": "hook", "type": "webhook"},
            {"id": "first", "type": "http_call", "data": {"method": "POST", "url": "{{{new Uri(sink, "/first")}}}", "body": "trigger.body"}},
            {"id": "second", "type": "http_call", "data": {"method": "POST", "url": "{{{new Uri(sink, $"/second?ms={slowMs}")}}}", "body": "trigger.body", "timeoutMs": 60000}},
            {"id": "done", "type": "transform", "data": {"expression": "steps.second.status"}}
          ],
          "edges": [
            {"source": "hook", "target": "first"},
            {"source": "first", "target": "second"},
            {"source": "second", "target": "done"}
          ]
        }
        """;

    /// <summary>webhook → wait (delay) → after (transform).</summary>
    public static string Delayed(int ms) => $$$"""
        {
          "nodes": [
            {"id": "hook", "type": "webhook"},
            {"id": "wait", "type": "delay", "data": {"ms": {{{ms}}}}},
            {"id": "after", "type": "transform", "data": {"expression": "'waited'"}}
          ],
          "edges": [
            {"source": "hook", "target": "wait"},
            {"source": "wait", "target": "after"}
          ]
        }
        """;

    /// <summary>webhook → call (http_call to a path answering <paramref name="status"/>).</summary>
    public static string CallStatus(Uri sink, int status) => $$$"""
        {
          "nodes": [
            {"id": "hook", "type": "webhook"},
            {"id": "call", "type": "http_call", "data": {"method": "GET", "url": "{{{new Uri(sink, $"/status/{status}")}}}", "retry": {"maxAttempts": 2, "baseDelayMs": 10, "maxDelayMs": 20} } }
          ],
          "edges": [
            {"source": "hook", "target": "call"}
          ]
        }
        """;

    /// <summary>
    /// webhook → call (http_call answered 503 <paramref name="failures"/> times, then 200, each answer after
    /// <paramref name="answerAfterMs"/>), retried after up to <paramref name="retryDelayMs"/>.
    /// </summary>
    public static string Flaky(Uri sink, int failures, int answerAfterMs, int retryDelayMs) => $$$"""
        {
          "nodes": [
            {"id": "hook", "type": "webhook"},
            {"id": "call", "type": "http_call", "data": {"method": "POST", "url": "{{{new Uri(sink, $"/fail-first/{failures}?ms={answerAfterMs}")}}}", "retry": {"maxAttempts": 3, "baseDelayMs": {{{retryDelayMs}}}, "maxDelayMs": {{{retryDelayMs}}}} } }
          ],
          "edges": [
            {"source": "hook", "target": "call"}
          ]
        }
        """;

    /// <summary>webhook → stop (terminate with status failed).</summary>
    public const string TerminateFailed = """
        {
          "nodes": [
            {"id": "hook", "type": "webhook"},
            {"id": "stop", "type": "terminate", "data": {"status": "failed"}}
          ],
          "edges": [{"source": "hook", "target": "stop"}]
        }
        """;

    /// <summary>webhook → d1 → … → dN, each a delay of <paramref name="ms"/>: a run that keeps stepping at a steady pace.</summary>
    public static string DelayChain(int steps, int ms)
    {
        var nodes = new List<string> { """{"id": "hook", "type": "webhook"}""" };
        var edges = new List<string>();
        var previous = "hook";
        for (var i = 1; i <= steps; i++)
        {
            nodes.Add($$$"""{"id": "d{{{i}}}", "type": "delay", "data": {"ms": {{{ms}}}} }""");
            edges.Add($$"""{"source": "{{previous}}", "target": "d{{i}}"}""");
            previous = $"d{i}";
        }

        return $$"""{"nodes": [{{string.Join(",", nodes)}}], "edges": [{{string.Join(",", edges)}}]}""";
    }
}
