using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace MeshHook.Grains.Runs;

/// <summary>
/// Rebuilds a run's state from its history: the history is the run's journal, so what a checkpoint wrote is all an
/// activation needs. Pure: the same events always give the same state (see RunJournalTests).
/// </summary>
/// <remarks>
/// Skipped steps are not events; the grain derives them from the workflow (<see cref="RunSchedule.SkipUnreachable"/>).
/// Nodes that never started get no entry here; the grain adds them.
/// </remarks>
public static class RunJournal
{
    /// <summary>The state after <paramref name="events"/>, in seq order, with the row's output and error.</summary>
    public static RunState Replay(IReadOnlyList<RunEvent> events, RunStatus rowStatus, string? outputJson, string? error)
    {
        var run = new RunState { Status = rowStatus, OutputJson = outputJson, Error = error };
        var lastSeq = 0;
        foreach (var e in events)
        {
            lastSeq = e.Seq;
            var payload = JObject.Parse(e.PayloadJson);
            switch (e.Type)
            {
                case RunEventTypes.StepStarted:
                    var started = StepOf(run, payload);
                    started.Status = StepStatus.Running;
                    started.Executions = payload.Value<int?>("execution") ?? started.Executions + 1;
                    started.FirstStartedAt ??= e.Timestamp;
                    run.Initialized = true;
                    break;

                case RunEventTypes.HttpAttempted:
                    StepOf(run, payload).HttpAttempts++;
                    break;

                case RunEventTypes.StepSucceeded:
                    var succeeded = StepOf(run, payload);
                    succeeded.Status = StepStatus.Succeeded;
                    succeeded.OutputJson = (payload["output"] ?? JValue.CreateNull()).ToString(Formatting.None);
                    succeeded.BranchLabel = payload.Value<string>("branch");
                    run.LastSucceededNodeId = payload.Value<string>("nodeId");
                    break;

                case RunEventTypes.StepFailed:
                    var failed = StepOf(run, payload);
                    failed.Status = StepStatus.Failed;
                    failed.Error = payload.Value<string>("error");
                    break;

                case RunEventTypes.RunCanceled:
                    run.Initialized = true;
                    foreach (var step in run.Steps.Values.Where(s => s.Status == StepStatus.Running))
                    {
                        step.Status = StepStatus.Canceled;
                    }

                    break;

                case RunEventTypes.RunInterrupted:
                    run.SuspendedAt = e.Timestamp;
                    break;

                case RunEventTypes.RunHandedOff:
                    run.SuspendedAt ??= e.Timestamp;
                    break;

                case RunEventTypes.RunResumed:
                    run.SuspendedAt = null;
                    break;
            }
        }

        // The row is written with the events, in one transaction: its status is the run's.
        run.Initialized |= rowStatus != RunStatus.Queued;
        run.NextSeq = lastSeq + 1;
        return run;
    }

    private static StepState StepOf(RunState run, JObject payload)
    {
        var nodeId = payload.Value<string>("nodeId") ?? throw new InvalidOperationException("a step event without nodeId");
        if (!run.Steps.TryGetValue(nodeId, out var step))
        {
            step = new StepState();
            run.Steps[nodeId] = step;
        }

        return step;
    }
}
