using MeshHook.Grains.Draining;
using MeshHook.Grains.Runs;
using Microsoft.Extensions.Options;
using Npgsql;

namespace MeshHook.Silo.Shutdown;

/// <summary>
/// The graceful-shutdown sequence of one silo, hung on the silo lifecycle:
/// <list type="number">
/// <item>intake closes at the first signal (ApplicationStopping, or the Active stage's stop, whichever comes first);</item>
/// <item>the drain starts: no run starts a new step; steps in flight get up to DrainTimeout;</item>
/// <item>Orleans marks the silo ShuttingDown and deactivates the grains: each run saves and moves to a survivor (see WorkflowRunGrain.HandOffAsync);</item>
/// <item>the shutdown hooks run in order, each under its own limit;</item>
/// <item>the report is logged, recorded as metrics and written to meshhook_shutdowns, before Postgres connections close.</item>
/// </list>
/// </summary>
public sealed partial class ShutdownCoordinator : ILifecycleParticipant<ISiloLifecycle>
{
    /// <summary>Hooks run after grain deactivation and the directory shutdown, before application services (storage) stop.</summary>
    public const int HooksStage = ServiceLifecycleStage.ApplicationServices + 9000;

    /// <summary>The report is written after the hooks, while Postgres is still reachable.</summary>
    public const int ReportStage = HooksStage - 1;

    private readonly SiloDrain _drain;
    private readonly IOptions<ShutdownOptions> _options;
    private readonly IReadOnlyList<IShutdownHook> _hooks;
    private readonly NpgsqlDataSource _dataSource;
    private readonly ShutdownMetrics _metrics;
    private readonly ILocalSiloDetails _silo;
    private readonly TimeProvider _time;
    private readonly ILogger<ShutdownCoordinator> _logger;
    private readonly TaskCompletionSource<ShutdownReport> _report = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _started;
    private long _startTimestamp;
    private DateTimeOffset _startedAt;
    private TimeSpan? _drainDuration;
    private TimeSpan _hooksStartedAfter;
    private TimeSpan _hooksDuration;
    private int _hooksFailed;

    public ShutdownCoordinator(
        SiloDrain drain,
        IOptions<ShutdownOptions> options,
        IEnumerable<IShutdownHook> hooks,
        NpgsqlDataSource dataSource,
        ShutdownMetrics metrics,
        ILocalSiloDetails silo,
        TimeProvider time,
        ILogger<ShutdownCoordinator> logger,
        IHostApplicationLifetime? lifetime = null)
    {
        _drain = drain;
        _options = options;
        _hooks = hooks.Select((hook, index) => (hook, index)).OrderBy(h => h.hook.Order).ThenBy(h => h.index).Select(h => h.hook).ToArray();
        _dataSource = dataSource;
        _metrics = metrics;
        _silo = silo;
        _time = time;
        _logger = logger;

        // Latch on the host's first signal, so intake closes before anything waits on the host's other services.
        lifetime?.ApplicationStopping.Register(() => Begin("stop requested"));

        // Orleans has left the cluster; what remains is closing connections and the process exit (see FastExit).
        lifetime?.ApplicationStopped.Register(() =>
        {
            if (Started)
            {
                LogHostStopped(SinceStopBegan.TotalMilliseconds);
            }
        });
    }

    /// <summary>The report of this silo's stop, once written.</summary>
    public Task<ShutdownReport> Report => _report.Task;

    /// <summary>True once the stop has begun.</summary>
    public bool Started => Volatile.Read(ref _started) != 0;

    /// <summary>Time since the stop began (the first signal); zero before it.</summary>
    public TimeSpan SinceStopBegan => Started ? _time.GetElapsedTime(_startTimestamp) : TimeSpan.Zero;

    public void Participate(ISiloLifecycle lifecycle)
    {
        lifecycle.Subscribe($"{nameof(ShutdownCoordinator)}.Intake", ServiceLifecycleStage.Active, _ => Task.CompletedTask, OnActiveStopAsync);
        lifecycle.Subscribe($"{nameof(ShutdownCoordinator)}.Hooks", HooksStage, _ => Task.CompletedTask, RunHooksAsync);
        lifecycle.Subscribe($"{nameof(ShutdownCoordinator)}.Report", ReportStage, OpenFirstConnectionAsync, WriteReportAsync);
    }

