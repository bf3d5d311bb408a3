using System.Diagnostics.Metrics;
using MeshHook.Grains.Runs;

namespace MeshHook.Bench.Infrastructure;

/// <summary>Counts the steps the engine executed, from its own <c>meshhook_steps</c> counter (a cross-check of runs × nodes).</summary>
public sealed class StepCounter : IDisposable
{
    private readonly MeterListener _listener = new();
    private long _steps;

    public StepCounter()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == RunMetrics.MeterName && instrument.Name == "meshhook_steps")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _steps, value));
        _listener.Start();
    }

    public long Steps => Interlocked.Read(ref _steps);

    public void Dispose() => _listener.Dispose();
}
