using AwesomeAssertions;
using MeshHook.Grains.Draining;
using MeshHook.Grains.Runs;
using Microsoft.Extensions.Time.Testing;

namespace MeshHook.Tests.Unit.Runs;

/// <summary>
/// Why a drain cut its steps off is recorded where the cut-off happens. The in-process chaos soak saw steps cut off at
/// the drain limit recorded as "forced stop": the grain compared the deadline with the clock, and the timer had fired a
/// moment before it.
/// </summary>
public sealed class SiloDrainTests
{
    [Fact]
    public void CutOff_AtTheDrainLimit_SaysDrainLimitReached()
    {
        var time = new FakeTimeProvider();
        using var drain = new SiloDrain();
        drain.TryEnterStep().Should().BeTrue();

        drain.Begin(TimeSpan.FromSeconds(4), time);
        drain.CutOffReason.Should().BeNull("nothing is cut off before the limit");
        time.Advance(TimeSpan.FromSeconds(4));

        drain.StepCancellation.IsCancellationRequested.Should().BeTrue();
        drain.CutOffReason.Should().Be(SiloDrain.DrainLimitReached);
        drain.Forced.Should().BeTrue("a step was still running at the limit");
    }

    [Fact]
    public void CutOff_BySecondSignal_SaysForcedStop_AndTheLaterLimitDoesNotRelabelIt()
    {
        var time = new FakeTimeProvider();
        using var drain = new SiloDrain();
        drain.TryEnterStep().Should().BeTrue();
        drain.Begin(TimeSpan.FromSeconds(4), time);

        drain.Force();
        time.Advance(TimeSpan.FromSeconds(5));

        drain.CutOffReason.Should().Be(SiloDrain.ForcedStop);
    }

    [Fact]
    public void Drain_NoStepRunningAtTheLimit_IsNotForced()
    {
        var time = new FakeTimeProvider();
        using var drain = new SiloDrain();
        drain.TryEnterStep().Should().BeTrue();
        drain.Begin(TimeSpan.FromSeconds(4), time);

        drain.ExitStep(StepExit.Finished);
        time.Advance(TimeSpan.FromSeconds(4));

        drain.Forced.Should().BeFalse();
        drain.Drained.IsCompleted.Should().BeTrue();
    }
}
