using System.Net.Sockets;
using Microsoft.Extensions.Options;

namespace MeshHook.Silo.Shutdown;

/// <summary>
/// At the start of a stop, declares dead the peers that membership still lists as active but that refuse connections on
/// their silo port: a process killed moments ago (SIGKILL, OOM kill, a crashed container) that failure detection has
/// not caught yet. Until Orleans declares such a peer dead, the stopping silo waits on it: the distributed directory's
/// shutdown holds until the peer that should take over a directory range takes it, and runs may be migrated to it.
/// That wait ran past the grace period in the chaos soak (docs/reliability.md, bug 14).
/// </summary>
/// <remarks>
/// Only a refused connection counts, never a timeout: a refusal means nothing listens on that address and port, so no
/// incarnation of a silo is there (a silo closes its port only after leaving the cluster). Orleans ignores
/// <see cref="IClusterMembershipService.TryKill"/> (and a stopping silo's suspicions) once the silo lifecycle has begun
/// to stop, so <see cref="SiloStopsBeforeWebServer"/> runs it after ApplicationStopping (intake is closed and the
/// drain runs) and before it stops the Orleans silo, bounded by <see cref="ShutdownOptions.PeerCheckTimeout"/>. A healthy peer sees one connection open and close cleanly (Orleans
/// logs "Closing connection" at Information).
/// </remarks>
public sealed partial class DeadPeerCheck(
    IClusterMembershipService membership,
    ILocalSiloDetails local,
    IOptions<ShutdownOptions> options,
    ILogger<DeadPeerCheck> logger)
{
    private static readonly TimeSpan RefusalRecheck = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Probes every active peer; declares dead each that refuses twice; waits (within the limit) until membership shows
    /// it. Never throws: the stop goes on whatever happens here.
    /// </summary>
    public async Task DeclareRefusingPeersDeadAsync(CancellationToken cancellationToken)
    {
        try
        {
            await DeclareAsync(cancellationToken);
        }
        catch (Exception e)
        {
            LogCheckFailed(logger, e);
        }
    }

    private async Task DeclareAsync(CancellationToken cancellationToken)
    {
        var limit = options.Value.PeerCheckTimeout;
        if (limit <= TimeSpan.Zero || cancellationToken.IsCancellationRequested)
        {
            return;
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(limit);
        var peers = membership.CurrentSnapshot.Members.Values
            .Where(m => m.Status == SiloStatus.Active && !m.SiloAddress.Equals(local.SiloAddress))
            .Select(m => m.SiloAddress)
            .ToList();
        var refusing = new List<SiloAddress>();
        foreach (var (peer, refused) in await Task.WhenAll(peers.Select(async p => (p, await RefusesTwiceAsync(p, timeout.Token)))))
        {
            if (refused)
            {
                refusing.Add(peer);
            }
        }

        foreach (var peer in refusing)
        {
            LogDeclaringDead(logger, peer);
            await membership.TryKill(peer);
        }

        if (refusing.Count > 0 && !await WaitDeadAsync(refusing, timeout.Token))
        {
            LogNotYetDead(logger, refusing.Count, limit.TotalMilliseconds);
        }
    }

    private static async Task<bool> RefusesTwiceAsync(SiloAddress peer, CancellationToken cancellationToken)
    {
        if (!await RefusesAsync(peer, cancellationToken))
        {
            return false;
        }

        try
        {
            await Task.Delay(RefusalRecheck, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }

        return await RefusesAsync(peer, cancellationToken);
    }

    private static async Task<bool> RefusesAsync(SiloAddress peer, CancellationToken cancellationToken)
    {
        using var socket = new Socket(peer.Endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(peer.Endpoint, cancellationToken);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            return true;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            // Unreachable or slow is not proof of death: that is failure detection's call.
            return false;
        }

        await CloseCleanlyAsync(socket, cancellationToken);
        return false;
    }

    /// <summary>
    /// Ends the probe connection with FIN, not RST: the peer wrote its connection preamble, and closing a socket with
    /// unread data resets it, which the peer would log as a warning with a stack trace.
    /// </summary>
    private static async Task CloseCleanlyAsync(Socket socket, CancellationToken cancellationToken)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Send);
            using var drain = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            drain.CancelAfter(TimeSpan.FromMilliseconds(500));
            var buffer = new byte[1024];
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, drain.Token) > 0)
            {
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The probe's answer is known; how the connection ends is the peer's business.
        }
    }

    private async Task<bool> WaitDeadAsync(List<SiloAddress> peers, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                var snapshot = membership.CurrentSnapshot;
                if (peers.All(p => snapshot.GetSiloStatus(p) == SiloStatus.Dead))
                {
                    return true;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(20), cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shutdown: peer {Peer} is listed as active but refuses connections on its silo port; declaring it dead so this stop does not wait for failure detection")]
    private static partial void LogDeclaringDead(ILogger logger, SiloAddress peer);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shutdown: the check for dead peers failed; going on with the stop")]
    private static partial void LogCheckFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shutdown: {Count} refusing peer(s) not shown dead within {LimitMs} ms; going on (failure detection will remove them)")]
    private static partial void LogNotYetDead(ILogger logger, int count, double limitMs);
}
