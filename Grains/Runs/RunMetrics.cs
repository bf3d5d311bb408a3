using System.Diagnostics.Metrics;

namespace MeshHook.Grains.Runs;

/// <summary>The run engine's metrics (meter <c>MeshHook.Runs</c>): steps and runs by outcome.</summary>
public sealed class RunMetrics : IDisposable
{
    public const string MeterName = "MeshHook.Runs";

    private readonly Meter _meter;
    private readonly Counter<long> _steps;
    private readonly Counter<long> _runsFinished;
    private readonly Histogram<double> _stepDuration;
    private readonly Histogram<double> _recovery;

    public RunMetrics(IMeterFactory meters)
    {
        _meter = meters.Create(MeterName);
        _steps = _meter.CreateCounter<long>("meshhook_steps", description: "Steps executed, by node type and outcome");
        _runsFinished = _meter.CreateCounter<long>("meshhook_runs_finished", description: "Runs finished, by status");
        _stepDuration = _meter.CreateHistogram<double>("meshhook_step_duration", unit: "s", description: "Step execution time");
        _recovery = _meter.CreateHistogram<double>("meshhook_run_recovery", unit: "s", description: "Time from a run's interruption or hand-off to its resume");
    }

    public void StepFinished(string nodeType, string outcome, TimeSpan duration)
    {
        var tags = new KeyValuePair<string, object?>[] { new("type", nodeType), new("outcome", outcome) };
        _steps.Add(1, tags);
        _stepDuration.Record(duration.TotalSeconds, tags);
    }

    public void RunFinished(RunStatus status) => _runsFinished.Add(1, new KeyValuePair<string, object?>("status", status.ToText()));

    /// <summary>A run resumed; <paramref name="suspended"/> is how long a drain had suspended it, if one had.</summary>
    public void RunRecovered(TimeSpan? suspended)
    {
        if (suspended is { } time)
        {
            _recovery.Record(time.TotalSeconds);
        }
    }

    public void Dispose() => _meter.Dispose();
}
