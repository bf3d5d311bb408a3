using System.Globalization;

namespace MeshHook.Bench.ScaleIn;

/// <summary>Count, nearest-rank p50/p99, min and max of a sorted sample (milliseconds).</summary>
public sealed record Stats(int Count, double P50, double P99, double Min, double Max)
{
    public static Stats Of(TimeSpan[] sorted) => sorted.Length == 0
        ? new Stats(0, double.NaN, double.NaN, double.NaN, double.NaN)
        : new Stats(sorted.Length, Rank(sorted, 0.50), Rank(sorted, 0.99), sorted[0].TotalMilliseconds, sorted[^1].TotalMilliseconds);

    private static double Rank(TimeSpan[] sorted, double p) =>
        sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)].TotalMilliseconds;

    public override string ToString() => Count == 0
        ? "n=0"
        : string.Create(CultureInfo.InvariantCulture, $"n={Count} p50 {P50:F0} p99 {P99:F0} (min {Min:F0}, max {Max:F0}) ms");
}

/// <summary>The silo's own row in meshhook_shutdowns.</summary>
public sealed record ShutdownRow(int DurationMs, int DrainMs, int HandOffMs, int HooksMs, int StepsCompleted, int StepsInterrupted, int RunsHandedOff, bool Forced)
{
    public override string ToString() =>
        $"duration {DurationMs} ms (drain {DrainMs}, hand-off {HandOffMs}, hooks {HooksMs}), steps completed {StepsCompleted}, interrupted {StepsInterrupted}, runs handed off {RunsHandedOff}, forced {Forced}";
}

/// <summary>(a) and (b): the graceful stop of silo A.</summary>
public sealed record DrainResult(
    int ExitCode,
    TimeSpan Exit,
    TimeSpan ReapedAfterExit,
    TimeSpan StepsDone,
    TimeSpan LongestHeldAtSignal,
    int StepsInFlight,
    int ArrivedAfterSignal,
    int HandedOff,
    long Interrupted,
    long HandOffEvents,
    ShutdownRow? Report,
    Stats NextStepFromExit,
    Stats NextStepFromHandOff,
    Stats NextRequestFromExit,
    int NoNextStep,
    int NotMoved)
{
    /// <summary>(a): SIGTERM → exit, minus the time the steps in flight on A took to get their answers.</summary>
    public TimeSpan Overhead => Exit - StepsDone;

    public string Line(int round) => string.Create(CultureInfo.InvariantCulture, $"""
        round {round} (a) SIGTERM A: exit code {ExitCode} after {Exit.TotalMilliseconds:F0} ms (kernel's end of the process; this bench reaped it {ReapedAfterExit.TotalMilliseconds:F0} ms later); A's {StepsInFlight} step(s) in flight ({ArrivedAfterSignal} reached the sink after the signal) were answered {StepsDone.TotalMilliseconds:F0} ms after it (longest held at the signal: {LongestHeldAtSignal.TotalMilliseconds:F0} ms more) => exit minus in-flight steps {Overhead.TotalMilliseconds:F0} ms
        round {round}     A's report row: {Report?.ToString() ?? "missing"}; events naming A: run_handed_off {HandOffEvents}, run_interrupted {Interrupted}
        round {round} (b) hand-off: {HandedOff} runs left A (handed off or interrupted); A's exit → next step_started elsewhere {NextStepFromExit}; → next sink request {NextRequestFromExit}
        round {round}     per run, its run_handed_off/run_interrupted → next step_started {NextStepFromHandOff}; of them without a next step: {NoNextStep}; runs with no request within the move timeout after A's exit: {NotMoved}
        """);
}

/// <summary>(c): the crash of silo B.</summary>
public sealed record CrashResult(
    int Resumed,
    int ResumedOnKilled,
    int HeldAtKill,
    TimeSpan? DeclaredDead,
    TimeSpan? FirstResume,
    Stats NextStep,
    Stats NextRequest,
    int NoNextStep,
    int NotMoved)
{
    public string Line(int round) => string.Create(CultureInfo.InvariantCulture, $"""
        round {round} (c) SIGKILL B: {Resumed} runs resumed on another silo ({HeldAtKill} had a request held by the sink at the kill; {ResumedOnKilled} resumed on B itself); B declared dead in the membership table {Ms(DeclaredDead)} after the kill, first resume {Ms(FirstResume)} after
        round {round}     SIGKILL → next step_started elsewhere {NextStep}; → next sink request {NextRequest}; resumed runs without a next step: {NoNextStep}; runs with no request within the move timeout after the kill: {NotMoved}
        """);

    private static string Ms(TimeSpan? value) => value is { } v ? $"{v.TotalMilliseconds:F0} ms" : "never seen";
}

/// <summary>The end of a round: every run finished, history consistent.</summary>
public sealed record Checks(
    long Unfinished,
    long Succeeded,
    long EndedBySink,
    long OtherEnd,
    long SeqGaps,
    long WrongTerminalCount,
    long RepeatedSucceeded,
    long StepReruns,
    int DuplicateRequests,
    (string Name, int ExitCode)[] Exits)
{
    public bool Ok => Unfinished == 0 && OtherEnd == 0 && SeqGaps == 0 && WrongTerminalCount == 0 && RepeatedSucceeded == 0;

    public string Line(int round) => string.Create(CultureInfo.InvariantCulture,
        $"round {round} checks: {(Ok ? "OK" : "FAILED")}: unfinished {Unfinished}, succeeded {Succeeded}, ended by the sink's 410 {EndedBySink}, ended otherwise {OtherEnd}; " +
        $"runs with seq gaps {SeqGaps}, runs without exactly one terminal event {WrongTerminalCount}, checkpointed steps succeeded twice {RepeatedSucceeded}; " +
        $"steps started again (execution > 1) {StepReruns}, (run, node) pairs the sink saw more than once {DuplicateRequests}; silo exit codes {string.Join(", ", Exits.Select(e => $"{e.Name} {e.ExitCode}"))}");
}

public sealed record RoundResult(int Round, double StepRate, DrainResult Drain, CrashResult Crash, Checks Checks);
