using System.Globalization;

namespace MeshHook.Bench.Throughput;

/// <summary>Prints the rounds as they finish and the final table (medians over rounds, each column on its own).</summary>
public static class ThroughputReport
{
    /// <summary>The goal of the issue: durable steps/s at least this share of the ceiling's commits/s.</summary>
    public const double Goal = 0.40;

    public static string RoundLine(LevelResult level) => string.Create(CultureInfo.InvariantCulture,
        $"round {level.Round} c={level.Concurrency,-3} engine {level.Engine.PerSecond,7:F1} runs/s {level.StepsPerSecond,7:F1} steps/s " +
        $"p50 {Ms(level.Engine.LatencyP50)} p99 {Ms(level.Engine.LatencyP99)} ms | ceiling {level.Ceiling.PerSecond,7:F1} commits/s " +
        $"| ratio {level.Ratio,5:P1}{(level.Engine.Failures > 0 ? $" | {level.Engine.Failures} run(s) FAILED or timed out" : "")}");

    public static void Print(TextWriter output, ThroughputOptions options, IReadOnlyList<LevelResult> results, long sinkRequests, long finishedEvents, TimeSpan total)
    {
        var rounds = options.Rounds == 1 ? "1 round" : $"median of {options.Rounds} rounds";
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Durable throughput: {options.Workflow.Description}, {options.Workflow.Steps} steps/run, " +
            $"{options.Silos} silo(s), {options.Duration.TotalSeconds:0.#}s windows, {rounds}"));
        output.WriteLine();
        output.WriteLine("| conc | runs/s | steps/s | run p50 ms | run p99 ms | ceiling commits/s | commit p50 ms | ratio | ≥ 40%? |");
        output.WriteLine("|-----:|-------:|--------:|-----------:|-----------:|------------------:|--------------:|------:|:------:|");
        foreach (var level in results.GroupBy(r => r.Concurrency))
        {
            var ratio = Median(level, r => r.Ratio);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {level.Key,4} | {Median(level, r => r.Engine.PerSecond),6:F1} | {Median(level, r => r.StepsPerSecond),7:F1} " +
                $"| {Median(level, r => r.Engine.LatencyP50.TotalMilliseconds),10:F1} | {Median(level, r => r.Engine.LatencyP99.TotalMilliseconds),10:F1} " +
                $"| {Median(level, r => r.Ceiling.PerSecond),17:F1} | {Median(level, r => r.Ceiling.LatencyP50.TotalMilliseconds),13:F2} " +
                $"| {ratio,5:P1} | {(ratio >= Goal ? "yes" : "no"),6} |"));
        }

        output.WriteLine();
        output.WriteLine("Postgres transactions per durable step (engine window; non-writing = reads and the DISCARD ALL Npgsql sends when a pooled connection is reused):");
        output.WriteLine();
        output.WriteLine("| conc | commits/step | writing xacts/step | non-writing xacts/step | WAL fsyncs/step | WAL bytes/step | ceiling commits/fsync | engine xacts/s | ceiling xacts/s |");
        output.WriteLine("|-----:|-------------:|-------------------:|------------------------:|----------------:|---------------:|----------------------:|---------------:|----------------:|");
        foreach (var level in results.GroupBy(r => r.Concurrency))
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {level.Key,4} | {Median(level, r => r.Engine.Database.XactCommit / r.StepsInWindow),12:F2} " +
                $"| {Median(level, r => r.Engine.Database.Xid / r.StepsInWindow),18:F2} " +
                $"| {Median(level, r => (r.Engine.Database.XactCommit - r.Engine.Database.Xid) / r.StepsInWindow),23:F2} " +
                $"| {Median(level, r => r.Engine.Database.WalSync / r.StepsInWindow),15:F2} " +
                $"| {Median(level, r => r.Engine.Database.WalBytes / r.StepsInWindow),14:F0} " +
                $"| {Median(level, r => r.Ceiling.Database.WalSync == 0 ? 0 : (double)r.Ceiling.Database.Xid / r.Ceiling.Database.WalSync),21:F2} " +
                $"| {Median(level, r => r.Engine.Database.XactCommit / r.Engine.Window.TotalSeconds),14:F0} " +
                $"| {Median(level, r => r.Ceiling.Database.XactCommit / r.Ceiling.Window.TotalSeconds),15:F0} |"));
        }

        output.WriteLine();
        output.WriteLine("CPU per durable step (ms; this process holds the silo, the client and the sink; Postgres = postmaster and children, n/a for an external server)");
        output.WriteLine("and machine busy share (all cores; the rest is other tenants of a shared machine):");
        output.WriteLine();
        output.WriteLine("| conc | engine process ms/step | Postgres ms/step | other ms/step | machine busy (engine) | machine busy (ceiling) | ceiling: Postgres ms/commit |");
        output.WriteLine("|-----:|-----------------------:|-----------------:|--------------:|----------------------:|-----------------------:|----------------------------:|");
        foreach (var level in results.GroupBy(r => r.Concurrency))
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {level.Key,4} | {Median(level, r => r.Engine.Cpu.Process.TotalMilliseconds / r.StepsInWindow),22:F2} " +
                $"| {Median(level, r => r.Engine.Cpu.Postgres.TotalMilliseconds / r.StepsInWindow),16:F2} " +
                $"| {Median(level, r => (r.Engine.Cpu.MachineBusy - r.Engine.Cpu.Process - r.Engine.Cpu.Postgres).TotalMilliseconds / r.StepsInWindow),13:F2} " +
                $"| {Median(level, r => r.Engine.Cpu.MachineBusyShare),21:P0} | {Median(level, r => r.Ceiling.Cpu.MachineBusyShare),22:P0} " +
                $"| {Median(level, r => r.Ceiling.Cpu.Postgres.TotalMilliseconds / r.Ceiling.WorkInWindow),27:F3} |"));
        }

        var failures = results.Sum(r => r.Engine.Failures);
        var meterSteps = results.Sum(r => r.Engine.StepEvents);
        var countedSteps = results.Sum(r => r.StepsInWindow);
        output.WriteLine();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"checks: {failures} failed/timed-out run(s) in the windows; engine meter counted {meterSteps} steps in the windows vs " +
            $"{countedSteps:F0} from runs × {options.Workflow.Steps}; sink got {sinkRequests} requests for {finishedEvents} finished runs; total {total.TotalSeconds:F0}s"));
    }

    /// <summary>One level of one round in every tracing mode, against the first.</summary>
    public static string TracingLine(LevelResult level)
    {
        var first = level.Traced[0].Result.PerSecond;
        return "        tracing: " + string.Join(" | ", level.Traced.Select(t => string.Create(CultureInfo.InvariantCulture,
            $"{BenchTracing.Name(t.Mode)} {t.Result.PerSecond * level.StepsPerRun,7:F1} steps/s p50 {Ms(t.Result.LatencyP50)} ms ({(first == 0 ? 0 : t.Result.PerSecond / first),5:P0})")));
    }

    /// <summary>
    /// Each tracing mode against the first (<c>--tracing off,spans,otlp</c>): the median over rounds of the ratio of steps/s
    /// measured in the same round at the same level, and the process's CPU per step.
    /// </summary>
    public static void PrintTracing(TextWriter output, ThroughputOptions options, IReadOnlyList<LevelResult> results, (long Requests, long Bytes) otlp)
    {
        var baseline = BenchTracing.Name(options.Tracing[0]);
        output.WriteLine();
        output.WriteLine($"Tracing: each mode against {baseline} (ratio = median over rounds of steps/s ÷ {baseline}'s steps/s in the same round and level):");
        output.WriteLine();
        output.WriteLine($"| conc | tracing | steps/s | run p50 ms | run p99 ms | engine process ms/step | steps/s ÷ {baseline} | p50 ÷ {baseline} |");
        output.WriteLine("|-----:|:--------|--------:|-----------:|-----------:|-----------------------:|------------:|---------:|");
        foreach (var level in results.GroupBy(r => r.Concurrency))
        {
            for (var m = 0; m < options.Tracing.Count; m++)
            {
                var mode = m;
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {level.Key,4} | {BenchTracing.Name(options.Tracing[mode]),-7} | {Median(level, r => r.Traced[mode].Result.PerSecond * r.StepsPerRun),7:F1} " +
                    $"| {Median(level, r => r.Traced[mode].Result.LatencyP50.TotalMilliseconds),10:F1} | {Median(level, r => r.Traced[mode].Result.LatencyP99.TotalMilliseconds),10:F1} " +
                    $"| {Median(level, r => r.Traced[mode].Result.Cpu.Process.TotalMilliseconds / (r.Traced[mode].Result.WorkInWindow * r.StepsPerRun)),22:F2} " +
                    $"| {Median(level, r => Ratio(r.Traced[mode].Result.PerSecond, r.Traced[0].Result.PerSecond)),11:F3} " +
                    $"| {Median(level, r => Ratio(r.Traced[mode].Result.LatencyP50.TotalMilliseconds, r.Traced[0].Result.LatencyP50.TotalMilliseconds)),8:F3} |"));
            }
        }

        output.WriteLine();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"OTLP receiver: {otlp.Requests} export request(s), {otlp.Bytes / 1024.0:F0} KiB in all (the exporter batches every 5 s, up to 512 spans, and drops spans past a 2048-span queue)"));
    }

    private static double Ratio(double value, double baseline) => baseline == 0 ? 0 : value / baseline;

    private static string Ms(TimeSpan value) => value.TotalMilliseconds.ToString("F1", CultureInfo.InvariantCulture).PadLeft(6);

    private static double Median<T>(IEnumerable<T> items, Func<T, double> selector)
    {
        var values = items.Select(selector).Order().ToArray();
        return values.Length % 2 == 1 ? values[values.Length / 2] : (values[(values.Length / 2) - 1] + values[values.Length / 2]) / 2;
    }
}
