using MeshHook.Bench.Infrastructure;
using MeshHook.Bench.ScaleIn;
using MeshHook.Bench.Throughput;

namespace MeshHook.Bench;

/// <summary>Entry point of the benchmarks: <c>throughput</c>, <c>scalein</c>, <c>intake</c> or <c>chaos</c>, with options. Ctrl-C or SIGTERM stops the run and everything it started.</summary>
public static class BenchProgram
{
    private const string ThroughputUsage = "usage: MeshHook.Bench throughput [--duration 8s] [--warmup 2s] [--concurrency 1,16,64] [--rounds 2] [--silos 1] [--workflow linear|chain20] [--tracing off,spans,otlp]";

    public static async Task<int> RunAsync(string[] args)
    {
        var command = args.Length == 0 ? "" : args[0];
        if (command == "intake")
        {
            return await Intake.IntakeCommand.RunAsync(args[1..]);
        }

        if (command == "chaos")
        {
            return await Chaos.ChaosCommand.RunAsync(args[1..]);
        }

        if (command is not ("throughput" or "scalein"))
        {
            await Console.Error.WriteLineAsync(ThroughputUsage);
            await Console.Error.WriteLineAsync("       " + ScaleInOptions.Usage["usage: ".Length..]);
            await Console.Error.WriteLineAsync("       " + Intake.IntakeOptions.Usage["usage: ".Length..]);
            await Console.Error.WriteLineAsync("       " + Chaos.ChaosOptions.Usage["usage: ".Length..]);
            return 2;
        }

        return command == "throughput"
            ? await BenchCommand.RunAsync(
                args[1..],
                ThroughputOptions.Parse,
                ThroughputUsage,
                async (options, stop) =>
                {
                    await new ThroughputBenchmark(options, Console.Out).RunAsync(stop);
                    return 0;
                })
            : await BenchCommand.RunAsync(
                args[1..],
                ScaleInOptions.Parse,
                ScaleInOptions.Usage,
                async (options, stop) =>
                {
                    await new ScaleInBenchmark(options, Console.Out).RunAsync(stop);
                    return 0;
                });
    }
}
