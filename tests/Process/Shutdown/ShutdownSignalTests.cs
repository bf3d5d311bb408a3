using System.Diagnostics;
using System.Net;
using AwesomeAssertions;
using MeshHook.Testing.Processes;
using MeshHook.Tests.Integration.Infrastructure;
using MeshHook.Tests.Integration.Runs;
using MeshHook.Tests.Process.Infrastructure;

namespace MeshHook.Tests.Process.Shutdown;

/// <summary>
/// Graceful shutdown as an operator sees it: real silo processes, real SIGTERM and SIGKILL, real Postgres, a real HTTP
/// peer. Runs are created through SQL only; the silos' recovery sweep (1 s) starts them.
/// </summary>
[Collection(SiloProcessesCollection.Name)]
public sealed class ShutdownSignalTests
{
    private const int Runs = 12;

    /// <summary>
    /// What a graceful stop may take beyond DrainTimeout: the budget the product plans for the phases after the
    /// drain, HandOffTimeout (3 s) + ReportTimeout (1 s) by default (no hooks are registered). The host's own
    /// timeout allows more (the grace period's slack), so this checks the plan, not just the hard limit.
    /// Measured on a heavily loaded two-core machine, the phases after the drain took 1-7 s.
    /// </summary>
    private static readonly TimeSpan ExitMargin = TimeSpan.FromSeconds(3 + 1);

    private static ITestOutputHelper? Log => TestContext.Current.TestOutputHelper;

