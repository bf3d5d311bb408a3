using System.Text;
using MeshHook.Grains.Definitions;
using MeshHook.Grains.Steps;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace MeshHook.Grains.Runs;

/// <summary>What the run loop does after a step has ended (see <see cref="RunProgress.Apply"/>).</summary>
public enum StepEnd
{
    /// <summary>The step succeeded: go on with the next one.</summary>
    Continue,

    /// <summary>A durable wait stopped for the drain: the hand-off saves the run and moves it on.</summary>
    Suspended,

    /// <summary>The step was cut off: the hand-off saves the run with its <c>run_interrupted</c>.</summary>
    Interrupted,

    /// <summary>The run ended (terminate, a failed step, a cancel): its final checkpoint is due.</summary>
    Finished,
}

/// <summary>
/// A run's progress through its workflow: every change to its state and the event that records it, in one place and
/// without I/O, so each transition can be tested on its own (RunProgressTests). The grain decides when to save
/// (<see cref="RunState.Pending"/> holds what is not saved yet) and what to run; this type keeps state and history
/// in step.
/// </summary>
public sealed class RunProgress
{
    private readonly Workflow _workflow;
    private readonly TimeProvider _time;
    private readonly JObject _steps;
    private readonly RunRecord _record;

    // What callers see of the run: only what is checkpointed, so a view never runs ahead of Postgres.
    private (RunStatus Status, string? OutputJson, string? Error) _saved;

    private readonly RunOptions _limits;
    private long _outputBytes;

    /// <summary>Takes a run as read or migrated: adds the steps it has not reached and derives the skipped ones.</summary>
    public RunProgress(RunState state, Workflow workflow, RunRecord record, TimeProvider time, RunOptions? limits = null)
    {
        State = state;
        _limits = limits ?? new RunOptions();
        _workflow = workflow;
        _time = time;
        _record = record;
        _saved = state.Initialized ? (state.Status, state.OutputJson, state.Error) : (record.Status, null, null);
        foreach (var node in workflow.Nodes)
        {
            state.Steps.TryAdd(node.Id, new StepState());
        }

        RunSchedule.SkipUnreachable(workflow, state.Steps);
        _steps = new JObject();
        foreach (var (nodeId, step) in state.Steps)
        {
            if (step.Status == StepStatus.Succeeded && step.OutputJson is not null)
            {
                _outputBytes += Encoding.UTF8.GetByteCount(step.OutputJson);
                _steps[nodeId] = JToken.Parse(step.OutputJson);
            }
        }

        Context = new JObject { ["trigger"] = JToken.Parse(record.TriggerJson), ["steps"] = _steps };
    }

    public RunState State { get; }

    /// <summary>The run context the steps read: <c>{trigger, steps: {id: output}}</c>.</summary>
    public JObject Context { get; }

    /// <summary>A step whose start was saved but which never began on this silo (the drain came first).</summary>
    public string? SuspendedStepId { get; private set; }

    /// <summary>The step to run next, or null when none is left (see <see cref="RunSchedule.Next"/>).</summary>
    public WorkflowNode? NextStep() => RunSchedule.Next(_workflow, State.Steps);

    /// <summary>Takes the run over from its queued row: status running.</summary>
    public void Begin()
    {
        State.Initialized = true;
        State.Status = RunStatus.Running;
    }

    /// <summary>Records <c>run_resumed</c>; returns how long the run had been suspended by a drain, if it had.</summary>
    public TimeSpan? Resume(string silo, string address)
    {
        TimeSpan? suspended = State.SuspendedAt is { } suspendedAt ? _time.GetUtcNow() - suspendedAt : null;
        State.SuspendedAt = null;
        Add(RunEvents.RunResumed(silo, address, suspended));
        return suspended;
    }

    /// <summary>Marks <paramref name="node"/> running and records its <c>step_started</c>.</summary>
    public StepState StartStep(WorkflowNode node)
    {
        var step = State.Steps[node.Id];
        step.Status = StepStatus.Running;
        step.FirstStartedAt ??= _time.GetUtcNow();
        step.Executions++;
        Add(RunEvents.StepStarted(node, step.Executions));
        return step;
    }

    /// <summary>The step was not started because the drain began while its start was being saved.</summary>
    public void Suspend(WorkflowNode node) => SuspendedStepId = node.Id;

    /// <summary>Records HTTP attempts of the running step <paramref name="node"/> (<c>http_attempted</c>).</summary>
    public void RecordAttempts(WorkflowNode node, IReadOnlyList<HttpAttempt> attempts)
    {
        var step = State.Steps[node.Id];
        foreach (var attempt in attempts)
        {
            step.HttpAttempts++;
            Add(RunEvents.HttpAttempted(node.Id, attempt));
        }
    }

