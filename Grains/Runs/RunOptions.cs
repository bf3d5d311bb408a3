using System.ComponentModel.DataAnnotations;

namespace MeshHook.Grains.Runs;

/// <summary>Settings of run execution, bound from <c>MeshHook:Runs</c>.</summary>
public sealed record RunOptions
{
    public const string Section = "MeshHook:Runs";

    /// <summary>
    /// Period of the reminder every unfinished run holds (its row is written by the run's checkpoints); after a crash a
    /// run comes back at the latest this long after its silo is declared dead. Orleans refuses periods below
    /// <c>ReminderOptions.MinimumReminderPeriod</c> (1 minute by default), which the silo lowers to match.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan ReminderPeriod { get; init; } = TimeSpan.FromMinutes(1);
}
