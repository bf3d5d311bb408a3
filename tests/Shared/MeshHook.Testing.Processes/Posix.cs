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

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
