namespace MeshHook.Bench.Chaos.InProcess;

/// <summary>
/// The in-process soak's mix: the same shapes as <see cref="ChaosWorkflows"/> (every node type, fast and slow steps,
/// peers that fail or hang first, durable delays, a 5 s step that drains wait for) with shorter waits and fewer long
/// runs. With <see cref="ChaosWorkflows"/>' mix a 6 s step sits on almost every silo, so almost every stop waits out the
/// whole drain limit; here a stop waits for the limit only when it holds one of the rarer long steps, so thousands of
/// stops fit in an hour while each still has steps executing and delays waiting.
/// </summary>
public static class InProcessWorkflows
{
    /// <summary>webhook → transform → http_call (fast) → branch → terminate (succeeded, or failed on the other edge).</summary>
    public static readonly ChaosWorkflow Chain = new(
        "inproc-chain",
        43,
        new Dictionary<string, string> { ["call"] = "/fast" },
        ["hook", "prep", "call", "check", "ok", "bad"],
        Cancelable: false,
        """
            {
              "nodes": [
                {"id": "hook", "type": "webhook"},
                {"id": "prep", "type": "transform", "data": {"expression": "{n: trigger.body.n}"}},
                {"id": "call", "type": "http_call", "data": {"method": "POST", "url": "PEER/fast", "body": "steps.prep", "timeoutMs": 10000, "retry": {"maxAttempts": 3, "baseDelayMs": 100, "maxDelayMs": 500}}},
                {"id": "check", "type": "branch", "data": {"condition": "steps.call.status == `200`"}},
                {"id": "ok", "type": "terminate", "data": {"status": "succeeded"}},
                {"id": "bad", "type": "terminate", "data": {"status": "failed"}}
              ],
              "edges": [
                {"source": "hook", "target": "prep"},
                {"source": "prep", "target": "call"},
                {"source": "call", "target": "check"},
                {"source": "check", "target": "ok", "label": "true"},
                {"source": "check", "target": "bad", "label": "false"}
              ]
            }
            """);

    /// <summary>webhook → delay 1.5 s (durable, often spans a stop) → http_call answering after 0.5 s → transform.</summary>
    public static readonly ChaosWorkflow Slow = new(
        "inproc-slow",
        27,
        new Dictionary<string, string> { ["slow"] = "/slow" },
        ["hook", "wait", "slow", "out"],
        Cancelable: true,
        """
            {
              "nodes": [
                {"id": "hook", "type": "webhook"},
                {"id": "wait", "type": "delay", "data": {"ms": 1500}},
                {"id": "slow", "type": "http_call", "data": {"method": "POST", "url": "PEER/slow?ms=500", "body": "trigger.body", "timeoutMs": 10000, "retry": {"maxAttempts": 2, "baseDelayMs": 100, "maxDelayMs": 300}}},
                {"id": "out", "type": "transform", "data": {"expression": "steps.slow.status"}}
              ],
              "edges": [
                {"source": "hook", "target": "wait"},
                {"source": "wait", "target": "slow"},
                {"source": "slow", "target": "out"}
              ]
            }
            """);

    /// <summary>webhook → http_call failing twice with 503 → http_call whose first attempt times out after 0.5 s → transform.</summary>
    public static readonly ChaosWorkflow Flaky = new(
        "inproc-flaky",
        28,
        new Dictionary<string, string> { ["flaky"] = "/flaky", ["hang"] = "/hang-once" },
        ["hook", "flaky", "hang", "out"],
        Cancelable: false,
        """
            {
              "nodes": [
                {"id": "hook", "type": "webhook"},
                {"id": "flaky", "type": "http_call", "data": {"method": "POST", "url": "PEER/flaky?fails=2", "body": "trigger.body", "timeoutMs": 10000, "retry": {"maxAttempts": 5, "baseDelayMs": 50, "maxDelayMs": 200}}},
                {"id": "hang", "type": "http_call", "data": {"method": "POST", "url": "PEER/hang-once", "body": "trigger.body", "timeoutMs": 500, "retry": {"maxAttempts": 3, "baseDelayMs": 50, "maxDelayMs": 100}}},
                {"id": "out", "type": "transform", "data": {"expression": "{flaky: steps.flaky.status, hang: steps.hang.status}"}}
              ],
              "edges": [
                {"source": "hook", "target": "flaky"},
                {"source": "flaky", "target": "hang"},
                {"source": "hang", "target": "out"}
              ]
            }
            """);

    /// <summary>
    /// webhook → http_call answering after 5 s (within <see cref="ChaosWorkflows.DrainTimeout"/>: a drain waits for it; a
    /// forced stop cuts it off) → delay 0.5 s → transform.
    /// </summary>
    public static readonly ChaosWorkflow Long = new(
        "inproc-long",
        2,
        new Dictionary<string, string> { ["long"] = "/slow" },
        ["hook", "long", "pause", "out"],
        Cancelable: true,
        """
            {
              "nodes": [
                {"id": "hook", "type": "webhook"},
                {"id": "long", "type": "http_call", "data": {"method": "POST", "url": "PEER/slow?ms=5000", "body": "trigger.body", "timeoutMs": 30000, "retry": {"maxAttempts": 1}}},
                {"id": "pause", "type": "delay", "data": {"ms": 500}},
                {"id": "out", "type": "transform", "data": {"expression": "steps.long.status"}}
              ],
              "edges": [
                {"source": "hook", "target": "long"},
                {"source": "long", "target": "pause"},
                {"source": "pause", "target": "out"}
              ]
            }
            """);

    public static readonly IReadOnlyList<ChaosWorkflow> All = [Chain, Slow, Flaky, Long];
}
