using AwesomeAssertions;
using MeshHook.Grains;
using MeshHook.Grains.Definitions;
using MeshHook.Grains.Runs;

namespace MeshHook.Tests.Unit.Runs;

/// <summary>The DAG rules of a run: which step goes next, and which steps are skipped.</summary>
public sealed class RunScheduleTests
{
    private static readonly TimeSpan Second = TimeSpan.FromSeconds(1);

    // hook → check, then check -true→ yes → done, check -false→ no → done.
    private static readonly Workflow Diamond = new(
        [new WebhookNode("hook"), new DelayNode("check", Second), new DelayNode("yes", Second), new DelayNode("no", Second), new TerminateNode("done", RunStatus.Succeeded)],
        [new("hook", "check", null), new("check", "yes", "true"), new("check", "no", "false"), new("yes", "done", null), new("no", "done", null)]);

    private static Dictionary<string, StepState> Steps(Workflow workflow) =>
        workflow.Nodes.ToDictionary(n => n.Id, _ => new StepState(), StringComparer.Ordinal);

    [Fact]
    public void Next_OnANewRun_IsTheTrigger()
    {
        RunSchedule.Next(Diamond, Steps(Diamond))!.Id.Should().Be("hook");
    }

    [Fact]
    public void Next_WaitsForEveryIncomingEdgeToBeDecided()
    {
        var steps = Steps(Diamond);
        steps["hook"].Status = StepStatus.Succeeded;
        steps["check"].Status = StepStatus.Succeeded;
        steps["check"].BranchLabel = "true";

        RunSchedule.Next(Diamond, steps)!.Id.Should().Be("yes", "'done' still waits on 'no', which is undecided");
    }

    [Fact]
    public void SkipUnreachable_SkipsTheBranchNotTaken_AndThenTheJoinRuns()
    {
        var steps = Steps(Diamond);
        steps["hook"].Status = StepStatus.Succeeded;
        steps["check"].Status = StepStatus.Succeeded;
        steps["check"].BranchLabel = "true";

        RunSchedule.SkipUnreachable(Diamond, steps).Should().Equal("no");
        steps["yes"].Status = StepStatus.Succeeded;

        RunSchedule.Next(Diamond, steps)!.Id.Should().Be("done", "one taken edge is enough once all are decided");
    }

    [Fact]
    public void SkipUnreachable_SpreadsDownstream_WhenNoEdgeIntoANodeCanBeTaken()
    {
        var steps = Steps(Diamond);
        steps["hook"].Status = StepStatus.Succeeded;
        steps["check"].Status = StepStatus.Succeeded;
        steps["check"].BranchLabel = "neither";

        RunSchedule.SkipUnreachable(Diamond, steps).Should().Equal("yes", "no", "done");
        RunSchedule.Next(Diamond, steps).Should().BeNull("nothing is left to run");
    }

    [Fact]
    public void Next_AStepLeftRunning_IsResumedBeforeAnyReadyNode()
    {
        var steps = Steps(Diamond);
        steps["hook"].Status = StepStatus.Succeeded;
        steps["check"].Status = StepStatus.Succeeded;
        steps["check"].BranchLabel = "true";
        RunSchedule.SkipUnreachable(Diamond, steps);
        steps["yes"].Status = StepStatus.Succeeded;
        steps["done"].Status = StepStatus.Running;

        RunSchedule.Next(Diamond, steps)!.Id.Should().Be("done");
    }

    [Fact]
    public void Next_AmongReadyNodes_TakesTheFirstInDefinitionOrder()
    {
        var fanOut = new Workflow(
            [new WebhookNode("hook"), new DelayNode("b", Second), new DelayNode("a", Second)],
            [new("hook", "a", null), new("hook", "b", null)]);
        var steps = Steps(fanOut);
        steps["hook"].Status = StepStatus.Succeeded;

        RunSchedule.Next(fanOut, steps)!.Id.Should().Be("b");
    }

    [Fact]
    public void SkipUnreachable_AFailedOrCanceledSourceTakesNoEdge()
    {
        var chain = new Workflow(
            [new WebhookNode("hook"), new DelayNode("wait", Second), new DelayNode("after", Second)],
            [new("hook", "wait", null), new("wait", "after", null)]);
        var steps = Steps(chain);
        steps["hook"].Status = StepStatus.Succeeded;
        steps["wait"].Status = StepStatus.Failed;

        RunSchedule.SkipUnreachable(chain, steps).Should().Equal("after");
    }
}
