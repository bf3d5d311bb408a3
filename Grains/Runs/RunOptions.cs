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

    /// <summary>
    /// The largest output one step may produce, as compact JSON in UTF-8 (2 MiB). A larger one fails the step, saying
    /// so; nothing is truncated. An http_call's answer body alone is capped at 1 MiB before this.
    /// </summary>
    [Range(1024, 64L * 1024 * 1024)]
    public long MaxStepOutputBytes { get; init; } = 2L * 1024 * 1024;

    /// <summary>
    /// The largest total of a run's step outputs (16 MiB): what the run holds in memory, carries in a hand-off and
    /// rebuilds from its history. A step whose output would take the run over it fails, saying so.
    /// </summary>
    [Range(1024, 1024L * 1024 * 1024)]
    public long MaxRunOutputBytes { get; init; } = 16L * 1024 * 1024;
}
