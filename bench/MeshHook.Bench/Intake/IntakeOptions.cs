using System.Globalization;

namespace MeshHook.Bench.Intake;

/// <summary>
/// Command line of <c>intake</c>: <c>[--rate 100] [--duration 20s] [--warmup 5s] [--silos 2] [--drain-at 5s] [--rounds 1]</c>.
/// </summary>
public sealed record IntakeOptions
{
    public const string Usage = "usage: MeshHook.Bench intake [--rate 100] [--duration 20s] [--warmup 5s] [--silos 2] [--drain-at 5s] [--rounds 1]";

    /// <summary>Webhooks per second, sent open loop (on schedule, whether earlier ones answered or not).</summary>
    public double Rate { get; init; } = 100;

    /// <summary>Length of each measured phase (steady, then with a silo draining).</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Unmeasured load before the first phase of a round (JIT, pools, activations).</summary>
    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(5);

    public int Silos { get; init; } = 2;

    /// <summary>When, from the start of the drain phase, the silo gets SIGTERM.</summary>
    public TimeSpan DrainAt { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Rounds of (steady, drain); each round is reported, and the median of the rounds.</summary>
    public int Rounds { get; init; } = 1;

    public static IntakeOptions Parse(IReadOnlyList<string> args)
    {
        var options = new IntakeOptions();
        for (var i = 0; i < args.Count; i++)
        {
            var value = i + 1 < args.Count ? args[i + 1] : throw new ArgumentException($"{args[i]} needs a value");
            options = args[i] switch
            {
                "--rate" => options with { Rate = double.Parse(value, CultureInfo.InvariantCulture) },
                "--duration" => options with { Duration = ParseDuration(value) },
                "--warmup" => options with { Warmup = ParseDuration(value) },
                "--silos" => options with { Silos = int.Parse(value, CultureInfo.InvariantCulture) },
                "--drain-at" => options with { DrainAt = ParseDuration(value) },
                "--rounds" => options with { Rounds = int.Parse(value, CultureInfo.InvariantCulture) },
                _ => throw new ArgumentException($"unknown option {args[i]}; {Usage}"),
            };
            i++;
        }

        if (options.Rate <= 0 || options.Duration <= TimeSpan.Zero || options.Warmup < TimeSpan.Zero || options.Rounds < 1)
        {
            throw new ArgumentException("--rate, --duration and --rounds must be positive");
        }

        if (options.Silos < 2)
        {
            throw new ArgumentException("--silos must be at least 2: one drains, the others take its runs");
        }

        if (options.DrainAt < TimeSpan.Zero || options.DrainAt >= options.Duration)
        {
            throw new ArgumentException("--drain-at must fall inside --duration");
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
