using System.ComponentModel.DataAnnotations;

namespace MeshHook.Silo.Shutdown;

/// <summary>The graceful-shutdown time budget, bound from <c>MeshHook:Shutdown</c>. The phases must nest inside <see cref="GracePeriod"/>.</summary>
public sealed record ShutdownOptions
{
    public const string Section = "MeshHook:Shutdown";

    /// <summary>How long steps in flight may run after SIGTERM before they are cancelled and recorded as interrupted.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(25);

    /// <summary>Time allowed after the drain for saving and handing the runs to survivors (grain deactivation).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:05:00")]
    public TimeSpan HandOffTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// At the start of a stop, how long the silo may spend finding peers that are listed as active but refuse
    /// connections (killed moments ago), and declaring them dead, so that the hand-off does not wait for failure
    /// detection (<see cref="DeadPeerCheck"/>). It runs while the drain runs, and delays the Orleans silo's own
    /// stop only when a peer refuses connections. Zero turns the check off.
    /// Six seconds by default: Orleans writes the declaration in the background and, when that write fails (a Postgres
    /// restart at that moment, soak bug 21), tries again after a random 1 to 5 s; one second left no room for it.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:10")]
    public TimeSpan PeerCheckTimeout { get; init; } = TimeSpan.FromSeconds(6);

    /// <summary>Time allowed for writing the shutdown report and closing connections.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:01:00")]
    public TimeSpan ReportTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The container's grace period between SIGTERM and SIGKILL (Kubernetes' terminationGracePeriodSeconds,
    /// 30 s by default). The whole sequence must end before it, or the kill cuts off state writes.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "02:00:00")]
    public TimeSpan GracePeriod { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Once the host has stopped (runs saved and handed off, report written, Orleans left the cluster), close the
    /// Postgres connections and flush the log explicitly, then end the process at once instead of running .NET's
    /// teardown (disposing every service, process-exit handlers, runtime shutdown). That teardown changes nothing
    /// outside the process, but it is a chain of waits that a busy machine stretches (docs/benchmarks.md, "Fast exit").
    /// Linux only; elsewhere, or when false, the process exits the ordinary way.
    /// </summary>
    public bool FastExit { get; init; } = true;

    /// <summary>
    /// How long Orleans' own stop stages may still take once the report is written, before the process exits 0 anyway
    /// (<see cref="AfterReportWatchdog"/>). Needs <see cref="FastExit"/> on Linux; elsewhere the host's own timeout applies.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.500", "00:01:00")]
    public TimeSpan AfterReportTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// What the phases need at most: drain (or the peer check, which runs beside it, if longer) + hand-off + every
    /// hook's limit + report. Must be below <see cref="GracePeriod"/>.
    /// </summary>
    public TimeSpan Budget(IEnumerable<IShutdownHook> hooks) =>
        (PeerCheckTimeout > DrainTimeout ? PeerCheckTimeout : DrainTimeout) + HandOffTimeout + hooks.Aggregate(TimeSpan.Zero, (sum, h) => sum + h.Timeout) + ReportTimeout;

    /// <summary>
    /// The host's shutdown timeout the silo sets: all of the grace period but a last second (for the process to
    /// exit before SIGKILL), and never less than <see cref="Budget"/>. The slack goes to the phases that
    /// overrun on a loaded machine, so saving and handing off runs is not cut off while the grace period lasts.
    /// </summary>
    public TimeSpan HostShutdownTimeout(IEnumerable<IShutdownHook> hooks)
    {
        var budget = Budget(hooks);
        var available = GracePeriod - TimeSpan.FromSeconds(1);
        return available > budget ? available : budget;
    }
}
