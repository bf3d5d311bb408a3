using System.Diagnostics;
using System.Globalization;

namespace MeshHook.Bench.Throughput;

/// <summary>
/// CPU time read at the edges of a window: this process (silo, client and sink all live in it) and the whole machine
/// (/proc/stat) and, for a server the benchmark started itself, Postgres (the postmaster and its children, exited ones included).
/// </summary>
public sealed record CpuCounters(TimeSpan Process, TimeSpan Postgres, TimeSpan MachineBusy, TimeSpan MachineTotal)
{
    private static readonly double SecondsPerTick = 1.0 / 100; // USER_HZ, 100 on Linux

    /// <summary>Reads the counters; <paramref name="postmasterPid"/> is null when Postgres is not ours to see.</summary>
    public static CpuCounters Read(int? postmasterPid)
    {
        using var self = System.Diagnostics.Process.GetCurrentProcess();
        var (busy, total) = ReadMachine();
        return new CpuCounters(self.TotalProcessorTime, postmasterPid is { } pid ? ReadPostgres(pid) : TimeSpan.Zero, busy, total);
    }

    public static CpuCounters operator -(CpuCounters end, CpuCounters start) =>
        new(end.Process - start.Process, end.Postgres - start.Postgres, end.MachineBusy - start.MachineBusy, end.MachineTotal - start.MachineTotal);

    /// <summary>utime+stime of the postmaster and its live children, plus cutime+cstime (children that exited).</summary>
    private static TimeSpan ReadPostgres(int postmasterPid)
    {
        long ticks = 0;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                // After "pid (comm) ": state ppid ... utime(14) stime(15) cutime(16) cstime(17), numbered from 1 over the whole line.
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                var ppid = int.Parse(fields[1], CultureInfo.InvariantCulture);
                if (pid != postmasterPid && ppid != postmasterPid)
                {
                    continue;
                }

                ticks += long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
                if (pid == postmasterPid)
                {
                    ticks += long.Parse(fields[13], CultureInfo.InvariantCulture) + long.Parse(fields[14], CultureInfo.InvariantCulture);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
            {
                // The process went away while we looked.
            }
        }

        return TimeSpan.FromSeconds(ticks * SecondsPerTick);
    }

    /// <summary>Share of the machine's CPU that was busy (all cores together).</summary>
    public double MachineBusyShare => MachineTotal <= TimeSpan.Zero ? 0 : MachineBusy / MachineTotal;

    private static (TimeSpan Busy, TimeSpan Total) ReadMachine()
    {
        try
        {
            // cpu  user nice system idle iowait irq softirq steal ...
            var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
                .Take(8).Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
            var total = fields.Sum();
            var idle = fields[3] + fields[4];
            return (TimeSpan.FromSeconds((total - idle) * SecondsPerTick), TimeSpan.FromSeconds(total * SecondsPerTick));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            Debug.WriteLine($"no /proc/stat: {e.Message}");
            return (TimeSpan.Zero, TimeSpan.Zero);
        }
    }
}
