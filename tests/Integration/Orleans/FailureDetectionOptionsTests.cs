using AwesomeAssertions;
using MeshHook.Silo.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Configuration;

namespace MeshHook.Tests.Integration.Orleans;

/// <summary>How Orleans:Membership and Orleans:GrainDirectoryOptions reach Orleans' options (AddFailureDetection).</summary>
public sealed class FailureDetectionOptionsTests
{
    [Fact]
    public void OrleansDefaults_KeepTheDirectoryDefault()
    {
        var (membership, directory) = Resolve([]);

        // 4 × 5 s probe timeout × 3 missed probes: a 60 s window, longer than the 30 s default; nothing to cap.
        MeshHookSiloBuilderExtensions.FailureDetectionWindow(membership).Should().Be(TimeSpan.FromSeconds(60));
        directory.RangeLeaseDuration.Should().Be(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public void TunedDetection_CapsTheCrashLeaseAtTheWindow()
    {
        var (membership, directory) = Resolve(new()
        {
            ["Orleans:Membership:ProbeTimeout"] = "00:00:02",
            ["Orleans:Membership:NumMissedProbesLimit"] = "2",
        });

        membership.ProbeTimeout.Should().Be(TimeSpan.FromSeconds(2));
        membership.NumMissedProbesLimit.Should().Be(2);
        directory.RangeLeaseDuration.Should().Be(TimeSpan.FromSeconds(16), "4 × 2 s × 2 missed probes; Orleans would hold a crashed silo's range 30 − 16 = 14 s");
    }

    [Fact]
    public void AnExplicitLease_IsKept()
    {
        var (_, directory) = Resolve(new()
        {
            ["Orleans:Membership:ProbeTimeout"] = "00:00:02",
            ["Orleans:GrainDirectoryOptions:RangeLeaseDuration"] = "00:00:45",
        });

        directory.RangeLeaseDuration.Should().Be(TimeSpan.FromSeconds(45));
    }

    private static (ClusterMembershipOptions Membership, GrainDirectoryOptions Directory) Resolve(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        using var services = new ServiceCollection().AddFailureDetection(configuration).BuildServiceProvider();
        return (services.GetRequiredService<IOptions<ClusterMembershipOptions>>().Value, services.GetRequiredService<IOptions<GrainDirectoryOptions>>().Value);
    }
}
