using System.ComponentModel.DataAnnotations;

namespace MeshHook.Grains.Runs;

/// <summary>Settings of run execution, bound from <c>MeshHook:Runs</c>.</summary>
public sealed record RunOptions
{
    public const string Section = "MeshHook:Runs";

    /// <summary>
    /// Period of the reminder every unfinished run holds; after a crash a run comes back at the latest this long after.
    /// Orleans refuses periods below <c>ReminderOptions.MinimumReminderPeriod</c> (1 minute by default).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan ReminderPeriod { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Longest a run waits for Orleans' reminder service when it registers its reminder at start (and when it removes
    /// it at the end). Past it the run goes on and the call completes, or is retried, in the background. Orleans itself
    /// would hold a registration up to 20 s while the reminder service that owns the run's reminder has not loaded its
    /// range.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:00:30")]
    public TimeSpan ReminderWait { get; init; } = TimeSpan.FromSeconds(1);
}
