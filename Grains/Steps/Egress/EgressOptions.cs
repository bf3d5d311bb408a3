using System.Net;

namespace MeshHook.Grains.Steps.Egress;

/// <summary>Where http_call may connect, bound from <c>MeshHook:Http</c>.</summary>
public sealed record EgressOptions
{
    public const string Section = "MeshHook:Http";

    /// <summary>
    /// Networks (CIDR, e.g. <c>127.0.0.0/8</c>, <c>10.1.0.0/16</c>, <c>fd00::/8</c>) that http_call may reach although
    /// they fall in a blocked class (<see cref="EgressPolicy"/>): a peer on the silo's own host or in the cluster's
    /// network that workflows are meant to call. Empty by default: only public addresses.
    /// </summary>
    public string[] AllowedNetworks { get; init; } = [];

    /// <summary>The parsed <see cref="AllowedNetworks"/>; throws for an entry that is not a CIDR (checked at start).</summary>
    public IReadOnlyList<IPNetwork> ParsedAllowedNetworks() =>
        AllowedNetworks.Select((cidr, i) => IPNetwork.TryParse(cidr.Trim(), out var network)
            ? network
            : throw new FormatException($"MeshHook:Http:AllowedNetworks:{i} ('{cidr}') is not a network in CIDR form, such as 127.0.0.0/8")).ToArray();
}
