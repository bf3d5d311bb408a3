using System.Runtime.InteropServices;

namespace MeshHook.Bench.Chaos.InProcess;

/// <summary>
/// <c>MeshHook.Bench chaos --in-process --stops N [--silos 3] [--seed S] [--settle 180s]</c>: the in-process soak on its own
/// (the <c>chaos</c> command runs it with <c>--in-process</c>). Stops everything it started on Ctrl-C or SIGTERM.
/// </summary>
public static class InProcessCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        ChaosOptions options;
        try
        {
            options = ChaosOptions.Parse(args) with { InProcess = true };
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
            // Not killed here: the soak stops its cluster and Postgres on its way out.
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
            return await new InProcessSoak(options, Console.Out).RunAsync(stop.Token);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync("MeshHook.Bench: stopped");
            return 130;
        }
    }
}
