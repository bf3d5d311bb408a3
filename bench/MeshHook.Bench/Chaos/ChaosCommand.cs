using MeshHook.Bench.Chaos.InProcess;
using MeshHook.Bench.Infrastructure;

namespace MeshHook.Bench.Chaos;

/// <summary><c>MeshHook.Bench chaos [options]</c>: the process soak, or with <c>--in-process</c> the in-process mode (see docs/reliability.md).</summary>
public static class ChaosCommand
{
    public static Task<int> RunAsync(string[] args) =>
        BenchCommand.RunAsync(
            args,
            ChaosOptions.Parse,
            ChaosOptions.Usage,
            (options, stop) => options.InProcess
                ? new InProcessSoak(options, Console.Out).RunAsync(stop)
                : new ProcessSoak(options, Console.Out).RunAsync(stop));
}
