using System.Diagnostics;
using Orleans.TestingHost;

namespace MeshHook.Bench.Chaos.InProcess;

/// <summary>
/// Silo and gateway ports for a test cluster that starts thousands of silos one after another. Orleans' own allocator
/// (<see cref="TestClusterPortAllocator"/>) holds a named mutex per port it hands out until the cluster is disposed, so
/// it would hold thousands; this one takes a pair from it only when no pair given back earlier has rested long enough,
/// and hands pairs of stopped silos out again. The rest lets connections to the old silo die out before a new one
/// listens on its address (a silo restarting on its old port is ordinary for Orleans: the new one has a new generation).
/// </summary>
public sealed class RecyclingPortAllocator : ITestClusterPortAllocator
{
    private static readonly TimeSpan Rest = TimeSpan.FromSeconds(10);

    private readonly TestClusterPortAllocator _inner = new();
    private readonly Queue<(int SiloPort, int GatewayPort, long ReleasedAt)> _released = new();
    private readonly Lock _gate = new();
    private int _fresh;

    /// <summary>Pairs taken from Orleans' allocator so far.</summary>
    public int FreshPairs => Volatile.Read(ref _fresh);

    public (int, int) AllocateConsecutivePortPairs(int numPorts = 5)
    {
        if (numPorts == 1)
        {
            lock (_gate)
            {
                if (_released.TryPeek(out var oldest) && Stopwatch.GetElapsedTime(oldest.ReleasedAt) >= Rest)
                {
                    _released.Dequeue();
                    return (oldest.SiloPort, oldest.GatewayPort);
                }
            }
        }

        Interlocked.Add(ref _fresh, 1);
        return _inner.AllocateConsecutivePortPairs(numPorts);
    }

    /// <summary>The ports of a silo that has stopped and been disposed.</summary>
    public void Release(int siloPort, int gatewayPort)
    {
        lock (_gate)
        {
            _released.Enqueue((siloPort, gatewayPort, Stopwatch.GetTimestamp()));
        }
    }

    public void Dispose() => _inner.Dispose();
}
