using AwesomeAssertions;
using MeshHook.Grains;
using MeshHook.Grains.Definitions;
using MeshHook.Grains.Runs;
using MeshHook.Grains.Steps;
using Microsoft.Extensions.Time.Testing;
using Newtonsoft.Json.Linq;

namespace MeshHook.Tests.Unit.Runs;

/// <summary>Each transition of a run changes its state and records the event that says so, in order.</summary>
public sealed class RunProgressTests
{
    private static readonly TimeSpan Second = TimeSpan.FromSeconds(1);

    // hook → wait → check, check -true→ done(terminate failed), check -false→ after.
    private static readonly Workflow Flow = new(
        [new WebhookNode("hook"), new DelayNode("wait", Second), new DelayNode("check", Second), new TerminateNode("done", RunStatus.Failed), new DelayNode("after", Second)],
        [new("hook", "wait", null), new("wait", "check", null), new("check", "done", "true"), new("check", "after", "false")]);

    private static readonly RunRecord Record = new(Guid.NewGuid(), "s", 1, "{}", """{"headers":{},"body":{"n":1}}""", RunStatus.Queued, 1);

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly RunState _state = new() { NextSeq = 2 };
    private readonly RunProgress _progress;

    public RunProgressTests() => _progress = new RunProgress(_state, Flow, Record, _time);

    private IEnumerable<string> Types => _state.Pending.Select(e => e.Type);

    [Fact]
    public void Steps_RecordStartAndOutcome_NumberedAfterTheLastSeq_AndFeedTheContext()
    {
        _progress.Begin();
        var hook = _progress.NextStep()!;
        _progress.StartStep(hook);
        _progress.Apply(hook, Succeeded(JToken.Parse("""{"a":1}""")), "silo-a").Should().Be(StepEnd.Continue);

        Types.Should().Equal("step_started", "step_succeeded");
        _state.Pending.Select(e => e.Seq).Should().Equal(2, 3);
        _progress.Context["steps"]!["hook"]!["a"]!.Value<int>().Should().Be(1);
        _progress.Context["trigger"]!["body"]!["n"]!.Value<int>().Should().Be(1);
        _progress.NextStep()!.Id.Should().Be("wait");
    }

    [Fact]
    public void Terminate_FailsTheRun_KeepingTheOutputBeforeIt_AndSkipsTheOtherBranch()
    {
        RunThrough("hook", "wait");
        var check = _progress.NextStep()!;
        _progress.StartStep(check);
        _progress.Apply(check, Succeeded(new JValue(true), "true"), "silo-a");
        _state.Steps["after"].Status.Should().Be(StepStatus.Skipped);

        var done = _progress.NextStep()!;
        _progress.StartStep(done);
        _progress.Apply(done, new StepResult(new StepOutcome.Terminated(RunStatus.Failed), []), "silo-a").Should().Be(StepEnd.Finished);

        _state.Status.Should().Be(RunStatus.Failed);
        _state.Error.Should().Be("terminated by node 'done'");
        _state.OutputJson.Should().Be("true", "the output is the last one before terminate");
        Types.Last().Should().Be("run_completed");
    }

    [Fact]
    public void FailedStep_FailsTheRunWithItsError()
    {
        _progress.Begin();
        var hook = _progress.NextStep()!;
        _progress.StartStep(hook);

        _progress.Apply(hook, new StepResult(new StepOutcome.Failed("boom"), []), "silo-a").Should().Be(StepEnd.Finished);

        _state.Steps["hook"].Error.Should().Be("boom");
        _state.Error.Should().Be("step 'hook' failed: boom");
        Types.Should().EndWith(["step_failed", "run_completed"]);
    }

    [Fact]
    public void Interrupted_RecordsTheReasonAndWhen_AndTheAttemptsMadeBeforeIt()
    {
        RunThrough("hook");
        var wait = _progress.NextStep()!;
        _progress.StartStep(wait);
        _time.Advance(Second);

        var end = _progress.Apply(wait, new StepResult(new StepOutcome.Interrupted("forced stop"), [new HttpAttempt(1, 503, null, Second)]), "silo-a");

        end.Should().Be(StepEnd.Interrupted);
        Types.Should().EndWith(["http_attempted", "run_interrupted"]);
        _state.SuspendedAt.Should().Be(_time.GetUtcNow());
        _state.Steps["wait"].Status.Should().Be(StepStatus.Running, "it runs again where the run resumes");
    }

