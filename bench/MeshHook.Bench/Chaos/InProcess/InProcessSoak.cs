using MeshHook.Grains.Draining;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using MeshHook.Bench.Infrastructure;
using MeshHook.Grains.Runs;
using MeshHook.Silo.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace MeshHook.Bench.Chaos.InProcess;

/// <summary>
/// The chaos soak's in-process mode: silos of an Orleans test cluster on a real Postgres are stopped one after another
/// through the path a SIGTERM takes in the silo program, with runs in flight, and every run is audited afterwards.
/// </summary>
/// <remarks>
/// <para>
/// A stop is the host's <c>StopAsync</c>: the silo program turns SIGTERM into exactly that (the host's console
/// lifetime raises ApplicationStopping, <c>WaitForShutdownAsync</c> calls <c>StopAsync</c>). ApplicationStopping is
/// where <see cref="MeshHook.Silo.Shutdown.ShutdownCoordinator"/> closes intake ("stop requested" in its log), then the
/// silo lifecycle runs its drain, the runs' hand-off, the hooks and the report. The soak checks for every stop that the
/// coordinator logged that cause and that its <c>Report</c> task gave the report. A forced stop calls
/// <c>ShutdownCoordinator.Force()</c> during the stop, which is what the program's second SIGTERM does.
/// </para>
/// <para>
/// What it does not cover: no signal is sent and no process exits (no signal handling, no fast exit, no kernel
/// teardown, no Postgres connections cut by a dying process), silos share one process and its thread pool and
/// Npgsql pools, and nothing is killed (crashes are the process soak's). Silo names stay unique, so every run event
/// and shutdown row can be tied to its stop.
/// </para>
/// <para>
/// A stop counts as graceful when it finished within the grace period, the coordinator's report came and its row is in
/// meshhook_shutdowns, it began at ApplicationStopping, it was not forced, and no audit problem touches a run it held.
/// "Not forced" means no second signal: <c>ShutdownReport.Forced</c> is also true when steps were still running at the
/// drain limit (SiloDrain marks that stop unclean), which this soak's mix causes on purpose; such a stop counts as
/// graceful when its drain did last the whole limit and every run_interrupted naming the silo says "drain limit reached".
/// </para>
/// </remarks>
public sealed class InProcessSoak(ChaosOptions options, TextWriter output)
{
    /// <summary>The container's grace period (Kubernetes' default, the silo's MeshHook:Shutdown:GracePeriod).</summary>
    public static readonly TimeSpan GracePeriod = TimeSpan.FromSeconds(30);

    /// <summary>Runs created per second: enough for several steps in flight on each stopped silo, little enough to leave the churn its share of the 2 cores.</summary>
    private const double RunsPerSecond = 4;

    /// <summary>Share of the rounds that stop two silos at once.</summary>
    private const double TwoAtOnceShare = 0.05;

    /// <summary>Share of the stops forced (a second signal) during their drain.</summary>
    private const double ForceShare = 0.04;

    // A stop that outlasts this is not waited for any longer: the soak cannot go on with a silo stuck half-stopped.
    private static readonly TimeSpan OverrunLimit = TimeSpan.FromMinutes(2);

    private static readonly TimeSpan WarmUp = TimeSpan.FromSeconds(3);

    private static readonly IReadOnlyList<ChaosWorkflow> Mix = InProcessWorkflows.All;

