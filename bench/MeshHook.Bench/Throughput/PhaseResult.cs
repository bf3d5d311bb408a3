namespace MeshHook.Bench.Throughput;

/// <summary>What one measurement window of one side (engine or ceiling) produced.</summary>
/// <param name="Completed">Units (runs or commits) that finished inside the window.</param>
/// <param name="Started">Units that started inside the window; with <paramref name="Completed"/> it estimates the work done in it.</param>
/// <param name="Window">The actual length of the window.</param>
/// <param name="LatencyP50">Median latency of the units completed in the window (run: intake → finished).</param>
/// <param name="LatencyP99">99th percentile of the same.</param>
/// <param name="Database">Postgres counter deltas over the window.</param>
/// <param name="Cpu">CPU time spent over the window (this process, the machine).</param>
/// <param name="Failures">Units that did not succeed (failed runs, timed-out runs).</param>
/// <param name="StepEvents">Steps the engine's own meter counted in the window (engine only).</param>
public sealed record PhaseResult(
    long Completed,
    long Started,
    TimeSpan Window,
    TimeSpan LatencyP50,
    TimeSpan LatencyP99,
    PgCounters Database,
    CpuCounters Cpu,
    long Failures,
    long StepEvents)
{
    public double PerSecond => Completed / Window.TotalSeconds;

    /// <summary>Units of work done in the window: the runs that straddle its edges count half.</summary>
    public double WorkInWindow => (Completed + Started) / 2.0;
}