    [Fact]
    public void Suspended_ThenHandedOff_NamesTheSuspendedStep_AndResumeMeasuresTheWait()
    {
        RunThrough("hook");
        var wait = _progress.NextStep()!;
        _progress.StartStep(wait);
        _progress.Apply(wait, new StepResult(new StepOutcome.Suspended(), []), "silo-a").Should().Be(StepEnd.Suspended);
        _progress.HandOff("silo-a", toSurvivor: true);
        _time.Advance(TimeSpan.FromSeconds(3));

        JObject.Parse(_state.Pending.Last().PayloadJson)["suspendedStep"]!.Value<string>().Should().Be("wait");
        _progress.Resume("silo-b", "S2").Should().Be(TimeSpan.FromSeconds(3));
        _state.SuspendedAt.Should().BeNull();
        Types.Last().Should().Be("run_resumed");
    }

    [Fact]
    public void Cancel_BeforeTheRunStarted_FinishesItCanceled()
    {
        _progress.Cancel(nodeId: null);

        _state.Initialized.Should().BeTrue();
        _state.Status.Should().Be(RunStatus.Canceled);
        Types.Should().Equal("run_canceled");
    }

    [Fact]
    public void Succeed_WhenNoStepIsLeft_TakesTheLastOutput()
    {
        RunThrough("hook", "wait");
        var check = _progress.NextStep()!;
        _progress.StartStep(check);
        _progress.Apply(check, Succeeded(new JValue(false), "false"), "silo-a");
        RunThrough("after");

        _progress.NextStep().Should().BeNull();
        _progress.Succeed();

        _state.Status.Should().Be(RunStatus.Succeeded);
        _state.OutputJson.Should().Be("\"after-output\"");
        _progress.View().Steps.Select(s => s.Status)
            .Should().Equal(StepStatus.Succeeded, StepStatus.Succeeded, StepStatus.Succeeded, StepStatus.Skipped, StepStatus.Succeeded);
    }

    [Fact]
    public void Output_OverTheStepLimit_FailsTheStepAndTheRun_SayingWhy_AndKeepsNothingOfIt()
    {
        var progress = new RunProgress(_state, Flow, Record, _time, new RunOptions { MaxStepOutputBytes = 1024 });
        progress.Begin();
        var hook = progress.NextStep()!;
        progress.StartStep(hook);

        progress.Apply(hook, Succeeded(new JValue(new string('x', 2000))), "silo-a").Should().Be(StepEnd.Finished);

        _state.Steps["hook"].Status.Should().Be(StepStatus.Failed);
        _state.Steps["hook"].OutputJson.Should().BeNull("nothing is truncated or kept");
        _state.Status.Should().Be(RunStatus.Failed);
        _state.Error.Should().Contain("2002 bytes, over the limit of 1024 bytes per step (MeshHook:Runs:MaxStepOutputBytes)");
        Types.Should().Equal("step_started", "step_failed", "run_completed");
        progress.Context["steps"]!["hook"].Should().BeNull();
    }

    [Fact]
    public void Outputs_OverTheRunLimitTogether_FailTheStepThatWouldCrossIt()
    {
        var progress = new RunProgress(_state, Flow, Record, _time, new RunOptions { MaxStepOutputBytes = 1024, MaxRunOutputBytes = 1500 });
        progress.Begin();
        var hook = progress.NextStep()!;
        progress.StartStep(hook);
        progress.Apply(hook, Succeeded(new JValue(new string('x', 1000))), "silo-a").Should().Be(StepEnd.Continue);
        var wait = progress.NextStep()!;
        progress.StartStep(wait);

        progress.Apply(wait, Succeeded(new JValue(new string('y', 1000))), "silo-a").Should().Be(StepEnd.Finished);

        _state.Steps["wait"].Status.Should().Be(StepStatus.Failed);
        _state.Error.Should().Contain("would take the run's outputs to 2004 bytes, over the limit of 1500 bytes per run (MeshHook:Runs:MaxRunOutputBytes)");
    }

    [Fact]
    public void Outputs_ReadBack_CountTowardsTheRunLimit()
    {
        _state.Initialized = true;
        _state.Status = RunStatus.Running;
        _state.Steps["hook"] = new StepState { Status = StepStatus.Succeeded, OutputJson = $"\"{new string('x', 1000)}\"" };
        var progress = new RunProgress(_state, Flow, Record, _time, new RunOptions { MaxRunOutputBytes = 1500 });
        var wait = progress.NextStep()!;
        progress.StartStep(wait);

        progress.Apply(wait, Succeeded(new JValue(new string('y', 1000))), "silo-b").Should().Be(StepEnd.Finished, "a resumed run counts what it read back");
    }

    private static StepResult Succeeded(JToken output, string? label = null) => new(new StepOutcome.Succeeded(output, label), []);

    private void RunThrough(params string[] nodeIds)
    {
        if (!_state.Initialized)
        {
            _progress.Begin();
        }

        foreach (var id in nodeIds)
        {
            var node = _progress.NextStep()!;
            node.Id.Should().Be(id);
            _progress.StartStep(node);
            _progress.Apply(node, Succeeded(new JValue($"{id}-output")), "silo-a").Should().Be(StepEnd.Continue);
        }
    }
}
