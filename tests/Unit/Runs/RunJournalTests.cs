using AwesomeAssertions;
using MeshHook.Grains.Draining;
using MeshHook.Grains;
using MeshHook.Grains.Definitions;
using MeshHook.Grains.Runs;
using MeshHook.Grains.Steps;
using Newtonsoft.Json.Linq;

namespace MeshHook.Tests.Unit.Runs;

/// <summary>A run read back from its history is the run its checkpoints wrote.</summary>
public sealed class RunJournalTests
{
    private static readonly DateTimeOffset T0 = new(2030, 1, 2, 3, 4, 5, TimeSpan.Zero);

    private readonly List<RunEvent> _events = [new(1, T0, RunEventTypes.RunCreated, """{"slug":"s","version":1}""")];

    private void Add(NewRunEvent e, double atSeconds = 0) =>
        _events.Add(new RunEvent(_events.Count + 1, T0.AddSeconds(atSeconds), e.Type, e.PayloadJson));

    [Fact]
    public void Replay_OfAQueuedRun_IsNotStarted_AndGoesOnAfterRunCreated()
    {
        var run = RunJournal.Replay(_events, RunStatus.Queued, null, null);

        run.Initialized.Should().BeFalse();
        run.NextSeq.Should().Be(2);
        run.Steps.Should().BeEmpty();
    }

    [Fact]
    public void Replay_KeepsOutputsBranchesExecutionsAndAttempts()
    {
        Add(RunEvents.StepStarted(new WebhookNode("hook"), 1));
        Add(RunEvents.StepSucceeded("hook", JToken.Parse("""{"a":1}"""), null));
        Add(RunEvents.StepStarted(new DelayNode("wait", TimeSpan.FromSeconds(30)), 1), atSeconds: 10);
        Add(RunEvents.RunHandedOff("silo-a", toSurvivor: true, suspendedStep: null), atSeconds: 12);
        Add(RunEvents.RunResumed("silo-b", "S2", TimeSpan.FromSeconds(1)), atSeconds: 13);
        Add(RunEvents.StepStarted(new DelayNode("wait", TimeSpan.FromSeconds(30)), 2), atSeconds: 13);
        Add(RunEvents.StepSucceeded("wait", JToken.Parse("""{"waitedUntil":"x"}"""), null), atSeconds: 40);
        Add(RunEvents.StepStarted(new DelayNode("call", TimeSpan.Zero), 1), atSeconds: 41);
        Add(RunEvents.HttpAttempted("call", new HttpAttempt(1, 503, null, TimeSpan.FromMilliseconds(5))));
        Add(RunEvents.HttpAttempted("call", new HttpAttempt(2, 200, null, TimeSpan.FromMilliseconds(5))));
        Add(RunEvents.StepSucceeded("call", JToken.Parse("true"), "true"));

        var run = RunJournal.Replay(_events, RunStatus.Running, null, null);

        run.Initialized.Should().BeTrue();
        run.NextSeq.Should().Be(13);
        run.Steps["hook"].OutputJson.Should().Be("""{"a":1}""");
        run.Steps["wait"].Executions.Should().Be(2);
        run.Steps["wait"].FirstStartedAt.Should().Be(T0.AddSeconds(10), "a durable delay counts from its first start, not its resume");
        run.Steps["call"].HttpAttempts.Should().Be(2);
        run.Steps["call"].BranchLabel.Should().Be("true");
        run.LastSucceededNodeId.Should().Be("call");
        run.SuspendedAt.Should().BeNull("the run resumed after its hand-off");
    }

    [Fact]
    public void Replay_AStepStartedWithoutAnOutcome_IsRunning_SoItRunsAgain()
    {
        Add(RunEvents.StepStarted(new WebhookNode("hook"), 1));
        Add(RunEvents.StepSucceeded("hook", JValue.CreateNull(), null));
        Add(RunEvents.StepStarted(new DelayNode("call", TimeSpan.Zero), 1), atSeconds: 2);
        Add(RunEvents.RunInterrupted("call", SiloDrain.DrainLimitReached, "silo-a"), atSeconds: 5);

        var run = RunJournal.Replay(_events, RunStatus.Running, null, null);

        run.Steps["call"].Status.Should().Be(StepStatus.Running);
        run.SuspendedAt.Should().Be(T0.AddSeconds(5), "recovery time is measured from the interruption");
    }

    [Fact]
    public void Replay_OfAFinishedRun_TakesStatusOutputAndErrorFromTheRow()
    {
        Add(RunEvents.StepStarted(new WebhookNode("hook"), 1));
        Add(RunEvents.StepFailed("hook", "boom"));
        Add(RunEvents.RunCompleted(RunStatus.Failed, "step 'hook' failed: boom"));

        var run = RunJournal.Replay(_events, RunStatus.Failed, null, "step 'hook' failed: boom");

        run.Status.Should().Be(RunStatus.Failed);
        run.Error.Should().Be("step 'hook' failed: boom");
        run.Steps["hook"].Status.Should().Be(StepStatus.Failed);
        run.Steps["hook"].Error.Should().Be("boom");
    }

    [Fact]
    public void Replay_ACancelWhileAStepRan_CancelsThatStep()
    {
        Add(RunEvents.StepStarted(new WebhookNode("hook"), 1));
        Add(RunEvents.StepSucceeded("hook", JValue.CreateNull(), null));
        Add(RunEvents.StepStarted(new DelayNode("wait", TimeSpan.FromHours(1)), 1));
        Add(RunEvents.RunCanceled("wait"));

        var run = RunJournal.Replay(_events, RunStatus.Canceled, null, null);

        run.Status.Should().Be(RunStatus.Canceled);
        run.Steps["wait"].Status.Should().Be(StepStatus.Canceled);
    }

    [Fact]
    public void Replay_ACancelBeforeTheRunStarted_IsAFinishedInitializedRun()
    {
        Add(RunEvents.RunCanceled(null));

        var run = RunJournal.Replay(_events, RunStatus.Canceled, null, null);

        run.Initialized.Should().BeTrue();
        run.Status.IsFinished().Should().BeTrue();
    }
}
