using System.Diagnostics;
using System.Globalization;

namespace MeshHook.Bench.Throughput;

/// <summary>
/// CPU time read at the edges of a window: this process (silo, client and sink all live in it) and the whole machine
/// (/proc/stat; Postgres is most of the rest, plus whatever else shares the machine).
/// </summary>
public sealed record CpuCounters(TimeSpan Process, TimeSpan MachineBusy, TimeSpan MachineTotal)
{
    private static readonly double SecondsPerTick = 1.0 / 100; // USER_HZ, 100 on Linux

    public static CpuCounters Read()
    {
        using var self = System.Diagnostics.Process.GetCurrentProcess();
        var (busy, total) = ReadMachine();
        return new CpuCounters(self.TotalProcessorTime, busy, total);
    }

    public static CpuCounters operator -(CpuCounters end, CpuCounters start) =>
        new(end.Process - start.Process, end.MachineBusy - start.MachineBusy, end.MachineTotal - start.MachineTotal);

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
