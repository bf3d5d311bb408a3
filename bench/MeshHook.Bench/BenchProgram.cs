using System.Runtime.InteropServices;
using MeshHook.Bench.ScaleIn;
using MeshHook.Bench.Throughput;

namespace MeshHook.Bench;

/// <summary>Entry point of the benchmarks: <c>throughput [options]</c> or <c>scalein [options]</c>. Ctrl-C or SIGTERM stops the run and everything it started.</summary>
public static class BenchProgram
{
    public static async Task<int> RunAsync(string[] args)
    {
        var command = args.Length == 0 ? "" : args[0];
        if (command == "intake")
        {
            return await Intake.IntakeCommand.RunAsync(args[1..]);
        }

        if (command == "chaos")
        {
            // --in-process selects the in-process mode; both parse the same options.
            return args.Contains("--in-process")
                ? await Chaos.InProcess.InProcessCommand.RunAsync(args[1..])
                : await Chaos.ChaosCommand.RunAsync(args[1..]);
        }

        if (command is not ("throughput" or "scalein"))
        {
            await Console.Error.WriteLineAsync("usage: MeshHook.Bench throughput [--duration 8s] [--warmup 2s] [--concurrency 1,16,64] [--rounds 2] [--silos 1]");
            await Console.Error.WriteLineAsync("       " + ScaleInOptions.Usage["usage: ".Length..]);
            await Console.Error.WriteLineAsync("       " + Intake.IntakeOptions.Usage["usage: ".Length..]);
            await Console.Error.WriteLineAsync("       " + Chaos.ChaosOptions.Usage["usage: ".Length..]);
            return 2;
        }

        ThroughputOptions? throughput = null;
        ScaleInOptions? scaleIn = null;
        try
        {
            if (command == "throughput")
            {
                throughput = ThroughputOptions.Parse(args[1..]);
            }
            else
            {
                scaleIn = ScaleInOptions.Parse(args[1..]);
            }
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            await Console.Error.WriteLineAsync($"MeshHook.Bench: {e.Message}");
            return 2;
        }

        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            // Not killed here: the benchmark stops the cluster and Postgres on its way out.
            e.Cancel = true;
            stop.Cancel();
        };
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            stop.Cancel();
        });

        try
        {
            if (throughput is not null)
            {
                await new ThroughputBenchmark(throughput, Console.Out).RunAsync(stop.Token);
            }
            else
            {
                await new ScaleInBenchmark(scaleIn!, Console.Out).RunAsync(stop.Token);
            }

            return 0;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync("MeshHook.Bench: stopped");
            return 130;
        }
    }
}
