using System.Globalization;

namespace MeshHook.Bench.ScaleIn;

/// <summary>
/// Command line of <c>scalein</c>. Durations: "500ms", "5s", "1m" or plain seconds; the delay is a range "100-300ms".
/// Membership options left at 0 keep Orleans' defaults (the key is not passed to the silos at all).
/// </summary>
public sealed record ScaleInOptions
{
    public int Runs { get; init; } = 1000;

    /// <summary>Silo processes per round (A is drained, B is killed, the rest survive; A is restarted before B is killed).</summary>
    public int Silos { get; init; } = 3;

    public int Rounds { get; init; } = 2;

    /// <summary>http_call steps in the chain; more than a run gets through in a round, so every run is active throughout.</summary>
    public int Steps { get; init; } = 60;

    /// <summary>
    /// How long the sink holds each step's request (uniform in [MinDelay, MaxDelay]). 5–15 s: 1 000 runs then ask
    /// ~100 steps/s, which a 2-core machine serves at ~70 % CPU, so the figures show the shutdown, not a queue.
    /// With 100–300 ms the runs ask ~5 000 steps/s and every phase waits behind the overload (docs/benchmarks.md).
    /// </summary>
    public TimeSpan MinDelay { get; init; } = TimeSpan.FromSeconds(5);

    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>MeshHook:Shutdown:DrainTimeout of the silos: longer than the longest step, so the drain lets every step finish.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Runs execute this long after the last one was started before A gets SIGTERM.</summary>
    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>After A' (the restarted A) is ready, runs execute this long before B gets SIGKILL.</summary>
    public TimeSpan Settle { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long to wait for every run to move again after a signal before calling the rest stuck.</summary>
    public TimeSpan MoveTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// MeshHook:Recovery:StalledAfter of the silos: the age-based backstop, the product's default. A dead silo's runs
    /// are swept at once by owner; a short value here only makes the sweep restart healthy runs of a loaded cluster.
    /// </summary>
    public TimeSpan StalledAfter { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>MeshHook:Recovery:SweepInterval of the silos.</summary>
    public TimeSpan SweepInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>MeshHook:Runs:ReminderPeriod of the silos; zero keeps the silo's default (1 minute).</summary>
    public TimeSpan ReminderPeriod { get; init; } = TimeSpan.Zero;

    /// <summary>Orleans:Membership:ProbeTimeout; zero keeps Orleans' default.</summary>
    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Orleans:Membership:NumMissedProbesLimit; zero keeps Orleans' default.</summary>
    public int MissedProbes { get; init; } = 2;

    /// <summary>Orleans:Membership:NumVotesForDeathDeclaration; zero keeps Orleans' default.</summary>
    public int Votes { get; init; }

    /// <summary>
    /// MeshHook:Shutdown:FastExit of the silos: "on" (the product's default), "off", or "alternate": odd rounds off,
    /// even rounds on, so both are measured side by side in one run and the summary compares them.
    /// </summary>
    public string FastExit { get; init; } = "on";

    /// <summary>The FastExit setting of <paramref name="round"/>.</summary>
    public bool FastExitIn(int round) => FastExit switch
    {
        "off" => false,
        "alternate" => round % 2 == 0,
        _ => true,
    };

    public static string Usage =>
        "usage: MeshHook.Bench scalein [--runs 1000] [--silos 3] [--rounds 2] [--steps 60] [--delay 5-15s] [--drain-timeout 20s] " +
        "[--warmup 10s] [--settle 5s] [--move-timeout 60s] [--stalled-after 5s] [--sweep-interval 1s] [--reminder-period 0] " +
        "[--probe-timeout 2s] [--missed-probes 2] [--votes 0] [--fast-exit on|off|alternate]   (0 = the default of the silo / Orleans)";

    public static ScaleInOptions Parse(IReadOnlyList<string> args)
    {
        var o = new ScaleInOptions();
        for (var i = 0; i < args.Count; i++)
        {
            var value = i + 1 < args.Count ? args[i + 1] : throw new ArgumentException($"{args[i]} needs a value");
            o = args[i] switch
            {
                "--runs" => o with { Runs = Int(value) },
                "--silos" => o with { Silos = Int(value) },
                "--rounds" => o with { Rounds = Int(value) },
                "--steps" => o with { Steps = Int(value) },
                "--delay" => ParseDelay(o, value),
                "--drain-timeout" => o with { DrainTimeout = Duration(value) },
                "--warmup" => o with { Warmup = Duration(value) },
                "--settle" => o with { Settle = Duration(value) },
                "--move-timeout" => o with { MoveTimeout = Duration(value) },
                "--stalled-after" => o with { StalledAfter = Duration(value) },
                "--sweep-interval" => o with { SweepInterval = Duration(value) },
                "--reminder-period" => o with { ReminderPeriod = Duration(value) },
                "--probe-timeout" => o with { ProbeTimeout = Duration(value) },
                "--missed-probes" => o with { MissedProbes = Int(value) },
                "--votes" => o with { Votes = Int(value) },
                "--fast-exit" => value is "on" or "off" or "alternate" ? o with { FastExit = value } : throw new ArgumentException("--fast-exit is on, off or alternate"),
                _ => throw new ArgumentException($"unknown option {args[i]}"),
            };
            i++;
        }

        if (o.Runs < 1 || o.Silos < 2 || o.Rounds < 1 || o.Steps < 1 || o.Steps > 400 || o.MinDelay < TimeSpan.Zero || o.MaxDelay < o.MinDelay
            || o.MissedProbes < 0 || o.Votes < 0 || o.MoveTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("--runs, --rounds positive; --silos at least 2; --steps 1-400; --delay min-max with min ≤ max");
        }

        return o;
    }

    /// <summary>The silo configuration the options stand for (environment variables), besides connection and ports.</summary>
    public IEnumerable<KeyValuePair<string, string>> SiloSettings(int round)
    {
        if (!FastExitIn(round))
        {
            yield return new("MeshHook__Shutdown__FastExit", "false");
        }

        yield return new("MeshHook__Shutdown__DrainTimeout", Config(DrainTimeout));
        yield return new("MeshHook__Recovery__StalledAfter", Config(StalledAfter));
        yield return new("MeshHook__Recovery__SweepInterval", Config(SweepInterval));
        if (ReminderPeriod > TimeSpan.Zero)
        {
            yield return new("MeshHook__Runs__ReminderPeriod", Config(ReminderPeriod));
        }

        if (ProbeTimeout > TimeSpan.Zero)
        {
            yield return new("Orleans__Membership__ProbeTimeout", Config(ProbeTimeout));
        }

        if (MissedProbes > 0)
        {
            yield return new("Orleans__Membership__NumMissedProbesLimit", MissedProbes.ToString(CultureInfo.InvariantCulture));
        }

        if (Votes > 0)
        {
            yield return new("Orleans__Membership__NumVotesForDeathDeclaration", Votes.ToString(CultureInfo.InvariantCulture));
        }
    }

    private static string Config(TimeSpan value) => value.ToString("c", CultureInfo.InvariantCulture);

    private static int Int(string text) => int.Parse(text, CultureInfo.InvariantCulture);

    private static ScaleInOptions ParseDelay(ScaleInOptions o, string text)
    {
        var unit = text.EndsWith("ms", StringComparison.Ordinal) ? "ms" : text.EndsWith('s') ? "s" : "";
        var parts = text[..^unit.Length].Split('-');
        var min = Duration(parts[0] + unit);
        var max = parts.Length > 1 ? Duration(parts[1] + unit) : min;
        return o with { MinDelay = min, MaxDelay = max };
    }

    private static TimeSpan Duration(string text)
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
