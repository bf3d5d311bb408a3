using System.Globalization;

namespace MeshHook.Bench.Throughput;

/// <summary>Command line of <c>throughput</c>: <c>[--duration 10s] [--warmup 3s] [--concurrency 1,16,64] [--rounds 2] [--silos 1] [--workflow linear|chain20] [--tracing off,spans,otlp]</c>.</summary>
public sealed record ThroughputOptions
{
    /// <summary>Length of each measurement window (engine and ceiling alike).</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(8);

    /// <summary>Engine warm-up before each window (new activations, pools, JIT); the ceiling gets a second.</summary>
    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(2);

    public IReadOnlyList<int> Concurrency { get; init; } = [1, 16, 64];

    /// <summary>How often every level is measured; the table reports the median of the rounds.</summary>
    public int Rounds { get; init; } = 2;

    public short Silos { get; init; } = 1;

    /// <summary>The workflow every run executes (<see cref="BenchWorkflow.Parse"/>).</summary>
    public BenchWorkflow Workflow { get; init; } = BenchWorkflow.Linear;

    /// <summary>
    /// The tracing modes the engine is measured in, each in its own window at every level (the order turns between
    /// rounds); the first is the one the main tables show. With more than one, a table compares each to the first.
    /// </summary>
    public IReadOnlyList<TracingMode> Tracing { get; init; } = [TracingMode.Off];

    public static ThroughputOptions Parse(IReadOnlyList<string> args)
    {
        var options = new ThroughputOptions();
        for (var i = 0; i < args.Count; i++)
        {
            var value = i + 1 < args.Count ? args[i + 1] : throw new ArgumentException($"{args[i]} needs a value");
            options = args[i] switch
            {
                "--duration" => options with { Duration = ParseDuration(value) },
                "--warmup" => options with { Warmup = ParseDuration(value) },
                "--concurrency" => options with { Concurrency = value.Split(',').Select(v => int.Parse(v, CultureInfo.InvariantCulture)).ToArray() },
                "--rounds" => options with { Rounds = int.Parse(value, CultureInfo.InvariantCulture) },
                "--silos" => options with { Silos = short.Parse(value, CultureInfo.InvariantCulture) },
                "--workflow" => options with { Workflow = BenchWorkflow.Parse(value) },
                "--tracing" => options with { Tracing = value.Split(',').Select(BenchTracing.Parse).ToArray() },
                _ => throw new ArgumentException($"unknown option {args[i]}"),
            };
            i++;
        }

        if (options.Tracing.Count == 0 || options.Tracing.Distinct().Count() != options.Tracing.Count)
        {
            throw new ArgumentException("--tracing lists each of off, spans and otlp at most once");
        }

        if (options.Concurrency.Count == 0 || options.Concurrency.Any(c => c < 1) || options.Rounds < 1 || options.Silos < 1
            || options.Duration <= TimeSpan.Zero || options.Warmup < TimeSpan.Zero)
        {
            throw new ArgumentException("--concurrency, --rounds and --silos must be positive, --duration too");
        }

        return options;
    }

    /// <summary>"20s", "500ms", "1m", or plain seconds.</summary>
    private static TimeSpan ParseDuration(string text)
    {
        static double Number(string s) => double.Parse(s, CultureInfo.InvariantCulture);
        return text switch
        {
            _ when text.EndsWith("ms", StringComparison.Ordinal) => TimeSpan.FromMilliseconds(Number(text[..^2])),
            _ when text.EndsWith('s') => TimeSpan.FromSeconds(Number(text[..^1])),
            _ when text.EndsWith('m') => TimeSpan.FromMinutes(Number(text[..^1])),
            _ => TimeSpan.FromSeconds(Number(text)),
        };
    }
}
