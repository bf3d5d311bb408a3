using AwesomeAssertions;
using MeshHook.Silo.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Hosting.Kubernetes;

namespace MeshHook.Tests.Unit.Deploy;

/// <summary>
/// MeshHook:Kubernetes:Enabled switches Orleans' Kubernetes hosting on in the silo's real wiring (AddMeshHookSilo), and
/// leaves it off by default. The silo is built, not started: no cluster and no Postgres are needed to see the wiring.
/// </summary>
public sealed class KubernetesHostingTests
{
    private const string ConnectionString = "Host=127.0.0.1;Port=1;Database=meshhook;Username=meshhook";

    private static WebApplicationBuilder SiloBuilder(Dictionary<string, string?> settings)
    {
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddMeshHookSilo(ConnectionString);
        return builder;
    }

    private static bool HasKubernetesAgent(WebApplicationBuilder builder) =>
        builder.Services.Any(d => d.ServiceType == typeof(KubernetesClusterAgent) || d.ImplementationType == typeof(KubernetesClusterAgent)
            || d.ServiceType == typeof(IConfigureOptions<KubernetesHostingOptions>));

    [Fact]
    public async Task Silo_ByDefault_HasNoKubernetesHosting_AndAdvertisesTheConfiguredAddress()
    {
        var builder = SiloBuilder(new() { ["POD_IP"] = "10.1.2.3" });

        HasKubernetesAgent(builder).Should().BeFalse();
        await using var app = builder.Build();
        app.Services.GetRequiredService<IOptions<EndpointOptions>>().Value.AdvertisedIPAddress!.ToString()
            .Should().Be(new OrleansEndpointOptions().AdvertisedIP, "POD_IP means nothing while the switch is off");
    }

    [Fact]
    public async Task Silo_WithTheSwitchOn_NamesItselfAfterThePod_AndAdvertisesThePodsAddress()
    {
        var podName = $"meshhook-silo-test-{Guid.NewGuid():N}"[..30];
        // Orleans reads the pod's name and namespace from the process environment, not from the configuration.
        var previousName = Environment.GetEnvironmentVariable(KubernetesHostingOptions.PodNameEnvironmentVariable);
        var previousNamespace = Environment.GetEnvironmentVariable(KubernetesHostingOptions.PodNamespaceEnvironmentVariable);
        Environment.SetEnvironmentVariable(KubernetesHostingOptions.PodNameEnvironmentVariable, podName);
        Environment.SetEnvironmentVariable(KubernetesHostingOptions.PodNamespaceEnvironmentVariable, "meshhook-test");
        try
        {
            var builder = SiloBuilder(new() { [KubernetesHosting.EnabledKey] = "true", ["POD_IP"] = "10.1.2.3" });

            HasKubernetesAgent(builder).Should().BeTrue();
            await using var app = builder.Build();
            app.Services.GetRequiredService<IOptions<SiloOptions>>().Value.SiloName.Should().Be(podName, "Orleans' Kubernetes hosting names the silo after POD_NAME");
            app.Services.GetRequiredService<IOptions<EndpointOptions>>().Value.AdvertisedIPAddress!.ToString().Should().Be("10.1.2.3");
        }
        finally
        {
            Environment.SetEnvironmentVariable(KubernetesHostingOptions.PodNameEnvironmentVariable, previousName);
            Environment.SetEnvironmentVariable(KubernetesHostingOptions.PodNamespaceEnvironmentVariable, previousNamespace);
        }
    }

    [Fact]
    public async Task Silo_WithTheSwitchOn_KeepsAnExplicitAdvertisedAddress()
    {
        var builder = SiloBuilder(new() { [KubernetesHosting.EnabledKey] = "true", ["POD_IP"] = "10.1.2.3", ["Orleans:AdvertisedIP"] = "10.9.9.9" });

        await using var app = builder.Build();
        app.Services.GetRequiredService<IOptions<EndpointOptions>>().Value.AdvertisedIPAddress!.ToString().Should().Be("10.9.9.9");
    }

    [Fact]
    public void Silo_WithTheSwitchOnButNoAddress_RefusesWithTheVariableToSet()
    {
        var act = () => SiloBuilder(new() { [KubernetesHosting.EnabledKey] = "true" });

        act.Should().Throw<InvalidOperationException>().WithMessage("*POD_IP*status.podIP*");
    }

    [Fact]
    public void Silo_WithTheSwitchOnAndAPodIpThatIsNoAddress_RefusesNamingPodIp()
    {
        var act = () => SiloBuilder(new() { [KubernetesHosting.EnabledKey] = "true", ["POD_IP"] = "pod-ip" });

        act.Should().Throw<InvalidOperationException>().WithMessage("POD_IP 'pod-ip' is not an IP address");
    }

    [Theory]
    [InlineData(null, false)]
    [InlineData("", false)]
    [InlineData("false", false)]
    [InlineData("True", true)]
    public void Switch_ReadsABoolean(string? value, bool enabled) =>
        KubernetesHosting.IsEnabled(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [KubernetesHosting.EnabledKey] = value }).Build())
            .Should().Be(enabled);

    [Fact]
    public void Switch_ThatIsNotABoolean_IsRefusedByName()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [KubernetesHosting.EnabledKey] = "yes" }).Build();

        var act = () => KubernetesHosting.IsEnabled(configuration);

        act.Should().Throw<InvalidOperationException>().WithMessage("MeshHook:Kubernetes:Enabled 'yes'*");
    }
}
