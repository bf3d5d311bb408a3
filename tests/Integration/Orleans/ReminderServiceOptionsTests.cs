using AwesomeAssertions;
using MeshHook.Grains.Runs;
using MeshHook.Silo.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Configuration;

namespace MeshHook.Tests.Integration.Orleans;

/// <summary>How Orleans:ReminderService and MeshHook:Runs reach Orleans' ReminderOptions (AddReminderService).</summary>
public sealed class ReminderServiceOptionsTests
{
    [Fact]
    public void Unset_RefreshPeriodIsCappedSoAFailedFirstLoadIsRetriedWithinAMinute()
    {
        var reminders = Resolve([]);

        reminders.RefreshReminderListPeriod.Should().Be(TimeSpan.FromMinutes(1), "Orleans' 5 minutes would keep a silo unready that long");
        reminders.MinimumReminderPeriod.Should().Be(TimeSpan.FromMinutes(1));
    }

    [Fact]
    public void Configured_RefreshPeriodIsKeptAndAShortRunReminderPeriodLowersTheMinimum()
    {
        var reminders = Resolve(new()
        {
            ["Orleans:ReminderService:RefreshReminderListPeriod"] = "00:03:00",
            ["MeshHook:Runs:ReminderPeriod"] = "00:00:05",
        });

        reminders.RefreshReminderListPeriod.Should().Be(TimeSpan.FromMinutes(3));
        reminders.MinimumReminderPeriod.Should().Be(TimeSpan.FromSeconds(5));
    }

    private static ReminderOptions Resolve(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddOptions<RunOptions>().Bind(configuration.GetSection(RunOptions.Section));
        using var provider = services.AddReminderService(configuration).BuildServiceProvider();
        return provider.GetRequiredService<IOptions<ReminderOptions>>().Value;
    }
}
