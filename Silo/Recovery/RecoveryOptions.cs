using System.ComponentModel.DataAnnotations;

namespace MeshHook.Silo.Recovery;

/// <summary>Settings of the recovery sweep, bound from <c>MeshHook:Recovery</c>.</summary>
public sealed record RecoveryOptions
{
    public const string Section = "MeshHook:Recovery";

    /// <summary>How often each silo looks for unfinished runs that nobody is moving.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan SweepInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The last backstop: a queued or running run whose row has not changed for this long is (re)started by the
    /// sweep even though its silo is alive. Runs of dead silos and never-started runs are swept without waiting
    /// for it. Keep it well above the longest quiet stretch of a healthy run (a slow step, a loaded cluster),
    /// or the sweep adds load exactly when the cluster is behind.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan StalledAfter { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>A queued run never picked up by any silo is started by the sweep once it is this old (its creator normally starts it at once).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan UnstartedAfter { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>At most this many runs are started per sweep; the rest wait for the next one.</summary>
    [Range(1, 100_000)]
    public int BatchSize { get; init; } = 1000;

    /// <summary>At most this many start calls are in flight at once, so a big backlog does not stampede.</summary>
    [Range(1, 1024)]
    public int Concurrency { get; init; } = 16;
}
