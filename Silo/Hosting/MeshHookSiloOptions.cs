using System.ComponentModel.DataAnnotations;

namespace MeshHook.Silo.Hosting;

/// <summary>Cluster identity and endpoints, bound from the <c>Orleans</c> section.</summary>
public sealed record OrleansEndpointOptions
{
    public const string Section = "Orleans";

    [Required]
    public string ClusterId { get; init; } = "meshhook";

    [Required]
    public string ServiceId { get; init; } = "meshhook";

    [Range(1, 65535)]
    public int SiloPort { get; init; } = 11111;

    [Range(1, 65535)]
    public int GatewayPort { get; init; } = 30000;

    /// <summary>The address other silos and clients reach this silo on, as published in the membership table.</summary>
    [Required]
    public string AdvertisedIP { get; init; } = "127.0.0.1";
}
