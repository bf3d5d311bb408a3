using System.Runtime.InteropServices;

namespace MeshHook.Bench.Chaos;

/// <summary><c>MeshHook.Bench chaos [options]</c>: parses, runs the process soak (or the in-process mode), and stops everything it started on Ctrl-C or SIGTERM.</summary>
public static class ChaosCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        ChaosOptions options;
        try
        {
            options = ChaosOptions.Parse(args);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            await Console.Error.WriteLineAsync($"MeshHook.Bench: {e.Message}");
            await Console.Error.WriteLineAsync(ChaosOptions.Usage);
            return 2;
        }

        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            // Not killed here: the soak stops its processes and Postgres on its way out.
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
            return await new ProcessSoak(options, Console.Out).RunAsync(stop.Token);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync("MeshHook.Bench: stopped");
            return 130;
        }
    }
}
