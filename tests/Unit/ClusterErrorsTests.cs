using AwesomeAssertions;
using MeshHook.Grains;

namespace MeshHook.Tests.Unit;

/// <summary>
/// Which cluster failures the gateway retries and answers with 503 + Retry-After (instead of 500). The chaos soak found
/// a cancel answered 500 while every silo was stopping or starting: Orleans' placement threw a plain OrleansException.
/// </summary>
public sealed class ClusterErrorsTests
{
    [Fact]
    public void IsTransient_NoActiveSiloHostsTheGrain_IsTransient()
    {
        // The message as Orleans 10's PlacementService.GetCompatibleSilos words it (seen in the soak's gateway log).
        var e = new OrleansException(
            "No active nodes are compatible with grain workflowrun and interface MeshHook.Grains.IWorkflowRunGrain version 0. " +
            "Known nodes with grain type: none. All known nodes compatible with interface version: none");

        ClusterErrors.IsTransient(e).Should().BeTrue("a moment later a silo that hosts run grains is active again");
    }

    [Fact]
    public void IsTransient_OtherOrleansException_IsNot()
    {
        ClusterErrors.IsTransient(new OrleansException("Grain type workflowrun is not known")).Should().BeFalse();
    }

    [Fact]
    public void IsTransient_TimeoutAndSiloUnavailable_AreTransient()
    {
        ClusterErrors.IsTransient(new TimeoutException()).Should().BeTrue();
        ClusterErrors.IsTransient(new SiloUnavailableException()).Should().BeTrue();
    }
}
