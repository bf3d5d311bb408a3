using Npgsql;

namespace MeshHook.Bench.Chaos;

/// <summary>One event of a run's history, as the audit reads it from workflow_events.</summary>
/// <param name="Seq">Its place in the run's history.</param>
/// <param name="Ts">When the engine recorded it (UTC).</param>
/// <param name="Type">The event type.</param>
/// <param name="NodeId">The step it is about, if any.</param>
/// <param name="Silo">The silo named in its payload (hand-off, resume, interruption).</param>
/// <param name="Status">For run_completed: the run's final status.</param>
/// <param name="To">For run_handed_off: <c>survivor</c> or <c>storage</c> (no other silo was active).</param>
public sealed record AuditEvent(int Seq, DateTime Ts, string Type, string? NodeId, string? Silo, string? Status, string? To);

/// <summary>A run the soak got a 202 for.</summary>
public sealed record AcceptedRun(Guid RunId, string Slug);

/// <summary>What the audit found. Every list of problems must be empty for the soak to pass.</summary>
public sealed class AuditResult
{
    public int Accepted { get; init; }

    /// <summary>Final row status → count, for the accepted runs that have a row.</summary>
    public required IReadOnlyDictionary<string, int> ByStatus { get; init; }

    /// <summary>Accepted, but no row, or a finished row whose history says otherwise (the end was lost).</summary>
    public required IReadOnlyList<string> Lost { get; init; }

    /// <summary>Not finished when the settle time ran out.</summary>
    public required IReadOnlyList<string> Stuck { get; init; }

    /// <summary>A step executed again after its outcome was checkpointed (from the history or from the peer).</summary>
    public required IReadOnlyList<string> RepeatedAfterCheckpoint { get; init; }

    /// <summary>Gaps in seq, or not exactly one terminal event per finished run (none for an unfinished one).</summary>
    public required IReadOnlyList<string> History { get; init; }

    /// <summary>Peer requests that do not carry the Idempotency-Key of the step that made them.</summary>
    public required IReadOnlyList<string> Keys { get; init; }

    /// <summary>Steps executed again after a run_interrupted naming them (cut off at the drain limit or by a forced stop).</summary>
    public int RestartsAfterInterruption { get; init; }

    /// <summary>Steps whose start was saved by a draining silo that handed the run off before the step began.</summary>
    public int RestartsNotBegun { get; init; }

    /// <summary>Steps executed again with no event saying why: the activation that ran them ended without saving (a crash).</summary>
    public int RestartsAfterLostActivation { get; init; }

    /// <summary>Peer requests beyond one per step attempt that succeeded: repeats of interrupted steps, all with the step's own key.</summary>
    public int PeerRepeats { get; init; }

    public required IReadOnlyDictionary<Guid, IReadOnlyList<AuditEvent>> Histories { get; init; }

    public bool Passed => Lost.Count == 0 && Stuck.Count == 0 && RepeatedAfterCheckpoint.Count == 0 && History.Count == 0 && Keys.Count == 0;
}

/// <summary>
/// Checks what reached Postgres and the peer against the engine's promises, for every run the soak got a 202 for:
/// nothing lost, nothing stuck, no step executed again once its outcome was checkpointed, gap-free history with one
/// terminal event per finished run, and every peer request carrying its step's Idempotency-Key.
/// </summary>
public static class ChaosAudit
{
    private static readonly HashSet<string> Finished = ["succeeded", "failed", "canceled"];

    /// <summary>Runs not yet finished (no row counts as unfinished).</summary>
    public static async Task<List<Guid>> UnfinishedAsync(string connectionString, IReadOnlyCollection<Guid> runIds, CancellationToken cancellationToken)
    {
        var statuses = await StatusesAsync(connectionString, runIds, cancellationToken);
        return [.. runIds.Where(id => !Finished.Contains(statuses.GetValueOrDefault(id) ?? ""))];
    }

    public static Task<AuditResult> RunAsync(string connectionString, IReadOnlyCollection<AcceptedRun> accepted, IReadOnlyCollection<PeerRequest> peerRequests, CancellationToken cancellationToken) =>
        RunAsync(connectionString, accepted, peerRequests, ChaosWorkflows.All, cancellationToken);

