using System.Runtime.InteropServices;

namespace MeshHook.Testing.Processes;

/// <summary>Real POSIX signals to a child process (<see cref="System.Diagnostics.Process.Kill()"/> only ever sends SIGKILL).</summary>
public static partial class Posix
{
    public const int SigKill = 9;
    public const int SigTerm = 15;

    /// <summary>Sends <paramref name="signal"/> to <paramref name="pid"/> with <c>kill(2)</c>; throws when the kernel refuses.</summary>
    public static void Send(int pid, int signal)
    {
        if (Kill(pid, signal) != 0)
        {
            throw new InvalidOperationException($"kill({pid}, {signal}) failed with errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>
    /// Starts a dedicated thread that records the wall-clock moment <paramref name="pid"/> ends (the kernel makes its
    /// pidfd readable as the process becomes a zombie, before anyone reaps it) and passes it to <paramref name="ended"/>.
    /// Returns false where pidfds are not available (not Linux, kernel before 5.3, the process already gone).
    /// </summary>
    /// <remarks>
    /// .NET's own exit notification goes through SIGCHLD handling and the thread pool: in a process that shares
    /// starved cores with the one it watches, it came hundreds of milliseconds after the exit.
    /// </remarks>
    public static bool WatchEnd(int pid, Action<DateTime> ended)
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        var fd = (int)PidfdOpen(SysPidfdOpen, pid, 0);
        if (fd < 0)
        {
            return false;
        }

        var thread = new Thread(() =>
        {
            try
            {
                // Real-time scheduling for this one thread, where allowed (root or CAP_SYS_NICE): it only sleeps in
                // poll(2) and reads the clock, and otherwise waits behind every runnable thread of a starved machine.
                var priority = new SchedParam { Priority = 10 };
                _ = SchedSetScheduler(0, SchedFifo, ref priority);
                var poll = new PollFd { Fd = fd, Events = PollIn };
                int ready;
                do
                {
                    ready = Poll(ref poll, 1, -1);
                }
                while (ready < 0 && Marshal.GetLastPInvokeError() == EIntr);

                ended(DateTime.UtcNow);
            }
            finally
            {
                Close(fd);
            }
        })
        {
            IsBackground = true,
            Name = $"end of pid {pid}",
        };
        thread.Start();
        return true;
    }

    /// <summary>pidfd_open(2)'s number: 434 on every architecture (syscalls added since 5.1 share one table).</summary>
    private const long SysPidfdOpen = 434;
    private const short PollIn = 0x1;
    private const int EIntr = 4;

    private const int SchedFifo = 1;

    [StructLayout(LayoutKind.Sequential)]
    private struct SchedParam
    {
        public int Priority;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long PidfdOpen(long number, int pid, uint flags);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int Poll(ref PollFd fds, ulong count, int timeout);

    [LibraryImport("libc", EntryPoint = "sched_setscheduler")]
    private static partial int SchedSetScheduler(int pid, int policy, ref SchedParam param);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
