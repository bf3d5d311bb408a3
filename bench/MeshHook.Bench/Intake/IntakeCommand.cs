using MeshHook.Bench.Infrastructure;

namespace MeshHook.Bench.Intake;

/// <summary><c>MeshHook.Bench intake [options]</c>: parses, runs, and stops everything it started on Ctrl-C or SIGTERM.</summary>
public static class IntakeCommand
{
    public static Task<int> RunAsync(string[] args) =>
        BenchCommand.RunAsync(
            args,
            IntakeOptions.Parse,
            IntakeOptions.Usage,
            async (options, stop) =>
            {
                await new IntakeBenchmark(options, Console.Out).RunAsync(stop);
                return 0;
            });
}