    /// <summary>
    /// Opens (and returns to the pool) the data source's first connection at start. The first open also loads Postgres'
    /// types, which on a busy machine took longer than <see cref="ShutdownOptions.ReportTimeout"/>: a silo that had not
    /// used its data source before its stop then wrote no report row (seen in the in-process chaos soak).
    /// </summary>
    private async Task OpenFirstConnectionAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(TimeSpan.FromSeconds(10));
            await using var connection = await _dataSource.OpenConnectionAsync(limit.Token);
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException or TimeoutException)
        {
            // Not a reason to refuse to start: the report opens a connection itself when it needs one.
            LogFirstConnectionFailed(e);
        }
    }

    /// <summary>A second signal: cut the steps in flight off now; everything else still runs.</summary>
    public void Force()
    {
        Begin("forced");
        LogForced();
        _drain.Force();
    }

    private void Begin(string cause)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            return;
        }

        _startTimestamp = _time.GetTimestamp();
        _startedAt = _time.GetUtcNow();
        var drainTimeout = _options.Value.DrainTimeout;
        _drain.Begin(drainTimeout, _time);
        LogIntakeClosed(cause, _drain.StepsInFlight, drainTimeout.TotalSeconds);
        _ = _drain.Drained.ContinueWith(
            _ =>
            {
                _drainDuration = _time.GetElapsedTime(_startTimestamp);
                LogDrained(_drainDuration.Value.TotalMilliseconds, _drain.StepsCompleted, _drain.StepsInterrupted);
            },
            TaskScheduler.Default);
    }

    private Task OnActiveStopAsync(CancellationToken cancellationToken)
    {
        Begin("silo stopping");

        // A stop that arrives already cancelled is not graceful: take the short path.
        if (cancellationToken.IsCancellationRequested)
        {
            Force();
        }
        else
        {
            cancellationToken.Register(Force);
        }

        // Nothing waits here: each run waits for its own step and hands itself off during grain deactivation.
        return Task.CompletedTask;
    }

    private async Task RunHooksAsync(CancellationToken cancellationToken)
    {
        Begin("silo stopping");
        _hooksStartedAfter = _time.GetElapsedTime(_startTimestamp);
        var handOff = _hooksStartedAfter - (_drainDuration ?? _hooksStartedAfter);
        LogHandedOff(handOff.TotalMilliseconds, _drain.RunsHandedOff, _hooks.Count);
        var started = _time.GetTimestamp();
        foreach (var hook in _hooks)
        {
            var hookStarted = _time.GetTimestamp();
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(hook.Timeout);
            try
            {
                // WaitAsync bounds a hook that ignores its token.
                await hook.RunAsync(limit.Token).WaitAsync(hook.Timeout, _time, CancellationToken.None);
                LogHookDone(hook.Name, _time.GetElapsedTime(hookStarted).TotalMilliseconds);
            }
            catch (Exception e) when (e is TimeoutException || (e is OperationCanceledException && limit.IsCancellationRequested))
            {
                _hooksFailed++;
                LogHookTimedOut(hook.Name, hook.Timeout.TotalSeconds);
            }
            catch (Exception e)
            {
                _hooksFailed++;
                LogHookFailed(e, hook.Name);
            }
        }

        _hooksDuration = _time.GetElapsedTime(started);
    }

    private async Task WriteReportAsync(CancellationToken cancellationToken)
    {
        Begin("silo stopping");
        var duration = _time.GetElapsedTime(_startTimestamp);
        var drain = _drainDuration ?? _hooksStartedAfter;
        var report = new ShutdownReport(
            _silo.Name,
            _silo.SiloAddress.ToString(),
            _startedAt,
            _time.GetUtcNow(),
            duration,
            drain,
            _hooksStartedAfter > drain ? _hooksStartedAfter - drain : TimeSpan.Zero,
            _hooksDuration,
            _drain.StepsCompleted,
            _drain.StepsInterrupted,
            _drain.RunsHandedOff,
            _hooksFailed,
            _drain.Forced);
        LogReport(
            report.Duration.TotalMilliseconds,
            report.Drain.TotalMilliseconds,
            report.HandOff.TotalMilliseconds,
            report.Hooks.TotalMilliseconds,
            report.StepsCompleted,
            report.StepsInterrupted,
            report.RunsHandedOff,
            report.HooksFailed,
            report.Forced);
        _metrics.Record(report);
        try
        {
            // Its own limit, not the host's token: the row is how operators see a stop that overran, too.
            using var limit = new CancellationTokenSource(_options.Value.ReportTimeout);
            await using var command = _dataSource.CreateCommand("""
                INSERT INTO meshhook_shutdowns (silo_name, silo_address, started_at, finished_at, duration_ms, drain_ms, hand_off_ms,
                    hooks_ms, steps_completed, steps_interrupted, runs_handed_off, hooks_failed, forced)
                VALUES (@name, @address, @started, @finished, @duration, @drain, @handoff, @hooks, @completed, @interrupted, @handedoff, @hooksfailed, @forced)
                """);
            command.Parameters.AddWithValue("name", report.SiloName);
            command.Parameters.AddWithValue("address", report.SiloAddress);
            command.Parameters.AddWithValue("started", report.StartedAt);
            command.Parameters.AddWithValue("finished", report.FinishedAt);
            command.Parameters.AddWithValue("duration", (int)report.Duration.TotalMilliseconds);
            command.Parameters.AddWithValue("drain", (int)report.Drain.TotalMilliseconds);
            command.Parameters.AddWithValue("handoff", (int)report.HandOff.TotalMilliseconds);
            command.Parameters.AddWithValue("hooks", (int)report.Hooks.TotalMilliseconds);
            command.Parameters.AddWithValue("completed", report.StepsCompleted);
            command.Parameters.AddWithValue("interrupted", report.StepsInterrupted);
            command.Parameters.AddWithValue("handedoff", report.RunsHandedOff);
            command.Parameters.AddWithValue("hooksfailed", report.HooksFailed);
            command.Parameters.AddWithValue("forced", report.Forced);
            while (true)
            {
                try
                {
                    await command.ExecuteNonQueryAsync(limit.Token);
                    break;
                }
                catch (NpgsqlException) when (!limit.IsCancellationRequested)
                {
                    // A pooled connection that a Postgres restart killed fails its first use (57P01); Npgsql drops it,
                    // so the next try opens a fresh one (soak bug 19). Tried again until ReportTimeout.
                    await Task.Delay(ReportRetryDelay, limit.Token);
                }
            }
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException or TimeoutException)
        {
            LogReportNotStored(e);
        }

        _report.TrySetResult(report);
    }

    private static readonly TimeSpan ReportRetryDelay = TimeSpan.FromMilliseconds(50);

    [LoggerMessage(Level = LogLevel.Information, Message = "Shutdown: intake closed ({Cause}); draining {InFlight} step(s) in flight for up to {DrainSeconds} s")]
    private partial void LogIntakeClosed(string cause, int inFlight, double drainSeconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shutdown: forced; steps still running are cut off now and recorded as interrupted")]
    private partial void LogForced();

    [LoggerMessage(Level = LogLevel.Information, Message = "Shutdown: drain finished in {DrainMs} ms ({Completed} step(s) completed, {Interrupted} interrupted)")]
    private partial void LogDrained(double drainMs, int completed, int interrupted);

    [LoggerMessage(Level = LogLevel.Information, Message = "Shutdown: hand-off finished in {HandOffMs} ms ({RunsHandedOff} run(s) handed off); running {HookCount} hook(s)")]
    private partial void LogHandedOff(double handOffMs, int runsHandedOff, int hookCount);

    [LoggerMessage(Level = LogLevel.Information, Message = "Shutdown: hook {Hook} done in {Ms} ms")]
    private partial void LogHookDone(string hook, double ms);

    [LoggerMessage(Level = LogLevel.Error, Message = "Shutdown: hook {Hook} did not finish within {TimeoutSeconds} s; going on without it")]
    private partial void LogHookTimedOut(string hook, double timeoutSeconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "Shutdown: hook {Hook} failed; going on with the others")]
    private partial void LogHookFailed(Exception exception, string hook);

    [LoggerMessage(Level = LogLevel.Information, Message = "Shutdown report: duration {DurationMs} ms (drain {DrainMs} ms, hand-off {HandOffMs} ms, hooks {HooksMs} ms); steps completed {StepsCompleted}, steps interrupted {StepsInterrupted}, runs handed off {RunsHandedOff}, hooks failed {HooksFailed}, forced {Forced}")]
    private partial void LogReport(double durationMs, double drainMs, double handOffMs, double hooksMs, int stepsCompleted, int stepsInterrupted, int runsHandedOff, int hooksFailed, bool forced);

    [LoggerMessage(Level = LogLevel.Information, Message = "Shutdown: host stopped {Ms} ms after the stop began")]
    private partial void LogHostStopped(double ms);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shutdown: could not open a first Postgres connection at start; the report opens one when the silo stops")]
    private partial void LogFirstConnectionFailed(Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Shutdown: the report could not be stored in meshhook_shutdowns (it is in this log and the metrics)")]
    private partial void LogReportNotStored(Exception exception);
}
