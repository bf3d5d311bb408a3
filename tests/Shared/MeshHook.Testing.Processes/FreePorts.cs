using System.Net;
using System.Net.Sockets;

namespace MeshHook.Testing.Processes;

/// <summary>
/// Loopback TCP ports for the programs the tests and benchmarks start (HTTP, Orleans silo and gateway ports) and for
/// servers they run themselves, taken from a range that nothing else on the machine hands out.
/// </summary>
/// <remarks>
/// Why not bind port 0 and pass on what the kernel picked: that is an ephemeral port (Linux: 32768-60999, see
/// /proc/sys/net/ipv4/ip_local_port_range), and between the check and the child's own bind two other allocators pick
/// from the same numbers. The kernel gives ephemeral ports to every outgoing connection (Npgsql, HttpClient, Orleans).
/// Orleans' TestClusterPortAllocator gives the in-process test clusters of tests/Integration and tests/Gateway, which
/// the test runner runs in parallel with tests/Process, silo ports from 22300-29999 and gateway ports from 12000-21999
/// in Orleans 10.4.2 (40000-49999 in earlier versions, inside the ephemeral range); it checks the ports are free when
/// it picks them, not that a child process is about to bind one. 30000-32767 lies outside all of these.
/// Within the range: the walk starts at a random port, so test processes running at the same time (the runner starts
/// one per test project) seldom try the same ports; each candidate must bind on 127.0.0.1, so ports in use are
/// skipped; and no port is handed out twice in one process, since a child may not have bound its port yet when the
/// next one is asked for.
/// </remarks>
public static class FreePorts
{
    /// <summary>The first port of the range: above Orleans' test silo ports (22300-29999).</summary>
    public const int First = 30_000;

    /// <summary>The last port of the range: just below Linux's ephemeral ports (32768 and up).</summary>
    public const int Last = 32_767;

    private static readonly Lock Gate = new();
    private static readonly HashSet<int> HandedOut = [];
    private static int _next = Random.Shared.Next(First, Last + 1);

    /// <summary>A port of <see cref="First"/>-<see cref="Last"/> that is free on 127.0.0.1 now and was not handed out before in this process.</summary>
    public static int Take()
    {
        lock (Gate)
        {
            for (var tried = 0; tried <= Last - First; tried++)
            {
                var port = _next;
                _next = port == Last ? First : port + 1;
                if (!HandedOut.Contains(port) && IsFree(port))
                {
                    HandedOut.Add(port);
                    return port;
                }
            }

            throw new InvalidOperationException(
                $"no free port left in {First}-{Last} on 127.0.0.1 ({HandedOut.Count} already handed out by this process)");
        }
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
