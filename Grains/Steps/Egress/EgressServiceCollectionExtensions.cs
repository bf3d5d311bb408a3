using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace MeshHook.Grains.Steps.Egress;

/// <summary>The egress rule's settings, bound and checked the same way on silos and gateways.</summary>
public static class EgressServiceCollectionExtensions
{
    /// <summary>Binds <see cref="EgressOptions"/> from <c>MeshHook:Http</c>, refuses a non-CIDR entry at start, and adds <see cref="EgressPolicy"/>.</summary>
    public static IServiceCollection AddEgressPolicy(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<EgressOptions>().Bind(configuration.GetSection(EgressOptions.Section))
            .Validate(
                o => o.AllowedNetworks.All(cidr => System.Net.IPNetwork.TryParse(cidr.Trim(), out _)),
                "MeshHook:Http:AllowedNetworks must list networks in CIDR form, such as 127.0.0.0/8 or fd00::/8")
            .ValidateOnStart();
        services.TryAddSingleton<EgressPolicy>();
        return services;
    }
}
