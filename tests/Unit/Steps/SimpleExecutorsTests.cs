using AwesomeAssertions;
using MeshHook.Grains;
using MeshHook.Grains.Definitions;
using MeshHook.Grains.Steps;
using Newtonsoft.Json.Linq;
using Xunit;

namespace MeshHook.Tests.Unit.Steps;

public sealed class SimpleExecutorsTests
{
    private readonly RecordingObserver _observer = new();
    private readonly JObject _context = JObject.Parse("""
        {
          "trigger": {"headers": {"x-source": "test"}, "body": {"order": {"id": 7, "lines": [1, 2]}, "flag": false}},
          "steps": {"fetch": {"status": 200}}
        }
        """);

    [Fact]
    public void Failed_ALongError_IsCutToTheLimit_AndAShortOneIsKept()
    {
        var cut = new StepOutcome.Failed("expression failed: " + new string('x', 10_000)).Error;

        cut.Should().HaveLength(StepOutcome.Failed.MaxErrorLength).And.StartWith("expression failed: xxx").And.EndWith("…");
        new StepOutcome.Failed("short").Error.Should().Be("short");
    }

    [Fact]
    public async Task Transform_Expression_OutputIsEvaluatedOverTheContext()
    {
        var node = new TransformNode("shape", JmesExpression.Compile("{id: trigger.body.order.id, status: steps.fetch.status}"));

        var outcome = await new TransformExecutor().ExecuteAsync(Invocation(node), TestContext.Current.CancellationToken);

        outcome.Should().BeOfType<StepOutcome.Succeeded>()
            .Which.Output.ShouldBeJson("""{"id": 7, "status": 200}""");
    }

    [Fact]
    public async Task Transform_OutputMutated_ContextIsUntouched()
    {
        var node = new TransformNode("pick", JmesExpression.Compile("trigger.body.order"));
        var before = _context.DeepClone();

        var outcome = await new TransformExecutor().ExecuteAsync(Invocation(node), TestContext.Current.CancellationToken);
        ((JObject)((StepOutcome.Succeeded)outcome).Output)["id"] = 99;

        JToken.DeepEquals(_context, before).Should().BeTrue();
    }

    [Fact]
    public async Task Transform_MissingValue_OutputIsJsonNull()
    {
        var node = new TransformNode("missing", JmesExpression.Compile("trigger.body.nope"));

        var outcome = await new TransformExecutor().ExecuteAsync(Invocation(node), TestContext.Current.CancellationToken);

        outcome.Should().BeOfType<StepOutcome.Succeeded>().Which.Output.Type.Should().Be(JTokenType.Null);
    }

    [Theory]
    [InlineData("trigger.body.order", true)]
    [InlineData("trigger.body.order.lines", true)]
    [InlineData("trigger.body.order.id == `7`", true)]
    [InlineData("`0`", true)]
    [InlineData("trigger.body.flag", false)]
    [InlineData("trigger.body.nope", false)]
    [InlineData("''", false)]
    [InlineData("`[]`", false)]
    [InlineData("`{}`", false)]
    public async Task Branch_Condition_SucceedsWithItsTruthinessAndLabel(string condition, bool expected)
    {
        var node = new BranchNode("decide", JmesExpression.Compile(condition));

        var outcome = await new BranchExecutor().ExecuteAsync(Invocation(node), TestContext.Current.CancellationToken);

        var succeeded = outcome.Should().BeOfType<StepOutcome.Succeeded>().Subject;
        succeeded.Output.ShouldBeJson(new JValue(expected));
        succeeded.BranchLabel.Should().Be(expected ? "true" : "false");
    }

    [Theory]
    [InlineData(RunStatus.Succeeded)]
    [InlineData(RunStatus.Failed)]
    public async Task Terminate_Node_EndsTheRunWithItsStatus(RunStatus status)
    {
        var outcome = await new TerminateExecutor().ExecuteAsync(
            Invocation(new TerminateNode("end", status)), TestContext.Current.CancellationToken);

        outcome.Should().Be(new StepOutcome.Terminated(status));
    }

    [Fact]
    public async Task Webhook_Trigger_OutputIsTheTriggerBody()
    {
        var outcome = await new WebhookExecutor().ExecuteAsync(Invocation(new WebhookNode("hook")), TestContext.Current.CancellationToken);

        outcome.Should().BeOfType<StepOutcome.Succeeded>()
            .Which.Output.ShouldBeJson(_context["trigger"]!["body"]);
    }

    [Fact]
    public async Task Webhook_TriggerWithoutBody_OutputIsJsonNull()
    {
        var invocation = Invocation(new WebhookNode("hook")) with { Context = JObject.Parse("""{"trigger": {"headers": {}}, "steps": {}}""") };

        var outcome = await new WebhookExecutor().ExecuteAsync(invocation, TestContext.Current.CancellationToken);

        outcome.Should().BeOfType<StepOutcome.Succeeded>().Which.Output.Type.Should().Be(JTokenType.Null);
    }

    [Fact]
    public async Task Executor_NodeOfAnotherType_ThrowsArgumentException()
    {
        var act = () => new TransformExecutor().ExecuteAsync(Invocation(new WebhookNode("hook")), TestContext.Current.CancellationToken);

        await act.Should().ThrowAsync<ArgumentException>().WithMessage("*'hook'*webhook*");
    }

    private StepInvocation Invocation(WorkflowNode node) =>
        new(Guid.NewGuid(), node, _context, DateTimeOffset.UtcNow, _observer);
}
