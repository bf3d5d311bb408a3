using Microsoft.Extensions.Logging;

namespace MeshHook.Grains.Runs;

/// <summary>
/// The reminder an unfinished run holds in Postgres, so that it always comes back. Registering it must not hold
/// the run up: Orleans routes a registration to the reminder service of the silo that owns the run's place on the
/// hash ring, and while that service has not loaded its range (Postgres refused it connections, or restarted while
/// the silo started) it holds every registration for up to 20 s and then fails it, or fails it at once after three
/// failed loads. So a run waits at most <see cref="RunOptions.ReminderWait"/> for its reminder, starts without it
/// otherwise, and keeps registering it in the background (backoff, one call at a time) until it lands or the run
/// finishes. Meanwhile the recovery sweep, which finds unfinished runs that nothing moves, is the backstop.
/// </summary>
/// <remarks>
/// Lives in one activation and runs on its scheduler (the reminder API needs the grain's context). Whether the
/// reminder is still missing is checkpointed with the run (<see cref="RunState.ReminderMissing"/>), so a run that
/// moves to another silo before its reminder landed goes on registering it there.
/// </remarks>
internal sealed partial class RunReminder(
    IGrainBase grain,
    Guid runId,
    RunState run,
    RunOptions options,
    RunMetrics metrics,
    TimeProvider time,
    ILogger logger)
{
    // A registration merely slowed down by load lands within this; past it (or when it fails) the run's missing
    // reminder is worth a warning. Shorter than the 20 s Orleans holds a registration while its service loads.
    private static readonly TimeSpan WarnAfter = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(30);

    // The handle of the registered reminder: it carries the etag, so removing it needs no read.
    private IGrainReminder? _handle;

    // A registration still in flight; it lands on its own even after the run stopped waiting for it.
    private Task<IGrainReminder>? _pending;
    private CancellationTokenSource? _retries;
    private long _missingSince;
    private int _attempts;
    private bool _warned;
    private bool _removed;

    /// <summary>
    /// Registers the reminder of a run that starts now, waiting at most <see cref="RunOptions.ReminderWait"/>; past
    /// that, or when the call fails, the run goes ahead without it and it is registered in the background.
    /// </summary>
    public async Task RegisterAsync()
    {
        _missingSince = time.GetTimestamp();
        var call = Register();
        try
        {
            Landed(await call.WaitAsync(options.ReminderWait, time));
        }
        catch (Exception e)
        {
            run.ReminderMissing = true;
            if (call.IsCompleted)
            {
                Warn($"{e.GetType().Name}: {e.Message}");
            }
            else
            {
                // Still in flight: the retry loop waits for it, and warns if it is slow to land.
                _pending = call;
                LogWentAhead(runId, options.ReminderWait.TotalSeconds);
            }

            StartRetries();
        }
    }

    /// <summary>A run that resumes here while its checkpoint says its reminder never landed: register it in the background.</summary>
    public void RegisterInBackground()
    {
        if (run.ReminderMissing && _handle is null && !_removed)
        {
            _missingSince = time.GetTimestamp();
            _warned = true;
            metrics.RunWithoutReminder();
            LogResumedWithoutReminder(runId);
            StartRetries();
        }
    }

    /// <summary>A tick arrived, so the reminder is in Postgres, whatever an earlier registration said.</summary>
    public void Confirm()
    {
        if (run.ReminderMissing && !_removed)
        {
            LogReminderConfirmed(runId);
            StopRetries();
            run.ReminderMissing = false;
        }
    }

    /// <summary>The activation goes away: stop retrying here (the next activation takes over from the checkpoint).</summary>
    public void Stop() => StopRetries();

    /// <summary>
    /// The run finished: stop registering and remove the reminder. Waits at most <see cref="RunOptions.ReminderWait"/>;
    /// the removal goes on in the background after that. A registration still in flight is removed once it lands.
    /// A reminder left behind anyway only wakes the finished run, which calls this again.
    /// </summary>
    public async Task RemoveAsync()
    {
        _removed = true;
        StopRetries();
        if (_pending is { IsCompleted: false } pending)
        {
            // Removing now would race the upsert; remove what it registers instead.
            _ = RemoveWhenLandedAsync(pending);
            return;
        }

        var removal = RemoveNowAsync();
        try
        {
            await removal.WaitAsync(options.ReminderWait, time);
        }
        catch (TimeoutException) when (!removal.IsCompleted)
        {
            // Orleans holds the call while the reminder service loads its range; RemoveNowAsync logs how it ends.
        }
    }

    private async Task RemoveNowAsync()
    {
        try
        {
            // A run that resumed here looks its reminder up: it may have landed under an earlier activation.
            var handle = _handle ?? (_pending is { IsCompletedSuccessfully: true } landed ? landed.Result : null) ?? await grain.GetReminder(WorkflowRunGrain.ReminderName);
            if (handle is not null)
            {
                await grain.UnregisterReminder(handle);
            }

            _handle = null;
            _pending = null;
        }
        catch (Exception e)
        {
            // The handle may be stale (a registration of an earlier activation landed after it): the next try, at the
            // leftover reminder's tick, looks the reminder up.
            _handle = null;
            _pending = null;
            LogRemovalFailed(e, runId);
        }
    }

    private async Task RemoveWhenLandedAsync(Task<IGrainReminder> pending)
    {
        IGrainReminder handle;
        try
        {
            handle = await pending;
        }
        catch (Exception)
        {
            // Nothing registered. (A call that timed out on this side may still have landed: that reminder's first
            // tick wakes the finished run, which removes it.)
            return;
        }

        try
        {
            await grain.UnregisterReminder(handle);
        }
        catch (Exception e)
        {
            LogRemovalFailed(e, runId);
        }
    }

    private void StartRetries()
    {
        if (_retries is not null)
        {
            return;
        }

        _retries = new CancellationTokenSource();
        _ = RetryAsync(_retries.Token);
    }

    private void StopRetries()
    {
        _retries?.Cancel();
        _retries?.Dispose();
        _retries = null;
    }

    private async Task RetryAsync(CancellationToken stop)
    {
        var delay = FirstRetryDelay;
        while (!stop.IsCancellationRequested)
        {
            var call = _pending ??= Register();
            try
            {
                var handle = await WaitAndWarnAsync(call, stop);
                _pending = null;
                Landed(handle);
                LogRegisteredLate(runId, time.GetElapsedTime(_missingSince).TotalSeconds, _attempts);
                StopRetries();
                return;
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                // The run finished or its activation goes away; a call still in flight is left to land (see RemoveAsync).
                return;
            }
            catch (Exception e)
            {
                _pending = null;
                Warn($"{e.GetType().Name}: {e.Message}");
                LogRetryFailed(e, runId, _attempts, delay.TotalSeconds);
            }

            try
            {
                // Jitter, so that the runs started during one outage do not retry in step.
                await Task.Delay(delay * (0.8 + (Random.Shared.NextDouble() * 0.4)), time, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            delay = delay * 2 < MaxRetryDelay ? delay * 2 : MaxRetryDelay;
        }
    }

    /// <summary>Waits for a registration in flight; warns once if it has not landed <see cref="WarnAfter"/> after the run went on.</summary>
    private async Task<IGrainReminder> WaitAndWarnAsync(Task<IGrainReminder> call, CancellationToken stop)
    {
        var left = WarnAfter - time.GetElapsedTime(_missingSince);
        if (!_warned && left > TimeSpan.Zero)
        {
            try
            {
                return await call.WaitAsync(left, time, stop);
            }
            catch (TimeoutException) when (!call.IsCompleted)
            {
                // Slow to land: warn, and go on waiting.
            }
        }

        if (!call.IsCompleted)
        {
            Warn($"no answer from Orleans' reminder service {time.GetElapsedTime(_missingSince).TotalSeconds:0} s after the run asked for it");
        }

        return await call.WaitAsync(stop);
    }

    private void Warn(string reason)
    {
        if (_warned)
        {
            return;
        }

        _warned = true;
        metrics.RunWithoutReminder();
        LogStartedWithoutReminder(runId, reason);
    }

    private Task<IGrainReminder> Register()
    {
        _attempts++;
        try
        {
            return grain.RegisterOrUpdateReminder(WorkflowRunGrain.ReminderName, options.ReminderPeriod, options.ReminderPeriod);
        }
        catch (Exception e)
        {
            // Argument checks throw before the call; treat them like a failed call.
            return Task.FromException<IGrainReminder>(e);
        }
    }

    private void Landed(IGrainReminder handle)
    {
        _handle = handle;
        run.ReminderMissing = false;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId} started without its reminder ({Reason}); the run goes on and registers it in the background. Until it lands only the recovery sweep brings the run back if it stalls (MeshHook:Recovery:StalledAfter). Check /health/ready of the silos (reminder service) and Postgres' connections")]
    private partial void LogStartedWithoutReminder(Guid runId, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Run {RunId} went ahead before its reminder was registered (no answer within {Seconds} s); waiting for it in the background")]
    private partial void LogWentAhead(Guid runId, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId} resumed without its reminder (it never landed); registering it in the background")]
    private partial void LogResumedWithoutReminder(Guid runId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId}: reminder registered {Seconds:0.0} s after the run went on without it ({Attempts} attempt(s))")]
    private partial void LogRegisteredLate(Guid runId, double seconds, int attempts);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId}: its reminder ticked, so it is registered")]
    private partial void LogReminderConfirmed(Guid runId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Run {RunId}: reminder registration attempt {Attempt} failed; next in about {DelaySeconds} s")]
    private partial void LogRetryFailed(Exception exception, Guid runId, int attempt, double delaySeconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId}: could not remove its reminder")]
    private partial void LogRemovalFailed(Exception exception, Guid runId);
}