    /// <summary>The audit of runs drawn from another mix than <see cref="ChaosWorkflows.All"/> (the in-process soak's).</summary>
    public static async Task<AuditResult> RunAsync(
        string connectionString,
        IReadOnlyCollection<AcceptedRun> accepted,
        IReadOnlyCollection<PeerRequest> peerRequests,
        IReadOnlyList<ChaosWorkflow> mix,
        CancellationToken cancellationToken)
    {
        var runIds = accepted.Select(a => a.RunId).Distinct().ToArray();
        var statuses = await StatusesAsync(connectionString, runIds, cancellationToken);
        var histories = await HistoriesAsync(connectionString, runIds, cancellationToken);
        var slugOf = accepted.GroupBy(a => a.RunId).ToDictionary(g => g.Key, g => g.First().Slug);

        var lost = new List<string>();
        var stuck = new List<string>();
        var repeated = new List<string>();
        var history = new List<string>();
        int afterInterruption = 0, notBegun = 0, afterLost = 0;
        var succeededAt = new Dictionary<string, DateTime>(StringComparer.Ordinal);
        foreach (var runId in runIds)
        {
            var events = histories[runId];
            if (statuses.GetValueOrDefault(runId) is not { } status)
            {
                lost.Add($"{runId}: accepted but no workflow_runs row");
                continue;
            }

            for (var i = 0; i < events.Count; i++)
            {
                if (events[i].Seq != i + 1)
                {
                    history.Add($"{runId}: seq {events[i].Seq} at position {i + 1} (must be 1..n without gaps)");
                    break;
                }
            }

            var terminal = events.Where(e => e.Type is "run_completed" or "run_canceled").ToList();
            if (Finished.Contains(status))
            {
                if (terminal.Count != 1)
                {
                    history.Add($"{runId}: {status} with {terminal.Count} terminal events (must be exactly 1)");
                }
                else if ((terminal[0].Type == "run_canceled" ? "canceled" : terminal[0].Status) != status)
                {
                    lost.Add($"{runId}: row says {status} but its history ends {terminal[0].Type} {terminal[0].Status}");
                }
                else if (events[^1].Seq != terminal[0].Seq)
                {
                    history.Add($"{runId}: events after its terminal event (seq {terminal[0].Seq} of {events[^1].Seq})");
                }
            }
            else
            {
                stuck.Add($"{runId} ({slugOf[runId]}): still {status} after the settle time; last event {(events.Count == 0 ? "none" : $"{events[^1].Type} {events[^1].NodeId} at {events[^1].Ts:HH:mm:ss.fff}")}");
                if (terminal.Count != 0)
                {
                    history.Add($"{runId}: {status} but has a terminal event");
                }
            }

            var workflow = mix.First(w => w.Slug == slugOf[runId]);
            foreach (var node in workflow.Nodes)
            {
                var starts = IndexesOf(events, "step_started", node);
                var outcomes = events.Select((e, i) => (e, i)).Where(x => x.e.NodeId == node && x.e.Type is "step_succeeded" or "step_failed").ToList();
                if (outcomes.Count > 1)
                {
                    repeated.Add($"{runId}/{node}: {outcomes.Count} outcomes checkpointed");
                }

                if (outcomes.Count > 0)
                {
                    if (starts.Any(s => s > outcomes[0].i))
                    {
                        repeated.Add($"{runId}/{node}: started again after its {outcomes[0].e.Type} (seq {outcomes[0].e.Seq}) was checkpointed");
                    }

                    if (outcomes[0].e.Type == "step_succeeded")
                    {
                        succeededAt[$"mh-{runId}-{node}"] = outcomes[0].e.Ts;
                    }
                }

                for (var k = 1; k < starts.Count; k++)
                {
                    var between = events.Skip(starts[k - 1] + 1).Take(starts[k] - starts[k - 1] - 1).ToList();
                    if (between.Any(e => e.Type == "run_interrupted" && e.NodeId == node))
                    {
                        afterInterruption++;
                    }
                    else if (between.Any(e => e.Type == "run_handed_off")
                        && !between.Any(e => e.NodeId == node && e.Type is "http_attempted" or "step_succeeded" or "step_failed"))
                    {
                        notBegun++;
                    }
                    else
                    {
                        afterLost++;
                    }
                }
            }
        }

        // The peer's side: every request carries mh-{runId}-{nodeId} of an accepted run's http_call node that calls
        // that path, and none arrives after that step's success was checkpointed.
        var keys = new List<string>();
        var peerRepeats = 0;
        foreach (var group in peerRequests.GroupBy(r => r.IdempotencyKey ?? ""))
        {
            var key = group.Key;
            if (!TryParseKey(key, out var runId, out var nodeId) || !slugOf.TryGetValue(runId, out var slug)
                || !mix.First(w => w.Slug == slug).HttpPaths.TryGetValue(nodeId, out var path))
            {
                keys.Add($"{group.Count()} request(s) to {group.First().Path} with Idempotency-Key '{key}', which is no accepted run's step");
                continue;
            }

            if (group.Any(r => r.Path != path))
            {
                keys.Add($"{key}: requests to {string.Join(", ", group.Select(r => r.Path).Distinct())}, but its step calls {path}");
            }

            if (succeededAt.TryGetValue(key, out var succeeded))
            {
                foreach (var late in group.Where(r => r.At > succeeded))
                {
                    repeated.Add($"{key}: the peer got attempt {late.Attempt} at {late.At:HH:mm:ss.fff}, after the step's success was checkpointed at {succeeded:HH:mm:ss.fff}");
                }
            }

            var attemptsRecorded = histories[runId].Count(e => e.Type == "http_attempted" && e.NodeId == nodeId);
            peerRepeats += Math.Max(0, group.Count() - attemptsRecorded);
        }

        return new AuditResult
        {
            Accepted = runIds.Length,
            ByStatus = statuses.Values.GroupBy(s => s).ToDictionary(g => g.Key, g => g.Count()),
            Lost = lost,
            Stuck = stuck,
            RepeatedAfterCheckpoint = repeated,
            History = history,
            Keys = keys,
            RestartsAfterInterruption = afterInterruption,
            RestartsNotBegun = notBegun,
            RestartsAfterLostActivation = afterLost,
            PeerRepeats = peerRepeats,
            Histories = histories.ToDictionary(h => h.Key, h => (IReadOnlyList<AuditEvent>)h.Value),
        };
    }