    [Fact]
    public async Task Sigterm_SiloWithRunsMidStep_ExitsZeroWithinDrainTimeoutAndWritesTheReport()
    {
        const int slowMs = 3000;
        var drainTimeout = TimeSpan.FromSeconds(5);
        await using var cluster = await ProcessCluster.CreateAsync("proc_sigterm", DrainSettings(drainTimeout));
        var silos = await cluster.StartSilosAsync("a", "b");
        var slug = await cluster.PublishAsync(Workflows.TwoCalls(cluster.Sink.BaseAddress, slowMs));
        var runIds = await cluster.Database.CreateRunsAsync(slug, Runs);
        var (victim, survivor) = await RunsInSlowStepAsync(cluster, silos, runIds, slowMs);

        var clock = Stopwatch.StartNew();
        victim.Process.Terminate();
        var exitCode = await victim.WaitForExitAsync(drainTimeout + TimeSpan.FromSeconds(30), "the SIGTERMed silo exits");
        var signalToExit = clock.Elapsed;
        Log?.WriteLine($"SIGTERM -> exit: {signalToExit.TotalMilliseconds:0} ms (DrainTimeout {drainTimeout.TotalSeconds} s, slow step {slowMs} ms)");

        exitCode.Should().Be(0, victim.Process.Output);
        signalToExit.Should().BeLessThanOrEqualTo(drainTimeout + ExitMargin, "a SIGTERMed silo exits within DrainTimeout plus a small margin");
        victim.Process.Output.TrimEnd().Split('\n')[^1].Should().Contain("Shutdown: Postgres connections closed",
            "the silo ends by closing its connections and exiting (MeshHook:Shutdown:FastExit), with nothing logged after it");
        await RunChecks.AllSucceedAsync(cluster, runIds, TimeSpan.FromSeconds(30), "every run finishes after one silo of two was stopped");
        var handedOff = 0;
        foreach (var runId in runIds)
        {
            var events = await RunChecks.HistoryIsConsistentAsync(cluster, runId, "first", "second");
            cluster.Sink.CountFor($"mh-{runId}-first").Should().Be(1, "the checkpointed first step never runs again");
            cluster.Sink.CountFor($"mh-{runId}-second").Should().Be(1, "a step in flight finishes during the drain and is not repeated");
            events.CountOf("run_interrupted").Should().Be(0, "no step outlived the drain");
            handedOff += events.CountOf("run_handed_off");
        }

        handedOff.Should().BeGreaterThan(0, "the stopped silo hosted runs that were unfinished when it stopped");
        var report = (await cluster.Database.ShutdownsAsync(victim.AddressPrefix)).Should().ContainSingle("one report row per silo stop").Subject;
        Log?.WriteLine($"report: {report}");
        report.Forced.Should().BeFalse();
        report.StepsInterrupted.Should().Be(0);
        report.StepsCompleted.Should().BeGreaterThan(0, "the victim had steps in flight, and they finished during the drain");
        report.RunsHandedOff.Should().Be(handedOff, "the row counts the hand-offs the history shows");
        report.HooksFailed.Should().Be(0);
        survivor.Process.HasExited.Should().BeFalse("the other silo keeps running");
        (await survivor.ReadinessAsync()).Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Sigterm_ReadinessAnswers503FromTheFirstMoment()
    {
        const int slowMs = 4000;
        var drainTimeout = TimeSpan.FromSeconds(8);
        await using var cluster = await ProcessCluster.CreateAsync("proc_ready503", DrainSettings(drainTimeout));
        var silos = await cluster.StartSilosAsync("a", "b");
        var slug = await cluster.PublishAsync(Workflows.TwoCalls(cluster.Sink.BaseAddress, slowMs));
        var runIds = await cluster.Database.CreateRunsAsync(slug, Runs);
        var (victim, _) = await RunsInSlowStepAsync(cluster, silos, runIds, slowMs);
        (await victim.ReadinessAsync()).Should().Be(HttpStatusCode.OK, "the victim is ready before the signal");

        var clock = Stopwatch.StartNew();
        victim.Process.Terminate();
        var answers = new List<(TimeSpan SentAt, bool StopLogged, HttpStatusCode? Status)>();
        while (!victim.Process.HasExited && clock.Elapsed < drainTimeout + TimeSpan.FromSeconds(30))
        {
            var sentAt = clock.Elapsed;
            var stopLogged = victim.Process.Output.Contains("Shutdown: intake closed");
            answers.Add((sentAt, stopLogged, await victim.ReadinessAsync()));
            await Task.Delay(25); // paces the probes; a refused connection returns at once
        }

        var exitCode = await victim.WaitForExitAsync(TimeSpan.FromSeconds(30), "the SIGTERMed silo exits");
        var summary = string.Join(", ", answers.Select(a => $"{a.SentAt.TotalMilliseconds:0}ms{(a.StopLogged ? "*" : "")}:{(a.Status is { } s ? (int)s : "none")}"));
        Log?.WriteLine($"readiness after SIGTERM (sent at; * = after the silo logged the start of its stop): {summary}; exit after {clock.Elapsed.TotalMilliseconds:0} ms");

        exitCode.Should().Be(0, victim.Process.Output);
        var first503 = answers.FindIndex(a => a.Status == HttpStatusCode.ServiceUnavailable);
        first503.Should().BeGreaterThanOrEqualTo(0, $"readiness answers 503 once the stop begins; answers: {summary}");
        answers[first503].SentAt.Should().BeLessThan(TimeSpan.FromSeconds(1), $"readiness flips as soon as the signal is handled; answers: {summary}");
        answers.Skip(first503).Should().NotContain(a => a.Status == HttpStatusCode.OK, $"readiness never flips back; answers: {summary}");

        // The signal found the earliest of the victim's steps at most half-way through, so its steps drain for about
        // slowMs / 2 more. Every probe sent once the silo has logged the start of its stop and well inside that window must
        // be answered 503 (before the log line, the signal may not have been handled yet: no process can answer before that).
        // A refused connection would make a Kubernetes probe fail too, but it is not the promised 503, and it means /metrics
        // and /health/live are gone for the whole drain.
        var duringDrain = answers.Where(a => a.StopLogged && a.SentAt < TimeSpan.FromMilliseconds(slowMs / 2 - 500)).ToList();
        duringDrain.Should().NotBeEmpty($"some probes fall inside the drain; answers: {summary}");
        duringDrain.Should().AllSatisfy(
            a => a.Status.Should().Be(HttpStatusCode.ServiceUnavailable, $"the silo answers 503 while it drains; answers: {summary}"));
        await RunChecks.AllSucceedAsync(cluster, runIds, TimeSpan.FromSeconds(30), "every run finishes after the drain");
        foreach (var runId in runIds)
        {
            await RunChecks.HistoryIsConsistentAsync(cluster, runId, "first", "second");
            cluster.Sink.CountFor($"mh-{runId}-first").Should().Be(1);
        }
    }

    [Fact]
    public async Task Sigkill_EveryRunOfTheKilledSiloFinishesElsewhere()
    {
        const int slowMs = 3000;
        await using var cluster = await ProcessCluster.CreateAsync("proc_sigkill", DrainSettings(TimeSpan.FromSeconds(5)));
        var silos = await cluster.StartSilosAsync("a", "b");
        var slug = await cluster.PublishAsync(Workflows.TwoCalls(cluster.Sink.BaseAddress, slowMs));
        var runIds = await cluster.Database.CreateRunsAsync(slug, Runs);
        var (victim, survivor) = await RunsInSlowStepAsync(cluster, silos, runIds, slowMs);

        var clock = Stopwatch.StartNew();
        victim.Process.KillHard();
        var exitCode = await victim.WaitForExitAsync(TimeSpan.FromSeconds(10), "the SIGKILLed silo dies");
        var statusesAtKill = await cluster.Database.StatusesAsync(runIds);
        var victimRuns = victim.RunsStartedHere().Intersect(runIds).Where(id => statusesAtKill[id] == "running").ToList();
        Log?.WriteLine($"{victimRuns.Count} unfinished run(s) on the killed silo");

        exitCode.Should().Be(128 + Posix.SigKill, "the process died of SIGKILL, no handler ran");
        victimRuns.Should().NotBeEmpty("the killed silo had runs mid-step");
        await RunChecks.AllSucceedAsync(cluster, runIds, TimeSpan.FromSeconds(60), "every run of the killed silo finishes on the survivor");
        Log?.WriteLine($"SIGKILL -> every run finished: {clock.Elapsed.TotalMilliseconds:0} ms");
        foreach (var runId in runIds)
        {
            var events = await RunChecks.HistoryIsConsistentAsync(cluster, runId, "first", "second");
            cluster.Sink.CountFor($"mh-{runId}-first").Should().Be(1, "the first step was checkpointed before the kill and never runs again");
            events.CountOf("run_handed_off").Should().Be(0, "a killed silo hands nothing off");
            if (victimRuns.Contains(runId))
            {
                events.CountOf("run_resumed").Should().BeGreaterThan(0, $"run {runId} of the killed silo was resumed elsewhere");
            }
        }

        (await cluster.Database.ShutdownsAsync(victim.AddressPrefix)).Should().BeEmpty("SIGKILL leaves no report");
        survivor.Process.HasExited.Should().BeFalse();
    }

    [Fact]
    public async Task FullStopAndRestart_AllRunsFinish()
    {
        var drainTimeout = TimeSpan.FromSeconds(5);
        await using var cluster = await ProcessCluster.CreateAsync("proc_restart", DrainSettings(drainTimeout));
        var first = await cluster.StartSilosAsync("a", "b");
        var slug = await cluster.PublishAsync(CallWaitCall(cluster.Sink.BaseAddress, waitMs: 6000));
        var runIds = await cluster.Database.CreateRunsAsync(slug, Runs);
        await Poll.UntilAsync(
            async () => await cluster.Database.CountRunsWithEventAsync(runIds, "step_started", "wait") == runIds.Length,
            "every run is inside its delay step",
            TimeSpan.FromSeconds(30));

        var clock = Stopwatch.StartNew();
        foreach (var silo in first)
        {
            silo.Process.Terminate();
        }

        var exits = await Task.WhenAll(first.Select(async s => (Code: await s.WaitForExitAsync(TimeSpan.FromSeconds(40), "a SIGTERMed silo exits"), At: clock.Elapsed)));
        Log?.WriteLine($"SIGTERM both -> exits: {string.Join(", ", exits.Select(e => $"{e.At.TotalMilliseconds:0} ms"))}");
        var statusesWhileDown = await cluster.Database.StatusesAsync(runIds);

        exits.Select(e => e.Code).Should().AllSatisfy(code => code.Should().Be(0));
        exits.Should().AllSatisfy(e => e.At.Should().BeLessThanOrEqualTo(drainTimeout + ExitMargin));
        statusesWhileDown.Values.Should().AllBe("running", "with no silo left every run waits in Postgres, none lost and none finished");
        runIds.Sum(id => cluster.Sink.CountFor($"mh-{id}-second")).Should().Be(0, "nothing after the delay ran before the restart");
        foreach (var silo in first)
        {
            var report = (await cluster.Database.ShutdownsAsync(silo.AddressPrefix)).Should().ContainSingle($"silo {silo.Name} wrote its report").Subject;
            report.Forced.Should().BeFalse();
            report.StepsInterrupted.Should().Be(0, "a delay is a durable wait: it is suspended, not interrupted");
        }

        var restart = Stopwatch.StartNew();
        await cluster.StartSilosAsync("c", "d");
        await RunChecks.AllSucceedAsync(cluster, runIds, TimeSpan.FromSeconds(60), "every run finishes once fresh silos start");
        Log?.WriteLine($"restart -> every run finished: {restart.Elapsed.TotalMilliseconds:0} ms");
        foreach (var runId in runIds)
        {
            var events = await RunChecks.HistoryIsConsistentAsync(cluster, runId, "first", "second");
            cluster.Sink.CountFor($"mh-{runId}-first").Should().Be(1, "the first step was checkpointed before the stop");
            cluster.Sink.CountFor($"mh-{runId}-second").Should().Be(1);
            events.CountOf("run_handed_off").Should().BeGreaterThan(0, $"run {runId} was saved on the way out");
            events.Where(e => e.Type == "step_succeeded").Select(RunChecks.NodeOf).Should().Equal("hook", "first", "wait", "second");
        }
    }

    [Fact]
    public async Task Sigterm_SecondSignal_ForcesTheDrain()
    {
        const int slowMs = 30_000;
        var drainTimeout = TimeSpan.FromSeconds(20);
        await using var cluster = await ProcessCluster.CreateAsync("proc_forced", DrainSettings(drainTimeout));
        var silos = await cluster.StartSilosAsync("a", "b");
        var slug = await cluster.PublishAsync(Workflows.TwoCalls(cluster.Sink.BaseAddress, slowMs));
        var runIds = await cluster.Database.CreateRunsAsync(slug, 4);
        var (victim, _) = await RunsInSlowStepAsync(cluster, silos, runIds, slowMs);
        var victimRuns = victim.RunsStartedHere().Intersect(runIds).ToList();
        var inSlowStep = victimRuns.Where(id => cluster.Sink.CountFor($"mh-{id}-second") > 0).ToList();

        var clock = Stopwatch.StartNew();
        victim.Process.Terminate();
        await Poll.UntilAsync(() => Task.FromResult(victim.Process.Output.Contains("Shutdown: intake closed")), "the first SIGTERM starts the drain", TimeSpan.FromSeconds(10));
        var secondSignalAt = clock.Elapsed;
        victim.Process.Terminate();
        var exitCode = await victim.WaitForExitAsync(drainTimeout + TimeSpan.FromSeconds(30), "the forced silo exits");
        var signalToExit = clock.Elapsed;
        Log?.WriteLine($"first SIGTERM -> second: {secondSignalAt.TotalMilliseconds:0} ms; first SIGTERM -> exit: {signalToExit.TotalMilliseconds:0} ms (DrainTimeout {drainTimeout.TotalSeconds} s, step 30 s)");

        exitCode.Should().Be(0, victim.Process.Output);
        signalToExit.Should().BeLessThan(drainTimeout / 2, "a second signal cuts the 20 s drain short");
        var report = (await cluster.Database.ShutdownsAsync(victim.AddressPrefix)).Should().ContainSingle().Subject;
        Log?.WriteLine($"report: {report}");
        report.Forced.Should().BeTrue();
        report.StepsInterrupted.Should().BeGreaterThanOrEqualTo(inSlowStep.Count, "every 30 s step in flight on the victim was cut off");
        report.StepsInterrupted.Should().BeGreaterThanOrEqualTo(1);
        await RunChecks.AllSucceedAsync(cluster, runIds, TimeSpan.FromSeconds(60), "every run finishes, the cut-off ones after running their step again on the survivor");
        var interruptedRuns = 0;
        foreach (var runId in runIds)
        {
            var events = await RunChecks.HistoryIsConsistentAsync(cluster, runId, "first", "second");
            cluster.Sink.CountFor($"mh-{runId}-first").Should().Be(1);
            if (inSlowStep.Contains(runId) || events.CountOf("run_interrupted") > 0)
            {
                interruptedRuns++;
                victimRuns.Should().Contain(runId, "only the victim's steps are cut off");
                var interrupted = events.Should().ContainSingle(e => e.Type == "run_interrupted", $"run {runId} was cut off on the victim").Subject;
                interrupted.PayloadJson.Should().Contain("forced stop");
                events.Select(e => e.Type).Should().ContainInOrder("run_interrupted", "run_handed_off", "run_resumed");
                cluster.Sink.CountFor($"mh-{runId}-second").Should().Be(2, "the cut-off step runs once more, elsewhere, with the same Idempotency-Key");
            }
            else
            {
                cluster.Sink.CountFor($"mh-{runId}-second").Should().Be(1);
            }
        }

        report.StepsInterrupted.Should().Be(interruptedRuns, "the row counts the interruptions the history shows");
    }

    [Fact]
    public async Task Silo_TimeoutsThatDoNotNest_AreRefusedAtStart()
    {
        await using var cluster = await ProcessCluster.CreateAsync("proc_nest", new Dictionary<string, string?>
        {
            ["MeshHook__Shutdown__DrainTimeout"] = "00:00:40",
        });
        var silo = cluster.Start("a");

        var exitCode = await silo.WaitForExitAsync(TimeSpan.FromSeconds(60), "the silo refuses its configuration");

        exitCode.Should().Be(2, silo.Process.Output);
        var lines = silo.Process.Output.Split('\n').Where(l => l.Contains("does not nest")).ToList();
        lines.Should().ContainSingle(silo.Process.Output).Which.Trim().Should().Be(
            "MeshHook.Silo: invalid configuration: MeshHook:Shutdown does not nest: DrainTimeout 40 s + HandOffTimeout 3 s + shutdown hooks 0 s + " +
            "ReportTimeout 1 s = 44 s, which is not less than GracePeriod 30 s (the container's terminationGracePeriodSeconds). " +
            "Lower DrainTimeout or raise GracePeriod together with the container's grace period.");
        silo.Process.Output.Should().NotContain("   at ", "an operator gets one line, not a stack trace");
    }

    private static Dictionary<string, string?> DrainSettings(TimeSpan drainTimeout) => new()
    {
        ["MeshHook__Shutdown__DrainTimeout"] = drainTimeout.ToString("c"),
    };

    /// <summary>
    /// Waits until every run has started (its start is in the log of the silo hosting it) and picks as victim the silo
    /// hosting most of them; then waits until the victim has runs inside their slow "second" step, and returns as soon
    /// as all of them are, or the earliest one is half-way through, so the signal always finds steps in flight.
    /// </summary>
    private static async Task<(ClusterSilo Victim, ClusterSilo Survivor)> RunsInSlowStepAsync(
        ProcessCluster cluster, ClusterSilo[] silos, Guid[] runIds, int slowMs)
    {
        await Poll.UntilAsync(
            () => Task.FromResult(runIds.All(id => silos.Any(s => s.RunsStartedHere().Contains(id)))),
            "every run has started on some silo",
            TimeSpan.FromSeconds(30));
        var ordered = silos.OrderByDescending(s => s.RunsStartedHere().Intersect(runIds).Count()).ToArray();
        var (victim, survivor) = (ordered[0], ordered[1]);
        var victimRuns = victim.RunsStartedHere().Intersect(runIds).ToArray();
        await Poll.UntilAsync(
            () =>
            {
                var received = cluster.Sink.Requests
                    .Where(r => r.Path == "/second" && victimRuns.Any(id => r.IdempotencyKey == $"mh-{id}-second"))
                    .Select(r => r.ReceivedAt)
                    .ToList();
                return Task.FromResult(received.Count > 0
                    && (received.Count >= victimRuns.Length || DateTimeOffset.UtcNow - received.Min() > TimeSpan.FromMilliseconds(slowMs / 2)));
            },
            "the victim's runs are inside their slow step",
            TimeSpan.FromSeconds(30));
        Log?.WriteLine($"runs per silo: {string.Join(", ", silos.Select(s => $"{s.Name}={s.RunsStartedHere().Intersect(runIds).Count()}"))}; victim {victim.Name}");
        return (victim, survivor);
    }

    /// <summary>webhook → first (fast http_call) → wait (delay) → second (fast http_call).</summary>
    private static string CallWaitCall(Uri sink, int waitMs) => $$$"""
        {
          "nodes": [
            {"id": "hook", "type": "webhook"},
            {"id": "first", "type": "http_call", "data": {"method": "POST", "url": "{{{new Uri(sink, "/first")}}}", "body": "trigger.body"}},
            {"id": "wait", "type": "delay", "data": {"ms": {{{waitMs}}}}},
            {"id": "second", "type": "http_call", "data": {"method": "POST", "url": "{{{new Uri(sink, "/second")}}}", "body": "trigger.body"}}
          ],
          "edges": [
            {"source": "hook", "target": "first"},
            {"source": "first", "target": "wait"},
            {"source": "wait", "target": "second"}
          ]
        }
        """;
}
