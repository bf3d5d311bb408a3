using Npgsql;

namespace MeshHook.Tests.Process.Rolling;

/// <summary>One event of a run's history (workflow_events), as the audit needs it.</summary>
public sealed record HistoryEvent(int Seq, string Type, string? NodeId);

/// <summary>What the audit of one run found: problems (empty when the history is right) and why steps restarted.</summary>
public sealed record RunAudit(IReadOnlyList<string> Problems, IReadOnlyDictionary<string, int> InterruptionsByNode, int CutOffRestarts, int NotBegunRestarts);

/// <summary>
/// Reads runs' histories from workflow_events and checks them against the engine's promises:
/// <list type="bullet">
/// <item>seq is 1..n without a gap;</item>
/// <item>every node succeeds exactly once, and no node starts again after its success was checkpointed;</item>
/// <item>a node starts again only if, since its previous start, either a <c>run_interrupted</c> names it (it was cut
/// off and runs again with the same Idempotency-Key), or the run was handed off before the step showed any sign of
/// running (no <c>http_attempted</c>, no outcome): the draining silo saved its start but never began it.</item>
/// </list>
/// </summary>
public static class RunHistories
{
    public static async Task<Dictionary<Guid, List<HistoryEvent>>> LoadAsync(string connectionString, Guid[] runIds)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT run_id, seq, type, payload->>'nodeId' FROM workflow_events WHERE run_id = ANY(@ids) ORDER BY run_id, seq", connection);
        command.Parameters.AddWithValue("ids", runIds);
        var histories = runIds.ToDictionary(id => id, _ => new List<HistoryEvent>());
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            histories[reader.GetGuid(0)].Add(new HistoryEvent(reader.GetInt32(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3)));
        }

        return histories;
    }

    public static RunAudit Audit(Guid runId, IReadOnlyList<HistoryEvent> events, IReadOnlyList<string> nodes)
    {
        var problems = new List<string>();
        for (var i = 0; i < events.Count; i++)
        {
            if (events[i].Seq != i + 1)
            {
                problems.Add($"{runId}: seq {events[i].Seq} at position {i + 1} (history must be 1..n without gaps)");
                break;
            }
        }

        var interruptions = new Dictionary<string, int>();
        int cutOff = 0, notBegun = 0;
        foreach (var node in nodes)
        {
            var starts = IndexesOf(events, "step_started", node);
            var successes = IndexesOf(events, "step_succeeded", node);
            interruptions[node] = IndexesOf(events, "run_interrupted", node).Count;
            if (successes.Count != 1)
            {
                problems.Add($"{runId}/{node}: succeeded {successes.Count} times");
            }

            if (successes.Count > 0 && starts.Any(s => s > successes[0]))
            {
                problems.Add($"{runId}/{node}: started again after its success was checkpointed");
            }

            for (var k = 1; k < starts.Count; k++)
            {
                var between = events.Skip(starts[k - 1] + 1).Take(starts[k] - starts[k - 1] - 1).ToList();
                if (between.Any(e => e.Type == "run_interrupted" && e.NodeId == node))
                {
                    cutOff++;
                }
                else if (between.Any(e => e.Type == "run_handed_off")
                    && !between.Any(e => e.NodeId == node && e.Type is "http_attempted" or "step_succeeded" or "step_failed"))
                {
                    notBegun++;
                }
                else
                {
                    problems.Add($"{runId}/{node}: started again at seq {events[starts[k]].Seq} with no run_interrupted naming it since its start at seq {events[starts[k - 1]].Seq}");
                }
            }
        }

        return new RunAudit(problems, interruptions, cutOff, notBegun);
    }

    private static List<int> IndexesOf(IReadOnlyList<HistoryEvent> events, string type, string node) =>
        [.. events.Select((e, i) => (e, i)).Where(x => x.e.Type == type && x.e.NodeId == node).Select(x => x.i)];
}