    /// <summary>Records how a step ended, with its HTTP attempts not recorded yet, and says what the run does next.</summary>
    public StepEnd Apply(WorkflowNode node, StepResult result, string silo)
    {
        var step = State.Steps[node.Id];
        RecordAttempts(node, result.Attempts);

        switch (result.Outcome)
        {
            case StepOutcome.Suspended:
                // Nothing was cut off: a durable wait keeps its due time.
                SuspendedStepId = node.Id;
                return StepEnd.Suspended;

            case StepOutcome.Interrupted interrupted:
                Add(RunEvents.RunInterrupted(node.Id, interrupted.Reason, silo));
                State.SuspendedAt = _time.GetUtcNow();
                return StepEnd.Interrupted;

            case StepOutcome.Succeeded succeeded:
                var json = succeeded.Output.ToString(Formatting.None);
                if (OverLimit(Encoding.UTF8.GetByteCount(json)) is { } tooLarge)
                {
                    return Apply(node, result with { Outcome = new StepOutcome.Failed(tooLarge), Attempts = [] }, silo);
                }

                Succeed(node, step, succeeded.Output, succeeded.BranchLabel, json);
                return StepEnd.Continue;

            case StepOutcome.Terminated terminated:
                // The run's output stays the last output before terminate, which has none of its own.
                var outputBefore = OutputOfLastSuccess();
                Succeed(node, step, JValue.CreateNull(), branchLabel: null);
                State.LastSucceededNodeId = null;
                Finish(terminated.Status, terminated.Status == RunStatus.Failed ? $"terminated by node '{node.Id}'" : null, outputBefore);
                return StepEnd.Finished;

            case StepOutcome.Failed failed:
                step.Status = StepStatus.Failed;
                step.Error = failed.Error;
                Add(RunEvents.StepFailed(node.Id, failed.Error));
                Finish(RunStatus.Failed, $"step '{node.Id}' failed: {failed.Error}");
                return StepEnd.Finished;

            case StepOutcome.Canceled:
                step.Status = StepStatus.Canceled;
                Cancel(node.Id);
                return StepEnd.Finished;

            default:
                throw new InvalidOperationException($"step '{node.Id}' ended with an unknown outcome {result.Outcome.GetType().Name}");
        }
    }

    /// <summary>No step is left: the run succeeds with the output of its last succeeded step.</summary>
    public void Succeed() => Finish(RunStatus.Succeeded, error: null, OutputOfLastSuccess());

    /// <summary>The user canceled the run; <paramref name="nodeId"/> is the step that was running, if one was.</summary>
    public void Cancel(string? nodeId)
    {
        if (!State.Initialized)
        {
            Begin();
        }

        State.Status = RunStatus.Canceled;
        State.Error = null;
        State.OutputJson = null;
        foreach (var step in State.Steps.Values.Where(s => s.Status == StepStatus.Running))
        {
            step.Status = StepStatus.Canceled;
        }

        Add(RunEvents.RunCanceled(nodeId));
    }

    /// <summary>Records <c>run_handed_off</c>: the drain passes the run on, to a survivor or to storage.</summary>
    public void HandOff(string silo, bool toSurvivor)
    {
        State.SuspendedAt ??= _time.GetUtcNow();
        Add(RunEvents.RunHandedOff(silo, toSurvivor, SuspendedStepId));
    }

    /// <summary>Every event added is in Postgres, with the run's row.</summary>
    public bool IsSaved => State.Pending.Count == 0;

    /// <summary>Everything added so far is checkpointed: callers may see it.</summary>
    public void Checkpointed() => _saved = (State.Status, State.OutputJson, State.Error);

    /// <summary>What a caller sees of the run: its steps, and its last checkpointed status, output and error.</summary>
    public RunView View()
    {
        var (record, visible) = (_record, _saved);
        var steps = _workflow.Nodes
            .Select(n =>
            {
                var step = State.Steps[n.Id];
                return new StepView(n.Id, step.Status, n is HttpCallNode ? step.HttpAttempts : step.Executions);
            })
            .ToArray();
        return new RunView(record.RunId, record.Slug, record.Version, visible.Status, steps, visible.OutputJson, visible.Error);
    }

    /// <summary>Why an output of <paramref name="bytes"/> may not be kept, or null when it may.</summary>
    private string? OverLimit(long bytes) =>
        bytes > _limits.MaxStepOutputBytes
            ? $"the step's output is {bytes} bytes, over the limit of {_limits.MaxStepOutputBytes} bytes per step (MeshHook:Runs:MaxStepOutputBytes)"
            : _outputBytes + bytes > _limits.MaxRunOutputBytes
                ? $"the step's output ({bytes} bytes) would take the run's outputs to {_outputBytes + bytes} bytes, over the limit of {_limits.MaxRunOutputBytes} bytes per run (MeshHook:Runs:MaxRunOutputBytes)"
                : null;

    private void Succeed(WorkflowNode node, StepState step, JToken output, string? branchLabel, string? json = null)
    {
        step.Status = StepStatus.Succeeded;
        step.OutputJson = json ?? output.ToString(Formatting.None);
        _outputBytes += Encoding.UTF8.GetByteCount(step.OutputJson);
        step.BranchLabel = branchLabel;
        State.LastSucceededNodeId = node.Id;
        _steps[node.Id] = output;
        Add(RunEvents.StepSucceeded(node.Id, output, branchLabel));
        RunSchedule.SkipUnreachable(_workflow, State.Steps);
    }

    private void Finish(RunStatus status, string? error, string? outputJson = null)
    {
        State.Status = status;
        State.Error = error;
        State.OutputJson = outputJson;
        Add(RunEvents.RunCompleted(status, error));
    }

    private string? OutputOfLastSuccess() => State.LastSucceededNodeId is { } last ? State.Steps[last].OutputJson : null;

    private void Add(NewRunEvent e) => State.Pending.Add(new RunEvent(State.NextSeq++, _time.GetUtcNow(), e.Type, e.PayloadJson));
}
