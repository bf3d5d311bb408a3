using System.Runtime.InteropServices;

namespace MeshHook.Bench.Intake;

/// <summary><c>MeshHook.Bench intake [options]</c>: parses, runs, and stops everything it started on Ctrl-C or SIGTERM.</summary>
public static class IntakeCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        IntakeOptions options;
        try
        {
            options = IntakeOptions.Parse(args);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            await Console.Error.WriteLineAsync($"MeshHook.Bench: {e.Message}");
            await Console.Error.WriteLineAsync(IntakeOptions.Usage);
            return 2;
        }

        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            // Not killed here: the benchmark stops its processes and Postgres on its way out.
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
            await new IntakeBenchmark(options, Console.Out).RunAsync(stop.Token);
            return 0;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync("MeshHook.Bench: stopped");
            return 130;
        }
    }
}
