using System.Globalization;

namespace MeshHook.Bench.Chaos;

/// <summary>
/// Command line of <c>chaos</c>: <c>--minutes N [--silos 3] [--seed S] [--rate 6] [--settle 180s]</c> for the process
/// soak, or <c>--in-process --stops N [--silos 3] [--seed S]</c> for the in-process mode.
/// </summary>
public sealed record ChaosOptions
{
    public const string Usage = "usage: MeshHook.Bench chaos --minutes N [--silos 3] [--seed S] [--rate 6] [--settle 180s] [--gateway-restarts on|off] | --in-process --stops N [--silos 3] [--seed S]";

    /// <summary>How long the load and the terminations run (process soak).</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromMinutes(2);

    public int Silos { get; init; } = 3;

    /// <summary>Seeds every random choice (what to terminate, when, which workflow): the same seed replays the same plan.</summary>
    public int Seed { get; init; } = Environment.TickCount & 0x7fffffff;

    /// <summary>Webhooks per second through the gateway (process soak), a rate this 2-core machine sustains with 3 silos.</summary>
    public double Rate { get; init; } = 6;

    /// <summary>How long, once the load stops, every accepted run gets to finish before the unfinished ones count as stuck.</summary>
    public TimeSpan Settle { get; init; } = TimeSpan.FromSeconds(180);

    public bool InProcess { get; init; }

    /// <summary>
    /// Whether the process soak restarts the gateway. Off skips that one termination (see docs/reliability.md: a webhook
    /// sent on a kept-alive connection as the gateway stops can lose its answer, an open bug).
    /// </summary>
    public bool GatewayRestarts { get; init; } = true;

    /// <summary>Silo stops to make (in-process mode).</summary>
    public int Stops { get; init; } = 200;

    public static ChaosOptions Parse(IReadOnlyList<string> args)
    {
        var options = new ChaosOptions();
        for (var i = 0; i < args.Count; i++)
        {
            if (args[i] == "--in-process")
            {
                options = options with { InProcess = true };
                continue;
            }

            var value = i + 1 < args.Count ? args[i + 1] : throw new ArgumentException($"{args[i]} needs a value");
            options = args[i] switch
            {
                "--minutes" => options with { Duration = TimeSpan.FromMinutes(double.Parse(value, CultureInfo.InvariantCulture)) },
                "--silos" => options with { Silos = int.Parse(value, CultureInfo.InvariantCulture) },
                "--seed" => options with { Seed = int.Parse(value, CultureInfo.InvariantCulture) },
                "--rate" => options with { Rate = double.Parse(value, CultureInfo.InvariantCulture) },
                "--settle" => options with { Settle = TimeSpan.FromSeconds(double.Parse(value.TrimEnd('s'), CultureInfo.InvariantCulture)) },
                "--stops" => options with { Stops = int.Parse(value, CultureInfo.InvariantCulture) },
                "--gateway-restarts" => options with
                {
                    GatewayRestarts = value switch
                    {
                        "on" => true,
                        "off" => false,
                        _ => throw new ArgumentException("--gateway-restarts takes on or off"),
                    },
                },
                _ => throw new ArgumentException($"unknown option {args[i]}"),
            };
            i++;
        }

        if (options.Silos < 2)
        {
            throw new ArgumentException("--silos must be at least 2: stopped silos hand their runs to the others");
        }

        if (options.Duration <= TimeSpan.Zero || options.Rate <= 0 || options.Settle <= TimeSpan.Zero || options.Stops < 1 || options.Seed < 0)
        {
            throw new ArgumentException("--minutes, --rate, --settle and --stops must be positive, --seed not negative");
        }

        return options;
    }
}
