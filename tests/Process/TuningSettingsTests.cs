using AwesomeAssertions;
using MeshHook.Tests.Process.Infrastructure;

namespace MeshHook.Tests.Process;

/// <summary>The documented Orleans tuning sections, set the way an operator sets them: a real silo starts with each.</summary>
[Collection(SiloProcessesCollection.Name)]
public sealed class TuningSettingsTests
{
    [Fact]
    public async Task Silo_WithEveryTuningSectionSet_StartsAndAnswersReady()
    {
        await using var cluster = await ProcessCluster.CreateAsync("proc_tuning", new Dictionary<string, string?>
        {
            ["Orleans__Membership__ProbeTimeout"] = "00:00:04",
            ["Orleans__GrainDirectoryOptions__RangeLeaseDuration"] = "00:00:20",
            ["Orleans__ReminderService__RefreshReminderListPeriod"] = "00:00:30",
        });

        var silo = cluster.Start("a");
        var ready = silo.WaitReadyAsync(ProcessCluster.StartTimeout);
        var exited = silo.Process.WaitForExitAsync(ProcessCluster.StartTimeout);
        var first = await Task.WhenAny(ready, exited);

        first.Should().BeSameAs(ready, $"the silo starts instead of exiting; output:\n{silo.Process.Output}");
        await ready;
    }
}