    private static bool TryParseKey(string key, out Guid runId, out string nodeId)
    {
        // mh-{36-character run id}-{node id}
        runId = Guid.Empty;
        nodeId = "";
        if (!key.StartsWith("mh-", StringComparison.Ordinal) || key.Length < 3 + 36 + 2 || key[3 + 36] != '-'
            || !Guid.TryParseExact(key.Substring(3, 36), "D", out runId))
        {
            return false;
        }

        nodeId = key[(3 + 36 + 1)..];
        return true;
    }

    private static List<int> IndexesOf(List<AuditEvent> events, string type, string node) =>
        [.. events.Select((e, i) => (e, i)).Where(x => x.e.Type == type && x.e.NodeId == node).Select(x => x.i)];

    private static async Task<Dictionary<Guid, string>> StatusesAsync(string connectionString, IReadOnlyCollection<Guid> runIds, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT id, status FROM workflow_runs WHERE id = ANY(@ids)", connection);
        command.Parameters.AddWithValue("ids", runIds.ToArray());
        var statuses = new Dictionary<Guid, string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            statuses[reader.GetGuid(0)] = reader.GetString(1);
        }

        return statuses;
    }

    private static async Task<Dictionary<Guid, List<AuditEvent>>> HistoriesAsync(string connectionString, Guid[] runIds, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            """
            SELECT run_id, seq, ts, type, payload->>'nodeId', payload->>'silo', payload->>'status', payload->>'to'
            FROM workflow_events WHERE run_id = ANY(@ids) ORDER BY run_id, seq
            """, connection);
        command.Parameters.AddWithValue("ids", runIds);
        var histories = runIds.ToDictionary(id => id, _ => new List<AuditEvent>());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            histories[reader.GetGuid(0)].Add(new AuditEvent(
                reader.GetInt32(1),
                reader.GetFieldValue<DateTime>(2),
                reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetString(4),
                reader.IsDBNull(5) ? null : reader.GetString(5),
                reader.IsDBNull(6) ? null : reader.GetString(6),
                reader.IsDBNull(7) ? null : reader.GetString(7)));
        }

        return histories;
    }
}
