using MeshHook.Grains.Steps.Egress;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace MeshHook.Tests.Unit.Steps;

/// <summary>The unit tests' HTTP servers listen on 127.0.0.1, which http_call may not reach by default.</summary>
internal static class LoopbackPeers
{
    public static IServiceCollection AllowLoopback(this IServiceCollection services) =>
        services.AddSingleton(Options.Create(new EgressOptions { AllowedNetworks = ["127.0.0.0/8"] }));
}
