using AwesomeAssertions;
using MeshHook.Grains;
using MeshHook.Grains.Runs;
using MeshHook.Tests.Integration.Infrastructure;
using Newtonsoft.Json.Linq;
using Orleans.Core.Internal;

namespace MeshHook.Tests.Integration.Runs;

[CollectionDefinition(Name)]
public sealed class RunClusterCollection : ICollectionFixture<MeshHookCluster>
{
    public const string Name = "run cluster";
}

[Collection(RunClusterCollection.Name)]
public sealed class RunExecutionTests(MeshHookCluster cluster)
{
    [Fact]
    public async Task Run_LinearWorkflow_SucceedsWithCompleteHistoryAndOneRequest()
    {
        var slug = await cluster.PublishAsync(Workflows.Linear(cluster.Sink.BaseAddress));

        var runId = await cluster.TriggerAsync(slug, """{"order": 42, "amount": 7}""");
        var view = await cluster.WaitFinishedAsync(runId);

        view.Status.Should().Be(RunStatus.Succeeded);
        view.Steps.Select(s => (s.NodeId, s.Status)).Should().Equal(
            ("hook", StepStatus.Succeeded), ("shape", StepStatus.Succeeded), ("call", StepStatus.Succeeded), ("end", StepStatus.Succeeded));
        view.Steps.Single(s => s.NodeId == "call").Attempts.Should().Be(1);
        var requests = cluster.Sink.Requests.Where(r => r.IdempotencyKey == $"mh-{runId}-call").ToList();
        requests.Should().ContainSingle();
        JToken.Parse(requests[0].Body).Should().BeEquivalentTo(JToken.Parse("""{"order": 42, "total": 7}"""));
        JObject.Parse(view.OutputJson!)["status"]!.Value<int>().Should().Be(200, "the run's output is the last step's output before terminate");

        var events = await cluster.Store.ReadEventsAsync(runId, CancellationToken.None);
        History.ShouldBeConsistent(events);
        events.Types().Should().Equal(
            "run_created",
            "step_started", "step_succeeded",
            "step_started", "step_succeeded",
            "step_started", "http_attempted", "step_succeeded",
            "step_started", "step_succeeded",
            "run_completed");
        (await cluster.RowStatusAsync(runId)).Should().Be("succeeded");
    }

    [Theory]
    [InlineData(500, "big", "small")]
    [InlineData(5, "small", "big")]
    public async Task Run_Branch_FollowsTheLabelledEdgeAndSkipsTheOther(int amount, string taken, string skipped)
    {
        var slug = await cluster.PublishAsync(Workflows.Branching(cluster.Sink.BaseAddress));

        var runId = await cluster.TriggerAsync(slug, $$"""{"amount": {{amount}}}""");
        var view = await cluster.WaitFinishedAsync(runId);

        view.Status.Should().Be(RunStatus.Succeeded);
        view.Steps.Single(s => s.NodeId == taken).Status.Should().Be(StepStatus.Succeeded);
        view.Steps.Single(s => s.NodeId == skipped).Status.Should().Be(StepStatus.Skipped);
        cluster.Sink.CountFor($"mh-{runId}-big").Should().Be(taken == "big" ? 1 : 0);
    }

    [Fact]
    public async Task Run_Delay_WaitsAtLeastItsDurationThenContinues()
    {
        var slug = await cluster.PublishAsync(Workflows.Delayed(300));

        var runId = await cluster.TriggerAsync(slug);
        var view = await cluster.WaitFinishedAsync(runId);

        view.Status.Should().Be(RunStatus.Succeeded);
        var events = await cluster.Store.ReadEventsAsync(runId, CancellationToken.None);
        var started = events.First(e => e.Type == RunEventTypes.StepStarted && History.NodeOf(e) == "wait").Timestamp;
        var done = events.First(e => e.Type == RunEventTypes.StepSucceeded && History.NodeOf(e) == "wait").Timestamp;
        (done - started).Should().BeGreaterThanOrEqualTo(TimeSpan.FromMilliseconds(290));
    }

