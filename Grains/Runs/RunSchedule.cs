using MeshHook.Grains.Definitions;

namespace MeshHook.Grains.Runs;

/// <summary>
/// Which step of a run goes next, from the workflow and its steps' states alone: no clock, no I/O, so every rule of
/// the DAG can be tested on its own (see ScheduleTests).
/// </summary>
/// <remarks>
/// An edge from a succeeded step is taken when it has no label or its label is the step's branch label. A node runs
/// once every incoming edge is decided and at least one is taken; when all are decided and none is taken it is skipped,
/// and skipping spreads downstream. The trigger has no incoming edges and is always ready.
/// </remarks>
public static class RunSchedule
{
    /// <summary>
    /// The step to run next: a step left running (cut off earlier, so it is resumed first), else the first ready node
    /// in definition order; null when nothing is left to run.
    /// </summary>
    public static WorkflowNode? Next(Workflow workflow, IReadOnlyDictionary<string, StepState> steps)
    {
        WorkflowNode? ready = null;
        foreach (var node in workflow.Nodes)
        {
            var step = steps[node.Id];
            if (step.Status == StepStatus.Running)
            {
                return node;
            }

            if (ready is null && step.Status == StepStatus.Pending && IncomingOf(workflow, steps, node.Id) == Incoming.Taken)
            {
                ready = node;
            }
        }

        return ready;
    }

    /// <summary>Marks skipped every pending node none of whose incoming edges can be taken any more; returns their ids.</summary>
    public static IReadOnlyList<string> SkipUnreachable(Workflow workflow, IReadOnlyDictionary<string, StepState> steps)
    {
        var skipped = new List<string>();
        bool changed;
        do
        {
            changed = false;
            foreach (var node in workflow.Nodes)
            {
                var step = steps[node.Id];
                if (step.Status == StepStatus.Pending && IncomingOf(workflow, steps, node.Id) == Incoming.NoneTaken)
                {
                    step.Status = StepStatus.Skipped;
                    skipped.Add(node.Id);
                    changed = true;
                }
            }
        }
        while (changed);

        return skipped;
    }

    private static Incoming IncomingOf(Workflow workflow, IReadOnlyDictionary<string, StepState> steps, string nodeId)
    {
        var anyTaken = false;
        var any = false;
        foreach (var edge in workflow.Incoming(nodeId))
        {
            any = true;
            var source = steps[edge.Source];
            switch (source.Status)
            {
                case StepStatus.Succeeded when edge.Label is null || edge.Label == source.BranchLabel:
                    anyTaken = true;
                    break;
                case StepStatus.Succeeded or StepStatus.Skipped or StepStatus.Failed or StepStatus.Canceled:
                    break;
                default:
                    return Incoming.Undecided;
            }
        }

        return !any || anyTaken ? Incoming.Taken : Incoming.NoneTaken;
    }

    private enum Incoming
    {
        Undecided,
        Taken,
        NoneTaken,
    }
}
