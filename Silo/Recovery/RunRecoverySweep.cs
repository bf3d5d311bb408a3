using MeshHook.Grains.Draining;
using System.Diagnostics;
using MeshHook.Grains;
using MeshHook.Grains.Runs;
using Microsoft.Extensions.Options;

namespace MeshHook.Silo.Recovery;

/// <summary>
/// Starts runs that are unfinished in Postgres but that nothing is moving: runs of a silo that died (at once,
/// when membership declares it dead: the fast path after a crash), runs of a cluster that was down (as soon
/// as a silo is active again), runs whose start call was lost, and runs stalled for any other reason. Sweeps
/// at start, on every membership change that removes a silo, and every <see cref="RecoveryOptions.SweepInterval"/>.
/// Active silos split the work by run id, and each starts at most <see cref="RecoveryOptions.Concurrency"/> runs
/// at once, so a thousand orphaned runs do not stampede. Starting is idempotent.
/// </summary>
public sealed partial class RunRecoverySweep(
    RunStore store,
    IGrainFactory grains,
    IClusterMembershipService membership,
    ILocalSiloDetails silo,
    SiloDrain drain,
    IOptions<RecoveryOptions> options,
    ILogger<RunRecoverySweep> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _wake = new(0, 1);
    private Task _loop = Task.CompletedTask;
    private Task _watch = Task.CompletedTask;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(RunRecoverySweep), ServiceLifecycleStage.Active, OnStartAsync, OnStopAsync);

    /// <summary>One sweep: starts every stalled run found (bounded batch and concurrency); returns how many were started.</summary>
    public async Task<int> SweepOnceAsync(CancellationToken cancellationToken)
    {
        if (drain.IsDraining)
        {
            // A stopping silo starts nothing; the survivors sweep.
            return 0;
        }

        var settings = options.Value;
        var active = membership.CurrentSnapshot.Members.Values
            .Where(m => m.Status == SiloStatus.Active)
            .Select(m => m.SiloAddress.ToString())
            .Order(StringComparer.Ordinal)
            .ToList();
        var self = silo.SiloAddress.ToString();
        var share = active.IndexOf(self);
        if (share < 0)
        {
            // Not (or no longer) active: the active silos do the sweeping.
            return 0;
        }

        var runIds = await store.FindStalledAsync(
            active, settings.UnstartedAfter, settings.StalledAfter, share, active.Count, settings.BatchSize, cancellationToken);
        if (runIds.Count == 0)
        {
            return 0;
        }

        var started = 0;
        var sweepStarted = Stopwatch.GetTimestamp();
        var slowest = TimeSpan.Zero;
        var slowestGate = new Lock();
        await Parallel.ForEachAsync(
            runIds,
            new ParallelOptions { MaxDegreeOfParallelism = settings.Concurrency, CancellationToken = cancellationToken },
            async (runId, _) =>
            {
                var callStarted = Stopwatch.GetTimestamp();
                try
                {
                    // A start can hang for Orleans' whole response timeout (placement retrying a dead silo's directory
                    // partition, a storage read blocked): a stopping silo abandons it rather than wait. Starting is
                    // idempotent and the call goes on by itself; the next sweep, anywhere, covers a run it misses.
                    await grains.GetGrain<IWorkflowRunGrain>(runId).StartAsync().WaitAsync(cancellationToken);
                    Interlocked.Increment(ref started);
                    var took = Stopwatch.GetElapsedTime(callStarted);
                    lock (slowestGate)
                    {
                        slowest = took > slowest ? took : slowest;
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    LogStartFailed(e, runId);
                }
            });
        LogSwept(runIds.Count, started, Stopwatch.GetElapsedTime(sweepStarted).TotalMilliseconds, slowest.TotalMilliseconds);
        return started;
    }

    private Task OnStartAsync(CancellationToken cancellationToken)
    {
        _loop = Task.Run(() => LoopAsync(_stopping.Token), CancellationToken.None);
        _watch = Task.Run(() => WatchMembershipAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task OnStopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await Task.WhenAll(_loop, _watch).WaitAsync(cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    /// <summary>Wakes the sweep as soon as a silo leaves the active set (declared dead, or stopping).</summary>
    private async Task WatchMembershipAsync(CancellationToken stopping)
    {
        var known = new HashSet<string>();
        try
        {
            await foreach (var snapshot in membership.MembershipUpdates.WithCancellation(stopping))
            {
                var active = snapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).Select(m => m.SiloAddress.ToString()).ToHashSet();
                var left = known.Where(a => !active.Contains(a)).ToList();
                known = active;
                if (left.Count > 0)
                {
                    LogSilosLeft(string.Join(", ", left));
                    Wake();
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    private void Wake()
    {
        try
        {
            _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // A sweep is already due.
        }
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
                await _wake.WaitAsync(options.Value.SweepInterval, stopping);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Silo(s) left the cluster: {Silos}; sweeping for their runs now")]
    private partial void LogSilosLeft(string silos);

    [LoggerMessage(Level = LogLevel.Information, Message = "Recovery sweep found {Found} stalled run(s) and started {Started} in {Ms} ms (slowest start {SlowestMs} ms)")]
    private partial void LogSwept(int found, int started, double ms, double slowestMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recovery sweep could not start run {RunId}; the next sweep tries again")]
    private partial void LogStartFailed(Exception exception, Guid runId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recovery sweep failed; the next sweep tries again")]
    private partial void LogSweepFailed(Exception exception);
}