    [Fact]
    public async Task Delay_RunDeactivatedMidWait_ComesBackByItselfAndKeepsTheOriginalDueTime()
    {
        var slug = await cluster.PublishAsync(Workflows.Delayed(4000));
        var runId = await cluster.TriggerAsync(slug);
        var grain = cluster.Grains.GetGrain<IWorkflowRunGrain>(runId);
        RunEvent? started = null;
        await Poll.UntilAsync(
            async () => (started = (await cluster.Store.ReadEventsAsync(runId, CancellationToken.None))
                .FirstOrDefault(e => e.Type == RunEventTypes.StepStarted && History.NodeOf(e) == "wait")) is not null,
            "delay step start checkpointed");
        var waitStarted = started!.Timestamp;
        await Poll.UntilAsync(() => Task.FromResult(DateTimeOffset.UtcNow - waitStarted > TimeSpan.FromSeconds(2)), "half the wait passed");

        await grain.AsReference<IGrainManagementExtension>().DeactivateOnIdle();

        // Nobody calls the grain from here on: only the run itself can finish it.
        await Poll.UntilAsync(async () => await cluster.RowStatusAsync(runId) == "succeeded", "run came back and finished", TimeSpan.FromSeconds(20));
        var events = await cluster.Store.ReadEventsAsync(runId, CancellationToken.None);
        History.ShouldBeConsistent(events);
        events.Types().Should().Contain(RunEventTypes.RunResumed);
        events.Count(e => e.Type == RunEventTypes.StepStarted && History.NodeOf(e) == "wait").Should().Be(2, "the wait was cut off once and resumed");
        var waitDone = events.Single(e => e.Type == RunEventTypes.StepSucceeded && History.NodeOf(e) == "wait").Timestamp;
        (waitDone - waitStarted).Should().BeGreaterThanOrEqualTo(TimeSpan.FromMilliseconds(3990))
            .And.BeLessThan(TimeSpan.FromMilliseconds(5500), "a restarted wait would end 4 s after the resume, at least 6 s after the start");
    }

    [Fact]
    public async Task Run_NonRetryableHttpStatus_FailsTheRunWithTheStepError()
    {
        var slug = await cluster.PublishAsync(Workflows.CallStatus(cluster.Sink.BaseAddress, 404));

        var runId = await cluster.TriggerAsync(slug);
        var view = await cluster.WaitFinishedAsync(runId);

        view.Status.Should().Be(RunStatus.Failed);
        view.Error.Should().StartWith("step 'call' failed:").And.Contain("404");
        view.Steps.Single(s => s.NodeId == "call").Status.Should().Be(StepStatus.Failed);
        cluster.Sink.CountFor($"mh-{runId}-call").Should().Be(1);
        var events = await cluster.Store.ReadEventsAsync(runId, CancellationToken.None);
        History.ShouldBeConsistent(events);
        events.Types().Should().Contain("step_failed").And.EndWith("run_completed");
        (await cluster.RowStatusAsync(runId)).Should().Be("failed");
    }

    [Fact]
    public async Task Run_TerminateFailed_EndsTheRunFailed()
    {
        var slug = await cluster.PublishAsync(Workflows.TerminateFailed);

        var view = await cluster.WaitFinishedAsync(await cluster.TriggerAsync(slug));

        view.Status.Should().Be(RunStatus.Failed);
        view.Error.Should().Be("terminated by node 'stop'");
    }

    [Fact]
    public async Task Cancel_DuringALongDelay_CancelsAtOnceAndRemovesTheReminder()
    {
        var slug = await cluster.PublishAsync(Workflows.Delayed(600_000));
        var runId = await cluster.TriggerAsync(slug);
        var grain = cluster.Grains.GetGrain<IWorkflowRunGrain>(runId);
        await Poll.UntilAsync(async () => (await grain.GetViewAsync()).Steps.Single(s => s.NodeId == "wait").Status == StepStatus.Running, "delay step started");

        var view = await grain.CancelAsync().WaitAsync(TimeSpan.FromSeconds(10));

        view.Status.Should().Be(RunStatus.Canceled);
        view.Steps.Single(s => s.NodeId == "wait").Status.Should().Be(StepStatus.Canceled);
        view.Steps.Single(s => s.NodeId == "after").Status.Should().Be(StepStatus.Pending);
        var events = await cluster.Store.ReadEventsAsync(runId, CancellationToken.None);
        History.ShouldBeConsistent(events);
        events[^1].Type.Should().Be(RunEventTypes.RunCanceled);
        (await cluster.RowStatusAsync(runId)).Should().Be("canceled");
        await Poll.UntilAsync(async () => await ReminderCountAsync(runId) == 0, "reminder removed");
    }

    [Fact]
    public async Task Cancel_QueuedRunNeverStarted_IsCanceledWithoutRunningAStep()
    {
        var slug = await cluster.PublishAsync(Workflows.Linear(cluster.Sink.BaseAddress));
        var (runId, _) = await cluster.Store.CreateRunAsync(slug, """{"headers":{},"body":{}}""", null, CancellationToken.None);

        var view = await cluster.Grains.GetGrain<IWorkflowRunGrain>(runId).CancelAsync();

        view.Status.Should().Be(RunStatus.Canceled);
        cluster.Sink.CountFor($"mh-{runId}-call").Should().Be(0);
        (await cluster.RowStatusAsync(runId)).Should().Be("canceled");
    }

