using MeshHook.Grains;
using MeshHook.Grains.Runs;
using Microsoft.Extensions.Options;

namespace MeshHook.Silo.Recovery;

/// <summary>
/// Starts runs that are unfinished in Postgres but that nothing is moving: runs whose start call was lost
/// (they stay queued) and runs of a cluster that was down. Runs once as soon as the silo is active, then
/// every <see cref="RecoveryOptions.SweepInterval"/>. Starting is idempotent, so silos sweeping together is harmless.
/// </summary>
public sealed partial class RunRecoverySweep(
    RunStore store,
    IGrainFactory grains,
    IOptions<RecoveryOptions> options,
    TimeProvider time,
    ILogger<RunRecoverySweep> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    private readonly CancellationTokenSource _stopping = new();
    private Task _loop = Task.CompletedTask;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(RunRecoverySweep), ServiceLifecycleStage.Active, OnStartAsync, OnStopAsync);

    /// <summary>One sweep: starts every stalled run found (bounded batch and concurrency); returns how many were started.</summary>
    public async Task<int> SweepOnceAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var runIds = await store.FindStalledAsync(settings.StalledAfter, settings.BatchSize, cancellationToken);
        if (runIds.Count == 0)
        {
            return 0;
        }

        var started = 0;
        await Parallel.ForEachAsync(
            runIds,
            new ParallelOptions { MaxDegreeOfParallelism = settings.Concurrency, CancellationToken = cancellationToken },
            async (runId, _) =>
            {
                try
                {
                    await grains.GetGrain<IWorkflowRunGrain>(runId).StartAsync();
                    Interlocked.Increment(ref started);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogStartFailed(e, runId);
                }
            });
        LogSwept(runIds.Count, started);
        return started;
    }

    private Task OnStartAsync(CancellationToken cancellationToken)
    {
        _loop = Task.Run(() => LoopAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task OnStopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await _loop.WaitAsync(cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    private async Task LoopAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await SweepOnceAsync(stopping);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                LogSweepFailed(e);
            }

            try
            {
                await Task.Delay(options.Value.SweepInterval, time, stopping);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Recovery sweep found {Found} stalled run(s) and started {Started}")]
    private partial void LogSwept(int found, int started);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recovery sweep could not start run {RunId}; the next sweep tries again")]
    private partial void LogStartFailed(Exception exception, Guid runId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recovery sweep failed; the next sweep tries again")]
    private partial void LogSweepFailed(Exception exception);
}