    private readonly ConcurrentQueue<double> _siloStartMs = new();

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        var started = Stopwatch.StartNew();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"chaos soak, in-process: {options.Stops} stops of {options.Silos} silos, seed {options.Seed}, settle {options.Settle.TotalSeconds:0} s"));
        BenchPostgres? postgres = null;
        NpgsqlDataSource? dataSource = null;
        ChaosPeer? peer = null;
        SoakLog? log = null;
        SoakCluster? cluster = null;
        CancellationTokenSource? stopLoad = null;
        Task? loading = null;
        var background = new List<Task>();
        try
        {
            postgres = await BenchPostgres.StartAsync(cancellationToken, throwaway: true);
            var connectionString = await postgres.CreateDatabaseAsync("meshhook_chaos", cancellationToken);
            await SchemaMigrator.MigrateAsync(connectionString, NullLogger.Instance, cancellationToken);
            dataSource = new NpgsqlDataSourceBuilder(connectionString) { Name = "chaos-soak" }.Build();
            var store = new RunStore(dataSource);
            peer = await ChaosPeer.StartAsync(cancellationToken);
            foreach (var workflow in Mix)
            {
                await store.PublishAsync(workflow.Slug, workflow.Slug, workflow.Definition(peer.BaseAddress), secret: null, cancellationToken);
            }

            log = SoakLog.Create(Path.Combine(Path.GetTempPath(), $"meshhook-chaos-inprocess-{options.Seed}-{Environment.ProcessId}.log"));
            cluster = await SoakCluster.StartAsync(connectionString, options.Silos, log, SiloSettings());
            await PrintSetupAsync(postgres, dataSource, started.Elapsed, log, cancellationToken);

            var load = new SoakLoad(store, cluster.Grains, Mix, RunsPerSecond, unchecked(options.Seed * 31 + 7) & 0x7fffffff);
            stopLoad = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            loading = load.RunAsync(stopLoad.Token);
            await Task.Delay(WarmUp, cancellationToken);

            var cycle = Stopwatch.StartNew();
            var stops = await CycleAsync(cluster, dataSource, log, background, cancellationToken);
            var cycleTime = cycle.Elapsed;

            await stopLoad.CancelAsync();
            await loading;
            var settle = Stopwatch.StartNew();
            var unfinished = await SettleAsync(connectionString, load.Accepted, cancellationToken);
            var settleTime = settle.Elapsed;
            var audit = await ChaosAudit.RunAsync(connectionString, load.Accepted, peer.Requests, Mix, cancellationToken);
            var rows = await ShutdownRowsAsync(dataSource, cancellationToken);
            var interruptions = await InterruptionsAsync(dataSource, cancellationToken);
            var troubled = TroubledRuns(audit);
            Judge(stops, audit, troubled, rows);
            // The evidence for whoever looks into a problem: each troubled run's history, next to the silos' log.
            var failedRuns = audit.Histories.Where(h => h.Value.Any(e => e.Type == "run_completed" && e.Status == "failed")).Select(h => h.Key);
            log.WriteHistories(troubled.Concat(log.RunsInTrouble.Keys).Concat(failedRuns).Distinct().Take(100)
                .Select(id => (id, audit.Histories.GetValueOrDefault(id) ?? [])));
            log.Flush();

            var result = new InProcessResult(
                options, stops, audit, load, cycleTime, settleTime, unfinished, started.Elapsed, cluster.FreshPortPairs, [.. _siloStartMs], interruptions, log);
            InProcessReport.Print(output, result);
            return result.Passed ? 0 : 1;
        }
        finally
        {
            // Everything started is stopped, in reverse order, whatever happened above: the load first, then the silo
            // starts and disposals under way (a silo still starting would otherwise outlive the cluster).
            if (stopLoad is not null)
            {
                await stopLoad.CancelAsync();
                await StopQuietlyAsync("load", loading);
                stopLoad.Dispose();
            }

            await StopQuietlyAsync("background", Task.WhenAll(background));
            await StopQuietlyAsync("cluster", cluster);
            await StopQuietlyAsync("peer", peer);
            await StopQuietlyAsync("data source", dataSource);
            await StopQuietlyAsync("postgres", postgres);
            log?.Dispose();
        }
    }

    private static Dictionary<string, string?> SiloSettings() => new()
    {
        // Short recovery periods, as the integration tests' cluster: a run nothing moves comes back within seconds.
        ["MeshHook:Runs:ReminderPeriod"] = "00:00:05",
        // The soak's HTTP peer listens on 127.0.0.1, which http_call may not reach by default.
        ["MeshHook:Http:AllowedNetworks:0"] = "127.0.0.0/8",
        ["MeshHook:Secrets:Key"] = MeshHook.Testing.Processes.ProgramProcess.TestSecretsKey,
        ["MeshHook:Recovery:SweepInterval"] = "00:00:02",
        ["MeshHook:Recovery:StalledAfter"] = "00:00:03",
        ["MeshHook:Shutdown:DrainTimeout"] = SoakCluster.Setting(ChaosWorkflows.DrainTimeout),
    };

    /// <summary>Stops silos until <see cref="ChaosOptions.Stops"/> stops are done, each replaced at once by a new one.</summary>
    private async Task<List<SiloStop>> CycleAsync(SoakCluster cluster, NpgsqlDataSource dataSource, SoakLog log, List<Task> background, CancellationToken cancellationToken)
    {
        var random = new Random(options.Seed);
        var active = new List<SoakSilo>(cluster.InitialSilos);
        var starts = new List<Task>();
        var stops = new List<SiloStop>();
        var progress = Stopwatch.StartNew();
        var nextProgress = Math.Max(10, options.Stops / 20);
        while (stops.Count < options.Stops)
        {
            // Every choice of the round is drawn first, so the same seed draws the same plan.
            var twoAtOnce = options.Silos >= 3 && options.Stops - stops.Count >= 2 && random.NextDouble() < TwoAtOnceShare;
            var count = twoAtOnce ? 2 : 1;
            var picks = Enumerable.Range(0, count).Select(_ => random.Next()).ToArray();
            var forceAfter = Enumerable.Range(0, count)
                .Select(_ => random.NextDouble() < ForceShare ? TimeSpan.FromMilliseconds(random.Next(0, 1500)) : (TimeSpan?)null)
                .ToArray();
            var pause = TimeSpan.FromMilliseconds(random.Next(0, 100));

            // One silo stays up: the stopped ones hand their runs to it.
            await WaitForActiveAsync(active, starts, count + 1, cancellationToken);
            var victims = PickVictims(active, picks);
            foreach (var victim in victims)
            {
                // The replacement starts while the stop proceeds, as a deployment's surge pod would.
                var start = ReplaceAsync(cluster, active, log, cancellationToken);
                starts.Add(start);
                background.Add(start);
            }

            var index = stops.Count;
            var done = await Task.WhenAll(victims.Select((victim, i) => StopAsync(victim, index + i + 1, twoAtOnce, forceAfter[i], dataSource, log, cancellationToken)));
            stops.AddRange(done);
            foreach (var victim in victims)
            {
                background.Add(cluster.RemoveAsync(victim));
            }

            background.RemoveAll(t => t.IsCompletedSuccessfully);
            starts.RemoveAll(t => t.IsCompletedSuccessfully);
            if (stops.Count >= nextProgress || stops.Count == options.Stops)
            {
                nextProgress += Math.Max(10, options.Stops / 20);
                PrintProgress(stops, progress.Elapsed);
            }

            await Task.Delay(pause, cancellationToken);
        }

        await Task.WhenAll(starts);
        return stops;
    }

    private static List<SoakSilo> PickVictims(List<SoakSilo> active, int[] picks)
    {
        var victims = new List<SoakSilo>();
        lock (active)
        {
            foreach (var pick in picks)
            {
                // A silo with steps in flight if there is one: the stop must have runs to drain and hand off.
                var busy = active.Where(s => s.Drain.StepsInFlight > 0).ToList();
                var pool = busy.Count > 0 ? busy : active;
                var victim = pool[pick % pool.Count];
                active.Remove(victim);
                victims.Add(victim);
            }
        }

        return victims;
    }

    private static async Task WaitForActiveAsync(List<SoakSilo> active, List<Task> starts, int needed, CancellationToken cancellationToken)
    {
        while (true)
        {
            lock (active)
            {
                if (active.Count >= needed)
                {
                    return;
                }
            }

            if (starts.FirstOrDefault(t => t.IsFaulted) is { } failed)
            {
                // Surfaces why no replacement could start.
                await failed;
            }

            await Task.Delay(20, cancellationToken);
        }
    }

    private async Task ReplaceAsync(SoakCluster cluster, List<SoakSilo> active, SoakLog log, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var starting = Stopwatch.GetTimestamp();
                var silo = await cluster.StartSiloAsync();
                var took = Stopwatch.GetElapsedTime(starting).TotalMilliseconds;
                _siloStartMs.Enqueue(took);
                log.Note(string.Create(CultureInfo.InvariantCulture, $"started silo {silo.Name} ({silo.Address}) in {took:0} ms"));
                lock (active)
                {
                    active.Add(silo);
                }

                return;
            }
            catch (Exception e) when (attempt < 5 && !cancellationToken.IsCancellationRequested)
            {
                output.WriteLine($"a replacement silo did not start ({e.GetType().Name}: {e.Message}); retry {attempt}");
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            }
        }
    }

    /// <summary>Stops one silo the way SIGTERM does (the host's StopAsync), forcing it during the drain when asked.</summary>
    private static async Task<SiloStop> StopAsync(
        SoakSilo victim, int index, bool twoAtOnce, TimeSpan? forceAfter, NpgsqlDataSource dataSource, SoakLog log, CancellationToken cancellationToken)
    {
        var runsAtStop = await UnfinishedRunsOfAsync(dataSource, victim.Address, cancellationToken);
        var stepsInFlight = victim.Drain.StepsInFlight;
        log.Note($"stop #{index}: {victim.Name}, {stepsInFlight} step(s) in flight, {runsAtStop.Count} unfinished run(s) name it{(forceAfter is { } f ? $", to be forced after {f.TotalMilliseconds:0} ms" : "")}");
        var started = Stopwatch.GetTimestamp();
        // InProcessSiloHandle.StopSiloAsync(true) is IHost.StopAsync with a token that is never cancelled, which is what
        // the silo program's WaitForShutdownAsync calls once SIGTERM raised ApplicationStopping.
        var stopping = victim.Handle.StopSiloAsync(stopGracefully: true);
        var forced = false;
        if (forceAfter is { } delay)
        {
            // The program's second SIGTERM (ShutdownSignals) calls Force() while the first one's stop runs.
            while (!victim.Coordinator.Started && !stopping.IsCompleted)
            {
                await Task.Delay(5, CancellationToken.None);
            }

            await Task.WhenAny(stopping, Task.Delay(delay, CancellationToken.None));
            if (!stopping.IsCompleted && !victim.Coordinator.Report.IsCompleted)
            {
                victim.Coordinator.Force();
                forced = true;
            }
        }

        string? error = null;
        var withinGrace = true;
        try
        {
            await stopping.WaitAsync(GracePeriod, CancellationToken.None);
        }
        catch (TimeoutException)
        {
            withinGrace = false;
            try
            {
                await stopping.WaitAsync(OverrunLimit, CancellationToken.None);
            }
            catch (TimeoutException)
            {
                throw new InvalidOperationException($"the stop of silo {victim.Name} did not end within {OverrunLimit.TotalMinutes} minutes; the soak cannot go on");
            }
            catch (Exception e)
            {
                error = $"{e.GetType().Name}: {e.Message}";
            }
        }
        catch (Exception e)
        {
            error = $"{e.GetType().Name}: {e.Message}";
        }

        var duration = Stopwatch.GetElapsedTime(started);
        var report = victim.Coordinator.Report.IsCompletedSuccessfully ? await victim.Coordinator.Report : null;
        return new SiloStop
        {
            Index = index,
            SiloName = victim.Name,
            SiloAddress = victim.Address,
            TwoAtOnce = twoAtOnce,
            Forced = forced,
            StepsInFlight = stepsInFlight,
            RunsAtStop = runsAtStop,
            Duration = duration,
            WithinGrace = withinGrace,
            Report = report,
            IntakeCause = log.IntakeCause(victim.Name),
            ForceLogged = log.LoggedForced(victim.Name),
            Error = error,
        };
    }

    private static async Task<List<Guid>> UnfinishedRunsOfAsync(NpgsqlDataSource dataSource, string siloAddress, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT id FROM workflow_runs WHERE silo = @silo AND status IN ('queued', 'running')");
        command.Parameters.AddWithValue("silo", siloAddress);
        var ids = new List<Guid>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            ids.Add(reader.GetGuid(0));
        }

        return ids;
    }

    /// <summary>Waits until every accepted run is finished or the settle time is over; returns how many were still unfinished.</summary>
    private async Task<int> SettleAsync(string connectionString, IReadOnlyCollection<AcceptedRun> accepted, CancellationToken cancellationToken)
    {
        var ids = accepted.Select(a => a.RunId).ToArray();
        var deadline = Stopwatch.GetTimestamp() + (long)(options.Settle.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            var unfinished = await ChaosAudit.UnfinishedAsync(connectionString, ids, cancellationToken);
            if (unfinished.Count == 0 || Stopwatch.GetTimestamp() >= deadline)
            {
                return unfinished.Count;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken);
        }
    }

    private static async Task<Dictionary<string, ShutdownRow>> ShutdownRowsAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT silo_name, silo_address, forced, runs_handed_off, steps_interrupted FROM meshhook_shutdowns");
        var rows = new Dictionary<string, ShutdownRow>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows[reader.GetString(0)] = new ShutdownRow(reader.GetString(1), reader.GetBoolean(2), reader.GetInt32(3), reader.GetInt32(4));
        }

        return rows;
    }

    /// <summary>run_interrupted events by the silo that wrote them and their reason.</summary>
    private static async Task<List<(string Silo, string Reason)>> InterruptionsAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT coalesce(payload->>'silo', ''), coalesce(payload->>'reason', '') FROM workflow_events WHERE type = 'run_interrupted'");
        var interruptions = new List<(string, string)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            interruptions.Add((reader.GetString(0), reader.GetString(1)));
        }

        return interruptions;
    }

    /// <summary>Decides for every stop whether it was graceful (see the remarks of this class).</summary>
    private static void Judge(
        List<SiloStop> stops, AuditResult audit, HashSet<Guid> troubled, Dictionary<string, ShutdownRow> rows)
    {
        var runsNaming = new Dictionary<string, HashSet<Guid>>(StringComparer.Ordinal);
        foreach (var (runId, events) in audit.Histories)
        {
            foreach (var silo in events.Select(e => e.Silo).OfType<string>())
            {
                if (!runsNaming.TryGetValue(silo, out var runs))
                {
                    runsNaming[silo] = runs = [];
                }

                runs.Add(runId);
            }
        }

        var drainLimit = ChaosWorkflows.DrainTimeout - TimeSpan.FromMilliseconds(50);
        foreach (var stop in stops)
        {
            if (stop.Error is not null)
            {
                stop.Problems.Add($"the stop failed: {stop.Error}");
            }

            if (!stop.WithinGrace)
            {
                stop.Problems.Add($"took {stop.Duration.TotalSeconds:0.0} s, longer than the {GracePeriod.TotalSeconds:0} s grace period");
            }

            if (stop.IntakeCause != "stop requested")
            {
                stop.Problems.Add($"did not begin at the host's ApplicationStopping, as SIGTERM's stop does (coordinator's cause: {stop.IntakeCause ?? "never logged"})");
            }

            if (stop.Report is not { } report)
            {
                stop.Problems.Add("ShutdownCoordinator.Report never completed");
            }
            else
            {
                if (!rows.TryGetValue(stop.SiloName, out var row))
                {
                    stop.Problems.Add("no row in meshhook_shutdowns");
                }
                else if (row.SiloAddress != stop.SiloAddress || row.Forced != report.Forced || row.RunsHandedOff != report.RunsHandedOff || row.StepsInterrupted != report.StepsInterrupted)
                {
                    stop.Problems.Add($"its meshhook_shutdowns row ({row}) differs from the report ({report})");
                }

                if (report.Forced && !stop.Forced)
                {
                    // SiloDrain also marks a stop forced when steps were still running at the drain limit. Force() logs
                    // a line of its own, so a stop forced by anything but the limit shows in the log.
                    if (stop.ForceLogged)
                    {
                        stop.Problems.Add("ShutdownCoordinator.Force() was called without a second signal (the host's stop token cancelled?)");
                    }
                    else if (report.Drain < drainLimit)
                    {
                        stop.Problems.Add($"report says forced, but its drain ended after {report.Drain.TotalMilliseconds:0} ms, before the limit");
                    }
                    else
                    {
                        // As in the process soak (docs/reliability.md): steps cut off at the limit make the stop forced.
                        stop.CutOffAtDrainLimit = true;
                        stop.Problems.Add($"steps were still running at the {ChaosWorkflows.DrainTimeout.TotalSeconds:0} s drain limit: its report says forced");
                    }
                }
            }

            var held = stop.RunsAtStop.Concat(runsNaming.GetValueOrDefault(stop.SiloName) ?? []).ToHashSet();
            var touched = held.Where(troubled.Contains).ToList();
            if (touched.Count > 0)
            {
                stop.Problems.Add($"{touched.Count} run(s) it held failed the audit: {string.Join(", ", touched.Take(5))}");
            }
        }
    }

    /// <summary>Runs that any audit problem names.</summary>
    private static HashSet<Guid> TroubledRuns(AuditResult audit) =>
        audit.Lost.Concat(audit.Stuck).Concat(audit.RepeatedAfterCheckpoint).Concat(audit.History).Concat(audit.Keys)
            .SelectMany(RunIdsIn)
            .ToHashSet();

    private static IEnumerable<Guid> RunIdsIn(string problem)
    {
        // Problems start with the run id, or name it inside an Idempotency-Key (mh-{runId}-{nodeId}).
        for (var i = 0; i + 36 <= problem.Length; i++)
        {
            if (Guid.TryParseExact(problem.AsSpan(i, 36), "D", out var runId))
            {
                yield return runId;
                i += 35;
            }
        }
    }

    private void PrintProgress(List<SiloStop> stops, TimeSpan elapsed) =>
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {stops.Count,5} stops in {elapsed.TotalSeconds,6:0} s ({elapsed.TotalSeconds / stops.Count:0.00} s per stop); " +
            $"last: {stops[^1].SiloName} in {stops[^1].Duration.TotalMilliseconds:0} ms, {stops[^1].Report?.RunsHandedOff ?? 0} run(s) handed off"));

    private async Task PrintSetupAsync(BenchPostgres postgres, NpgsqlDataSource dataSource, TimeSpan setup, SoakLog log, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT current_setting('server_version'), current_setting('fsync'), current_setting('synchronous_commit'), current_setting('full_page_writes')");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        output.WriteLine($"postgres {reader.GetString(0)} ({postgres.Origin}): fsync={reader.GetString(1)} synchronous_commit={reader.GetString(2)} full_page_writes={reader.GetString(3)}");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"machine: {Environment.ProcessorCount} cores, load average {BenchMachine.LoadAverage()}; setup {setup.TotalSeconds:0.0} s; load {RunsPerSecond} runs/s ({string.Join(", ", Mix.Select(w => $"{w.Slug} {w.Weight}%"))}); " +
            $"drain limit {ChaosWorkflows.DrainTimeout.TotalSeconds:0} s; silo log {log.Path}"));
        output.WriteLine("covers: the graceful stop sequence as SIGTERM starts it (host StopAsync), Force() as a second SIGTERM, hand-off between silos, " +
            "intake and cancels during stops; not: signals, process exit, fast exit, crashes (SIGKILL), one process per silo");
    }

    private async Task StopQuietlyAsync(string what, object? resource)
    {
        try
        {
            switch (resource)
            {
                case Task task:
                    await task;
                    break;
                case IAsyncDisposable disposable:
                    await disposable.DisposeAsync();
                    break;
            }
        }
        catch (Exception e)
        {
            output.WriteLine($"stopping the {what}: {e.GetType().Name}: {e.Message}");
        }
    }
}
