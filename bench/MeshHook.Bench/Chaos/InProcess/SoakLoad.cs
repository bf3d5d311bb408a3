using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using MeshHook.Grains;
using MeshHook.Grains.Runs;

namespace MeshHook.Bench.Chaos.InProcess;

/// <summary>
/// A steady stream of runs, created and started as the gateway's intake does (<see cref="RunStore.CreateRunAsync"/>,
/// then <see cref="IWorkflowRunGrain.StartAsync"/>, retrying transient cluster failures), and now and then a cancel of
/// a cancelable run while it runs. Its choices come from its own seeded random.
/// </summary>
public sealed class SoakLoad(RunStore store, IGrainFactory grains, IReadOnlyList<ChaosWorkflow> mix, double runsPerSecond, int seed)
{
    /// <summary>Share of the cancelable runs that get a cancel while they run.</summary>
    private const double CancelShare = 0.05;

    /// <summary>A grain call's time, retries included (the gateway's MeshHook:Gateway:GrainCallTimeout default).</summary>
    private static readonly TimeSpan CallBudget = TimeSpan.FromSeconds(15);

    private readonly Random _random = new(seed);
    private readonly ConcurrentQueue<AcceptedRun> _accepted = new();
    private readonly ConcurrentQueue<string> _errors = new();
    private readonly List<Task> _pending = [];
    private readonly Lock _gate = new();
    private int _submitted;
    private int _startRetries;
    private int _startsLeftToRecovery;
    private int _cancelsSent;
    private int _cancelsFailed;
    private int _notAccepted;

    /// <summary>Runs whose creation was attempted.</summary>
    public int Submitted => Volatile.Read(ref _submitted);

    /// <summary>Runs durably created (what a 202 means).</summary>
    public IReadOnlyCollection<AcceptedRun> Accepted => _accepted;

    public int NotAccepted => Volatile.Read(ref _notAccepted);

    /// <summary>Start calls retried after a transient cluster failure.</summary>
    public int StartRetries => Volatile.Read(ref _startRetries);

    /// <summary>Runs whose start still failed after every retry: they stay queued for the recovery sweep, as after intake.</summary>
    public int StartsLeftToRecovery => Volatile.Read(ref _startsLeftToRecovery);

    public int CancelsSent => Volatile.Read(ref _cancelsSent);

    public int CancelsFailed => Volatile.Read(ref _cancelsFailed);

    /// <summary>Failures that are not transient cluster errors (first ones only).</summary>
    public IReadOnlyCollection<string> Errors => _errors;

    /// <summary>Submits runs at the rate until <paramref name="stop"/> is cancelled, then waits for the calls under way.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        var interval = Stopwatch.Frequency / runsPerSecond;
        var next = (double)Stopwatch.GetTimestamp();
        var n = 0;
        while (!stop.IsCancellationRequested)
        {
            var workflow = Pick();
            TimeSpan? cancelAfter = workflow.Cancelable && _random.NextDouble() < CancelShare
                ? TimeSpan.FromMilliseconds(_random.Next(200, 2500))
                : null;
            var task = SubmitAsync(workflow, ++n, cancelAfter);
            lock (_gate)
            {
                _pending.RemoveAll(t => t.IsCompleted);
                _pending.Add(task);
            }

            next += interval;
            var wait = TimeSpan.FromSeconds((next - Stopwatch.GetTimestamp()) / Stopwatch.Frequency);
            if (wait > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(wait, stop);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }

        Task[] pending;
        lock (_gate)
        {
            pending = [.. _pending];
        }

        await Task.WhenAll(pending);
    }

    private ChaosWorkflow Pick()
    {
        var roll = _random.Next(mix.Sum(w => w.Weight));
        foreach (var workflow in mix)
        {
            if (roll < workflow.Weight)
            {
                return workflow;
            }

            roll -= workflow.Weight;
        }

        return mix[^1];
    }

    private async Task SubmitAsync(ChaosWorkflow workflow, int n, TimeSpan? cancelAfter)
    {
        // Off the submitting loop, so a slow call does not hold up the next run.
        await Task.Yield();
        Interlocked.Increment(ref _submitted);
        Guid runId;
        try
        {
            // Not cut short when the load stops: a run committed but not recorded would look like someone else's to the audit.
            (runId, _) = await store.CreateRunAsync(workflow.Slug, Trigger(n), null, CancellationToken.None);
        }
        catch (Exception e)
        {
            Interlocked.Increment(ref _notAccepted);
            Note($"create {workflow.Slug}: {e.GetType().Name}: {e.Message}");
            return;
        }

        _accepted.Enqueue(new AcceptedRun(runId, workflow.Slug));
        var grain = grains.GetGrain<IWorkflowRunGrain>(runId);
        if (!await CallAsync(() => grain.StartAsync(), $"start {runId}", countRetries: true))
        {
            Interlocked.Increment(ref _startsLeftToRecovery);
        }

        if (cancelAfter is { } delay)
        {
            await Task.Delay(delay);
            Interlocked.Increment(ref _cancelsSent);
            if (!await CallAsync(() => grain.CancelAsync(), $"cancel {runId}", countRetries: false))
            {
                Interlocked.Increment(ref _cancelsFailed);
            }
        }
    }

    private static string Trigger(int n) => """{"headers":{},"body":{"n":""" + n.ToString(CultureInfo.InvariantCulture) + "}}";

    private async Task<bool> CallAsync(Func<Task> call, string what, bool countRetries)
    {
        // As the gateway's GrainCalls: transient failures (a silo leaving, a gateway rejecting, a lost connection, a
        // timeout) are retried with a growing pause within one overall budget; a run whose start outlasts it stays
        // queued in Postgres for the recovery sweep, as after a real intake.
        var budget = Stopwatch.StartNew();
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var left = CallBudget - budget.Elapsed;
                await call().WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero);
                return true;
            }
            catch (Exception e) when (ClusterErrors.IsTransient(e) && budget.Elapsed < CallBudget)
            {
                if (countRetries)
                {
                    Interlocked.Increment(ref _startRetries);
                }

                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(100 * (1 << Math.Min(attempt, 5)), 2000)));
            }
            catch (Exception e)
            {
                if (!ClusterErrors.IsTransient(e))
                {
                    Note($"{what}: {e.GetType().Name}: {e.Message}");
                }

                return false;
            }
        }
    }

    private void Note(string error)
    {
        if (_errors.Count < 50)
        {
            _errors.Enqueue(error);
        }
    }
}