    [Fact]
    public async Task Start_CalledManyTimes_RunsEachStepOnce()
    {
        var slug = await cluster.PublishAsync(Workflows.Linear(cluster.Sink.BaseAddress, "/many"));
        var (runId, _) = await cluster.Store.CreateRunAsync(slug, """{"headers":{},"body":{"order":1}}""", null, CancellationToken.None);
        var grain = cluster.Grains.GetGrain<IWorkflowRunGrain>(runId);

        await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => grain.StartAsync()));
        var view = await cluster.WaitFinishedAsync(runId);
        await grain.StartAsync();

        view.Status.Should().Be(RunStatus.Succeeded);
        cluster.Sink.CountFor($"mh-{runId}-call").Should().Be(1);
        History.ShouldBeConsistent(await cluster.Store.ReadEventsAsync(runId, CancellationToken.None));
    }

    [Fact]
    public async Task Recovery_RunWhoseStartWasLost_IsStartedByTheSweep()
    {
        var slug = await cluster.PublishAsync(Workflows.Linear(cluster.Sink.BaseAddress, "/lost"));

        // Stored but never started, as when the silo that should have started it went away.
        var (runId, _) = await cluster.Store.CreateRunAsync(slug, """{"headers":{},"body":{"order":2}}""", null, CancellationToken.None);
        await Poll.UntilAsync(async () => await cluster.RowStatusAsync(runId) == "succeeded", "stalled queued run started by the sweep", TimeSpan.FromSeconds(30));

        cluster.Sink.CountFor($"mh-{runId}-call").Should().Be(1);
    }

    [Fact]
    public async Task View_UnknownRun_ThrowsRunNotFound()
    {
        var act = () => cluster.Grains.GetGrain<IWorkflowRunGrain>(Guid.NewGuid()).GetViewAsync();

        await act.Should().ThrowAsync<RunNotFoundException>();
    }

    [Fact]
    public async Task Intake_TriggerThatIsNotJson_IsRefusedAndNothingIsWritten()
    {
        var slug = await cluster.PublishAsync(Workflows.Delayed(1));

        var act = () => cluster.Store.CreateRunAsync(slug, "{not json", null, CancellationToken.None);

        await act.Should().ThrowAsync<ArgumentException>().WithMessage("the trigger is not valid JSON*");
        (await CountRunsAsync(slug)).Should().Be(0);
    }

    [Fact]
    public async Task Intake_UnknownSlug_IsRefusedAndNothingIsWritten()
    {
        var act = () => cluster.Store.CreateRunAsync("no-such-workflow", "{}", null, CancellationToken.None);

        await act.Should().ThrowAsync<WorkflowNotFoundException>();
        (await CountRunsAsync("no-such-workflow")).Should().Be(0);
    }

    [Fact]
    public async Task Intake_SameIdempotencyKey_ReturnsTheSameRun()
    {
        var slug = await cluster.PublishAsync(Workflows.Delayed(1));

        var first = await cluster.Store.CreateRunAsync(slug, "{}", "key-1", CancellationToken.None);
        var second = await cluster.Store.CreateRunAsync(slug, "{}", "key-1", CancellationToken.None);

        first.Created.Should().BeTrue();
        second.Should().Be((first.RunId, false));
        (await CountRunsAsync(slug)).Should().Be(1);
    }

    [Fact]
    public async Task Publish_InvalidDefinition_IsRefusedWithEveryProblemAndNothingIsWritten()
    {
        var slug = $"bad-{Guid.NewGuid():N}"[..20];

        var act = () => cluster.Store.PublishAsync(slug, "bad", """{"nodes": [{"id": "a", "type": "nope"}], "edges": []}""", null, CancellationToken.None);

        var refused = (await act.Should().ThrowAsync<InvalidDefinitionException>()).Which;
        refused.Problems.Count.Should().BeGreaterThanOrEqualTo(2, "unknown type and missing trigger are both reported");
        await using var command = cluster.DataSource.CreateCommand("SELECT count(*) FROM workflow_definitions WHERE slug = @slug");
        command.Parameters.AddWithValue("slug", slug);
        ((long)(await command.ExecuteScalarAsync())!).Should().Be(0);
    }

    private async Task<long> CountRunsAsync(string slug)
    {
        await using var command = cluster.DataSource.CreateCommand("SELECT count(*) FROM workflow_runs WHERE slug = @slug");
        command.Parameters.AddWithValue("slug", slug);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private async Task<long> ReminderCountAsync(Guid runId)
    {
        // The reminder table's grain id text ends with the run id in Orleans' "type/key" form.
        await using var command = cluster.DataSource.CreateCommand("SELECT count(*) FROM orleans_reminders WHERE grain_id LIKE '%' || @key");
        command.Parameters.AddWithValue("key", runId.ToString("N"));
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
