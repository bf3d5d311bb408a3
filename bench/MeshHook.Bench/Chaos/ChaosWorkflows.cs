namespace MeshHook.Bench.Chaos;

/// <summary>One workflow of the soak's mix.</summary>
/// <param name="Slug">Published under this slug.</param>
/// <param name="Weight">Its share of the webhooks (the weights add up to 100).</param>
/// <param name="HttpPaths">Each http_call node's id and the peer path it calls, so the audit can tie a request to its step.</param>
/// <param name="Nodes">Every node id, in definition order.</param>
/// <param name="Cancelable">Long enough that a cancel usually lands while it runs.</param>
/// <param name="Template">The definition, with <c>PEER</c> where the peer's address goes.</param>
public sealed record ChaosWorkflow(string Slug, int Weight, IReadOnlyDictionary<string, string> HttpPaths, IReadOnlyList<string> Nodes, bool Cancelable, string Template)
{
    /// <summary>The definition calling the peer at <paramref name="peer"/>.</summary>
    public string Definition(Uri peer) => Template.Replace("PEER/", peer.ToString(), StringComparison.Ordinal);
}

/// <summary>
/// The soak's mix: every node type, fast and slow steps, peers that fail or hang before they answer, durable delays
/// long enough to span a stop, and a 6 s step that most drains wait for.
/// </summary>
public static class ChaosWorkflows
{
    /// <summary>
    /// The drain limit the soak gives its silos: the product's default. Every step of the mix fits in it, as an operator
    /// sizes it above the longest step: a step still running at the limit is cut off and the stop reports itself forced,
    /// which is not a graceful stop (see docs/graceful-shutdown.md). Cut-offs still happen: on a forced stop, and when
    /// Postgres is down during a drain.
    /// </summary>
    public static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(25);

    /// <summary>webhook → transform → http_call (fast) → branch → terminate (succeeded, or failed on the other edge).</summary>
    public static readonly ChaosWorkflow Chain = new(
        "chaos-chain",
        40,
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

    /// <summary>webhook → delay 4 s (durable, often spans a stop) → http_call answering after 1.5 s → transform.</summary>
    public static readonly ChaosWorkflow Slow = new(
        "chaos-slow",
        25,
        new Dictionary<string, string> { ["slow"] = "/slow" },
        ["hook", "wait", "slow", "out"],
        Cancelable: true,
        """
            {
              "nodes": [
                {"id": "hook", "type": "webhook"},
                {"id": "wait", "type": "delay", "data": {"ms": 4000}},
                {"id": "slow", "type": "http_call", "data": {"method": "POST", "url": "PEER/slow?ms=1500", "body": "trigger.body", "timeoutMs": 20000, "retry": {"maxAttempts": 2, "baseDelayMs": 200, "maxDelayMs": 500}}},
                {"id": "out", "type": "transform", "data": {"expression": "steps.slow.status"}}
              ],
              "edges": [
                {"source": "hook", "target": "wait"},
                {"source": "wait", "target": "slow"},
                {"source": "slow", "target": "out"}
              ]
            }
            """);

    /// <summary>webhook → http_call failing twice with 503 → http_call whose first attempt times out → transform.</summary>
    public static readonly ChaosWorkflow Flaky = new(
        "chaos-flaky",
        20,
        new Dictionary<string, string> { ["flaky"] = "/flaky", ["hang"] = "/hang-once" },
        ["hook", "flaky", "hang", "out"],
        Cancelable: false,
        """
            {
              "nodes": [
                {"id": "hook", "type": "webhook"},
                {"id": "flaky", "type": "http_call", "data": {"method": "POST", "url": "PEER/flaky?fails=2", "body": "trigger.body", "timeoutMs": 10000, "retry": {"maxAttempts": 5, "baseDelayMs": 100, "maxDelayMs": 400}}},
                {"id": "hang", "type": "http_call", "data": {"method": "POST", "url": "PEER/hang-once", "body": "trigger.body", "timeoutMs": 1000, "retry": {"maxAttempts": 3, "baseDelayMs": 100, "maxDelayMs": 300}}},
                {"id": "out", "type": "transform", "data": {"expression": "{flaky: steps.flaky.status, hang: steps.hang.status}"}}
              ],
              "edges": [
                {"source": "hook", "target": "flaky"},
                {"source": "flaky", "target": "hang"},
                {"source": "hang", "target": "out"}
              ]
            }
            """);

    /// <summary>webhook → http_call answering after 6 s (a drain waits for it) → delay 2 s → transform.</summary>
    public static readonly ChaosWorkflow Long = new(
        "chaos-long",
        15,
        new Dictionary<string, string> { ["long"] = "/slow" },
        ["hook", "long", "pause", "out"],
        Cancelable: true,
        """
            {
              "nodes": [
                {"id": "hook", "type": "webhook"},
                {"id": "long", "type": "http_call", "data": {"method": "POST", "url": "PEER/slow?ms=6000", "body": "trigger.body", "timeoutMs": 30000, "retry": {"maxAttempts": 1}}},
                {"id": "pause", "type": "delay", "data": {"ms": 2000}},
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

    public static ChaosWorkflow BySlug(string slug) => All.First(w => w.Slug == slug);

    /// <summary>A workflow drawn by weight.</summary>
    public static ChaosWorkflow Pick(Random random)
    {
        var roll = random.Next(All.Sum(w => w.Weight));
        foreach (var workflow in All)
        {
            if (roll < workflow.Weight)
            {
                return workflow;
            }

            roll -= workflow.Weight;
        }

        return All[^1];
    }
}
