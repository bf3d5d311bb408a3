using System.Runtime.InteropServices;

namespace MeshHook.Bench.Infrastructure;

/// <summary>
/// How every benchmark command runs: parse its options (a bad command line prints the usage and exits 2), then run it
/// under a token that Ctrl-C and SIGTERM cancel, so it stops what it started (processes, clusters, Postgres) on its way
/// out and exits 130.
/// </summary>
public static class BenchCommand
{
    public static async Task<int> RunAsync<TOptions>(string[] args, Func<IReadOnlyList<string>, TOptions> parse, string usage, Func<TOptions, CancellationToken, Task<int>> run)
    {
        ArgumentNullException.ThrowIfNull(parse);
        ArgumentNullException.ThrowIfNull(run);
        TOptions options;
        try
        {
            options = parse(args);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            await Console.Error.WriteLineAsync($"MeshHook.Bench: {e.Message}");
            await Console.Error.WriteLineAsync(usage);
            return 2;
        }

        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            // Not killed here: the command stops what it started on its way out.
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
            return await run(options, stop.Token);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync("MeshHook.Bench: stopped");
            return 130;
        }
    }
}
