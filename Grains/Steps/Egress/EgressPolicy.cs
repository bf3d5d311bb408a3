using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;

namespace MeshHook.Grains.Steps.Egress;

/// <summary>
/// Keeps http_call away from the silo's own network: by default it may not connect to loopback, private (RFC 1918,
/// unique-local IPv6), link-local (169.254.0.0/16 and fe80::/10, which hold cloud metadata services), unspecified,
/// multicast or broadcast addresses, unless <see cref="EgressOptions.AllowedNetworks"/> lists them. The check is made
/// in the HTTP client's connect callback (<see cref="ConnectAsync"/>) on the address actually connected to, after DNS
/// resolution, on every new connection, so neither a redirect nor a name that resolves differently the second time
/// (DNS rebinding) gets around it.
/// </summary>
public sealed class EgressPolicy
{
    private static readonly (IPNetwork Network, string Class)[] Blocked =
    [
        (IPNetwork.Parse("0.0.0.0/8"), "unspecified"),
        (IPNetwork.Parse("::/128"), "unspecified"),
        (IPNetwork.Parse("127.0.0.0/8"), "loopback"),
        (IPNetwork.Parse("::1/128"), "loopback"),
        (IPNetwork.Parse("10.0.0.0/8"), "private"),
        (IPNetwork.Parse("172.16.0.0/12"), "private"),
        (IPNetwork.Parse("192.168.0.0/16"), "private"),
        (IPNetwork.Parse("fc00::/7"), "private"),
        (IPNetwork.Parse("169.254.0.0/16"), "link-local"),
        (IPNetwork.Parse("fe80::/10"), "link-local"),
        (IPNetwork.Parse("224.0.0.0/4"), "multicast"),
        (IPNetwork.Parse("ff00::/8"), "multicast"),
        (IPNetwork.Parse("255.255.255.255/32"), "broadcast"),
    ];

    private readonly IReadOnlyList<IPNetwork> _allowed;

    public EgressPolicy(IOptions<EgressOptions> options) => _allowed = options.Value.ParsedAllowedNetworks();

    /// <summary>The networks exempted from the rule, as configured.</summary>
    public IReadOnlyList<IPNetwork> Allowed => _allowed;

    /// <summary>The blocked class <paramref name="address"/> falls in ("loopback", "private", …), or null when http_call may reach it.</summary>
    public string? BlockedClass(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily == AddressFamily.InterNetworkV6 && address.ScopeId != 0)
        {
            address = new IPAddress(address.GetAddressBytes());
        }

        foreach (var allowed in _allowed)
        {
            if (allowed.Contains(address))
            {
                return null;
            }
        }

        foreach (var (network, blockedClass) in Blocked)
        {
            if (network.Contains(address))
            {
                return blockedClass;
            }
        }

        return null;
    }

    /// <summary>
    /// The connect callback of http_call's handler: resolves the host, refuses every address in a blocked class, and
    /// connects to the first one allowed.
    /// </summary>
    /// <exception cref="EgressBlockedException">Every address of the host is in a blocked class.</exception>
    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var host = context.DnsEndPoint.Host;
        var addresses = IPAddress.TryParse(host.Trim('[', ']'), out var literal)
            ? [literal]
            : await Dns.GetHostAddressesAsync(host, cancellationToken);
        EgressBlockedException? blocked = null;
        SocketException? lastFailure = null;
        foreach (var address in addresses)
        {
            if (BlockedClass(address) is { } blockedClass)
            {
                blocked ??= new EgressBlockedException(host, address, blockedClass);
                continue;
            }

            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, context.DnsEndPoint.Port), cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException e)
            {
                socket.Dispose();
                lastFailure = e;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        if (lastFailure is not null)
        {
            throw lastFailure;
        }

        if (blocked is not null)
        {
            throw blocked;
        }

        throw new SocketException((int)SocketError.HostNotFound);
    }
}

/// <summary>An http_call was refused a connection because the host's address is in a blocked class (<see cref="EgressPolicy"/>).</summary>
public sealed class EgressBlockedException(string host, IPAddress address, string blockedClass)
    : Exception($"blocked: {host} is a {blockedClass} address ({address}); http_call may not reach loopback, private, link-local, unspecified, multicast or broadcast addresses unless MeshHook:Http:AllowedNetworks lists them")
{
    /// <summary>The address class ("loopback", "private", …).</summary>
    public string BlockedClass { get; } = blockedClass;
}
