using System.Text.Json;
using AwesomeAssertions;
using MeshHook.Tests.Integration.Infrastructure;

namespace MeshHook.Tests.Process.Infrastructure;

/// <summary>What every process-level case checks about its runs: none lost or stuck, none repeating checkpointed work, history consistent.</summary>
public static class RunChecks
{
    private static readonly string[] Finished = ["succeeded", "failed", "canceled"];

    /// <summary>Polls workflow_runs until every run is finished, then requires each one to have succeeded.</summary>
    public static async Task AllSucceedAsync(ProcessCluster cluster, IReadOnlyCollection<Guid> runIds, TimeSpan timeout, string phase)
    {
        Dictionary<Guid, string> statuses = [];
        try
        {
            await Poll.UntilAsync(
                async () =>
                {
                    statuses = await cluster.Database.StatusesAsync(runIds);
                    return statuses.Count == runIds.Count && statuses.Values.All(s => Finished.Contains(s));
                },
                phase,
                timeout);
        }
        catch (TimeoutException e)
        {
            var unfinished = runIds.Where(id => !statuses.TryGetValue(id, out var s) || !Finished.Contains(s)).Select(id => $"{id}={statuses.GetValueOrDefault(id, "missing")}");
            throw new TimeoutException($"{e.Message}; runs lost or stuck: {string.Join(", ", unfinished)}", e);
        }

        statuses.Values.Should().AllBe("succeeded", "every run finishes successfully");
    }

    /// <summary>
    /// Checks one finished run's workflow_events against what the HTTP peer saw: seq is 1..N with no gap or duplicate,
    /// run_created first and run_completed last, no step succeeded twice, every hand-off is followed at once by a resume,
    /// and each http_call node reached the peer exactly as often as its history says it started (same Idempotency-Key every time).
    /// </summary>
    public static async Task<IReadOnlyList<StoredEvent>> HistoryIsConsistentAsync(ProcessCluster cluster, Guid runId, params string[] httpNodes)
    {
        var events = await cluster.Database.EventsAsync(runId);
        var because = $"run {runId} history: {string.Join(", ", events.Select(e => $"{e.Seq}:{e.Type}"))}";
        events.Should().NotBeEmpty(because);
        events.Select(e => e.Seq).Should().Equal(Enumerable.Range(1, events.Count), "seq has no gaps or duplicates; " + because);
        events[0].Type.Should().Be("run_created", because);
        events[^1].Type.Should().Be("run_completed", because);
        events.Where(e => e.Type == "step_succeeded").Select(NodeOf).Should().OnlyHaveUniqueItems("a checkpointed step never runs again; " + because);
        for (var i = 0; i < events.Count; i++)
        {
            if (events[i].Type == "run_handed_off")
            {
                events.Should().HaveCountGreaterThan(i + 1, because);
                events[i + 1].Type.Should().Be("run_resumed", "a handed-off run is resumed before anything else happens to it; " + because);
            }
        }

        foreach (var node in httpNodes)
        {
            var started = events.Count(e => e.Type == "step_started" && NodeOf(e) == node);
            started.Should().BeGreaterThan(0, $"node {node} ran; {because}");
            cluster.Sink.CountFor($"mh-{runId}-{node}").Should().Be(
                started, $"the peer sees node {node} once per execution in the history, always with the same Idempotency-Key; {because}");
        }

        return events;
    }

    public static string NodeOf(StoredEvent e)
    {
        using var payload = JsonDocument.Parse(e.PayloadJson);
        return payload.RootElement.TryGetProperty("nodeId", out var node) ? node.GetString() ?? "" : "";
    }

    public static int CountOf(this IReadOnlyList<StoredEvent> events, string type) => events.Count(e => e.Type == type);
}
