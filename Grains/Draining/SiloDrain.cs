namespace MeshHook.Grains.Draining;

/// <summary>
/// This silo's drain, shared by the shutdown sequence and the run grains living here. Two separate signals:
/// <see cref="IsDraining"/> stops runs from starting new steps; <see cref="StepCancellation"/> cuts off the
/// steps still running once the drain limit passes (or at once on a forced stop).
/// </summary>
public sealed class SiloDrain : IDisposable
{
    private readonly CancellationTokenSource _stepCancellation = new();
    private readonly CancellationTokenSource _started = new();
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly object _gate = new();
    private ITimer? _deadlineTimer;
    private int _inFlight;
    private int _stepsCompleted;
    private int _stepsInterrupted;
    private int _runsHandedOff;
    private volatile bool _draining;
    private volatile bool _forced;
    private string? _cutOffReason;

    /// <summary>True from the first moment of a stop: no run here starts a new step.</summary>
    public bool IsDraining => _draining;

    /// <summary>The <c>run_interrupted</c> reason of a step cut off at the drain limit.</summary>
    public const string DrainLimitReached = "drain limit reached";

    /// <summary>The <c>run_interrupted</c> reason of a step cut off by a second signal.</summary>
    public const string ForcedStop = "forced stop";

    /// <summary>True when the steps still running were cut off before finishing on their own.</summary>
    public bool Forced => _forced;

    /// <summary>
    /// Why steps were cut off (<see cref="DrainLimitReached"/> or <see cref="ForcedStop"/>), null before. Recorded where the
    /// cut-off happens: a grain comparing clocks got it wrong when the timer fired a moment before the deadline.
    /// </summary>
    public string? CutOffReason => Volatile.Read(ref _cutOffReason);

    /// <summary>Cancelled when the drain limit passes or the stop is forced; steps in flight run under it.</summary>
    public CancellationToken StepCancellation => _stepCancellation.Token;

    /// <summary>Cancelled when the drain starts: durable waits (delay steps) stop at once and move with the run.</summary>
    public CancellationToken DrainStarted => _started.Token;

    /// <summary>When the drain limit passes (null before the drain).</summary>
    public DateTimeOffset? Deadline { get; private set; }

    /// <summary>Completes when no step is executing on this silo any more (only meaningful once draining).</summary>
    public Task Drained => _drained.Task;

    public int StepsInFlight => Volatile.Read(ref _inFlight);

    public int StepsCompleted => Volatile.Read(ref _stepsCompleted);

    public int StepsInterrupted => Volatile.Read(ref _stepsInterrupted);

    public int RunsHandedOff => Volatile.Read(ref _runsHandedOff);

    /// <summary>Starts the drain (idempotent): from now on no new step starts, and steps still running at <paramref name="timeout"/> are cut off.</summary>
    public void Begin(TimeSpan timeout, TimeProvider time)
    {
        lock (_gate)
        {
            if (_draining)
            {
                return;
            }

            Deadline = time.GetUtcNow() + timeout;
            _draining = true;
            _started.Cancel();
            _deadlineTimer = time.CreateTimer(_ => CutOff(forced: false), null, timeout, Timeout.InfiniteTimeSpan);
            if (_inFlight == 0)
            {
                _drained.TrySetResult();
            }
        }
    }

    /// <summary>A second signal: cut the steps off now instead of at the limit.</summary>
    public void Force()
    {
        lock (_gate)
        {
            _draining = true;
            Deadline ??= DateTimeOffset.UtcNow;
            _started.Cancel();
        }

        CutOff(forced: true);
    }

    /// <summary>A step starts executing; false when the silo drains and the step must not start.</summary>
    public bool TryEnterStep()
    {
        lock (_gate)
        {
            if (_draining)
            {
                return false;
            }

            _inFlight++;
            return true;
        }
    }

    /// <summary>A step stopped executing: it finished (success or failure), was interrupted, or (a durable wait) was suspended.</summary>
    public void ExitStep(StepExit exit)
    {
        lock (_gate)
        {
            _inFlight--;
            if (_draining)
            {
                if (exit == StepExit.Interrupted)
                {
                    _stepsInterrupted++;
                }
                else if (exit == StepExit.Finished)
                {
                    _stepsCompleted++;
                }

                if (_inFlight == 0)
                {
                    _drained.TrySetResult();
                }
            }
        }
    }

    /// <summary>A run left this silo for a survivor (or for storage, with no survivor).</summary>
    public void RunHandedOff() => Interlocked.Increment(ref _runsHandedOff);

    public void Dispose()
    {
        _deadlineTimer?.Dispose();
        _stepCancellation.Dispose();
        _started.Dispose();
    }

    private void CutOff(bool forced)
    {
        // Forced means the stop was not clean: a second signal, or steps still running at the limit.
        if (forced || Volatile.Read(ref _inFlight) > 0)
        {
            _forced = true;
        }

        // The first cut-off is the one steps saw.
        Interlocked.CompareExchange(ref _cutOffReason, forced ? ForcedStop : DrainLimitReached, null);

        try
        {
            _stepCancellation.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The silo is already gone.
        }
    }
}

/// <summary>How a step stopped executing on a silo.</summary>
public enum StepExit
{
    /// <summary>It ran to its end (succeeded or failed) and was checkpointed.</summary>
    Finished,

    /// <summary>It was cut off mid-way and runs again where the run resumes.</summary>
    Interrupted,

    /// <summary>A durable wait stopped early; it goes on, with its original due time, where the run resumes.</summary>
    Suspended,
}
