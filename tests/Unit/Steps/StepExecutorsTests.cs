using AwesomeAssertions;
using MeshHook.Grains.Definitions;
using MeshHook.Grains.Steps;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace MeshHook.Tests.Unit.Steps;

public sealed class StepExecutorsTests
{
    [Theory]
    [InlineData(WebhookNode.TypeName, typeof(WebhookExecutor))]
    [InlineData(TransformNode.TypeName, typeof(TransformExecutor))]
    [InlineData(HttpCallNode.TypeName, typeof(HttpCallExecutor))]
    [InlineData(BranchNode.TypeName, typeof(BranchExecutor))]
    [InlineData(DelayNode.TypeName, typeof(DelayExecutor))]
    [InlineData(TerminateNode.TypeName, typeof(TerminateExecutor))]
    public void StepExecutors_AddMeshHookSteps_ResolvesAnExecutorForEveryNodeType(string nodeType, Type executorType)
    {
        using var services = new ServiceCollection().AddMeshHookSteps().BuildServiceProvider();

        var executor = services.GetRequiredService<StepExecutors>().For(nodeType);

        executor.Should().BeOfType(executorType);
        executor.NodeType.Should().Be(nodeType);
    }

    [Fact]
    public void StepExecutors_UnknownNodeType_ThrowsNamingIt()
    {
        using var services = new ServiceCollection().AddMeshHookSteps().BuildServiceProvider();

        var act = () => services.GetRequiredService<StepExecutors>().For("carrier_pigeon");

        act.Should().Throw<KeyNotFoundException>().WithMessage("*'carrier_pigeon'*");
    }

    [Fact]
    public void AddMeshHookSteps_CalledTwice_RegistersEachExecutorOnce()
    {
        using var services = new ServiceCollection().AddMeshHookSteps().AddMeshHookSteps().BuildServiceProvider();

        services.GetServices<IStepExecutor>().Should().HaveCount(6);
        services.GetRequiredService<StepExecutors>().NodeTypes.Should().HaveCount(6);
    }

    [Fact]
    public void StepExecutors_TwoExecutorsForOneType_ThrowsNamingBoth()
    {
        var act = () => new StepExecutors([new TransformExecutor(), new TransformExecutor()]);

        act.Should().Throw<InvalidOperationException>().WithMessage("*'transform'*");
    }
}
