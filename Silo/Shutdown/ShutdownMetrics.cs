using System.Diagnostics.Metrics;

namespace MeshHook.Silo.Shutdown;

/// <summary>Shutdown figures as metrics (meter <c>MeshHook.Shutdown</c>, names <c>meshhook_shutdown_*</c>).</summary>
public sealed class ShutdownMetrics : IDisposable
{
    public const string MeterName = "MeshHook.Shutdown";

    private readonly Meter _meter;
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _stepsCompleted;
    private readonly Counter<long> _stepsInterrupted;
    private readonly Counter<long> _runsHandedOff;
    private readonly Counter<long> _hooksFailed;
    private readonly Counter<long> _shutdowns;

    public ShutdownMetrics(IMeterFactory meters)
    {
        _meter = meters.Create(MeterName);
        _duration = _meter.CreateHistogram<double>("meshhook_shutdown_duration", unit: "s", description: "Graceful shutdown duration, signal to report");
        _stepsCompleted = _meter.CreateCounter<long>("meshhook_shutdown_steps_completed", description: "Steps that finished during a drain");
        _stepsInterrupted = _meter.CreateCounter<long>("meshhook_shutdown_steps_interrupted", description: "Steps cut off at the drain limit or by a forced stop");
        _runsHandedOff = _meter.CreateCounter<long>("meshhook_shutdown_runs_handed_off", description: "Runs passed on by a stopping silo");
        _hooksFailed = _meter.CreateCounter<long>("meshhook_shutdown_hooks_failed", description: "Shutdown hooks that threw or overran");
        _shutdowns = _meter.CreateCounter<long>("meshhook_shutdowns", description: "Silo stops, by forced or not");
    }

    public void Record(ShutdownReport report)
    {
        _duration.Record(report.Duration.TotalSeconds);
        _stepsCompleted.Add(report.StepsCompleted);
        _stepsInterrupted.Add(report.StepsInterrupted);
        _runsHandedOff.Add(report.RunsHandedOff);
        _hooksFailed.Add(report.HooksFailed);
        _shutdowns.Add(1, new KeyValuePair<string, object?>("forced", report.Forced));
    }

    public void Dispose() => _meter.Dispose();
}
