using System.Net;
using AwesomeAssertions;
using MeshHook.Grains.Definitions;
using MeshHook.Grains.Steps;
using MeshHook.Grains.Steps.Egress;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Newtonsoft.Json.Linq;
using Xunit;

namespace MeshHook.Tests.Unit.Steps;

/// <summary>
/// http_call may not reach the silo's own network by default: the address actually connected to is checked, after DNS
/// resolution and on every connection (redirects included), and a refusal fails the step at once, naming the class.
/// </summary>
public sealed class EgressPolicyTests
{
    private static readonly RetryPolicy ThreeAttempts = new(3, TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(20));

    [Theory]
    [InlineData("127.0.0.1", "loopback")]
    [InlineData("127.8.9.10", "loopback")]
    [InlineData("::1", "loopback")]
    [InlineData("::ffff:127.0.0.1", "loopback")]
    [InlineData("10.1.2.3", "private")]
    [InlineData("172.16.0.1", "private")]
    [InlineData("172.31.255.255", "private")]
    [InlineData("192.168.1.1", "private")]
    [InlineData("fd00::1", "private")]
    [InlineData("169.254.169.254", "link-local")]
    [InlineData("fe80::1", "link-local")]
    [InlineData("0.0.0.0", "unspecified")]
    [InlineData("::", "unspecified")]
    [InlineData("224.0.0.1", "multicast")]
    [InlineData("ff02::1", "multicast")]
    [InlineData("255.255.255.255", "broadcast")]
    [InlineData("8.8.8.8", null)]
    [InlineData("172.32.0.1", null)]
    [InlineData("2606:4700::1111", null)]
    public void BlockedClass_ByDefault_CoversTheSilosOwnNetworks(string address, string? blockedClass)
    {
        Policy().BlockedClass(IPAddress.Parse(address)).Should().Be(blockedClass);
    }

    [Fact]
    public void AllowedNetworks_ExemptOnlyWhatTheyList()
    {
        var policy = Policy("127.0.0.0/8", "fd12::/16");

        policy.BlockedClass(IPAddress.Parse("127.0.0.1")).Should().BeNull();
        policy.BlockedClass(IPAddress.Parse("fd12::5")).Should().BeNull();
        policy.BlockedClass(IPAddress.Parse("fd13::5")).Should().Be("private");
        policy.BlockedClass(IPAddress.Parse("10.0.0.1")).Should().Be("private");
        policy.BlockedClass(IPAddress.Parse("169.254.169.254")).Should().Be("link-local");
    }

    [Fact]
    public void AllowedNetworks_NotACidr_IsRefused()
    {
        var act = () => Policy("127.0.0.1/40");

        act.Should().Throw<FormatException>().WithMessage("*MeshHook:Http:AllowedNetworks:0*");
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("localhost")]
    public async Task HttpCall_ToALoopbackPeer_ByAddressOrName_FailsAtOnceAndSendsNothing(string host)
    {
        await using var peer = await LocalHttpServer.StartAsync((context, _) => Task.CompletedTask);
        var observer = new RecordingObserver();

        var outcome = await RunAsync(Services(), new UriBuilder(peer.BaseAddress) { Host = host }.Uri, observer);

        outcome.Should().BeOfType<StepOutcome.Failed>().Which.Error.Should().StartWith($"blocked: {host} is a loopback address");
        peer.RequestCount.Should().Be(0, "the connection was refused before a byte went out");
        observer.Attempts.Should().ContainSingle("a blocked address is not retried").Which.Error.Should().Be("blocked: loopback address");
    }

    [Fact]
    public async Task HttpCall_RedirectedByAnAllowedPeerToABlockedAddress_FailsAndTheBlockedPeerSeesNothing()
    {
        await using var inside = await LocalHttpServer.StartAsync((context, _) => Task.CompletedTask, address: "127.0.0.2");
        await using var allowed = await LocalHttpServer.StartAsync((context, _) =>
        {
            context.Response.StatusCode = StatusCodes.Status302Found;
            context.Response.Headers.Location = inside.Url("/metrics").ToString();
            return Task.CompletedTask;
        });

        var outcome = await RunAsync(Services("127.0.0.1/32"), allowed.Url("/hook"), new RecordingObserver());

        outcome.Should().BeOfType<StepOutcome.Failed>().Which.Error.Should().StartWith("blocked: 127.0.0.2 is a loopback address");
        allowed.RequestCount.Should().Be(1);
        inside.RequestCount.Should().Be(0, "the redirect's connection is checked like the first one");
    }

    [Fact]
    public async Task HttpCall_ToAnAllowedPeer_Succeeds()
    {
        await using var peer = await LocalHttpServer.StartAsync((context, _) => Task.CompletedTask);

        var outcome = await RunAsync(Services("127.0.0.0/8"), peer.Url("/ok"), new RecordingObserver());

        outcome.Should().BeOfType<StepOutcome.Succeeded>();
        peer.RequestCount.Should().Be(1);
    }

    private static EgressPolicy Policy(params string[] allowed) => new(Options.Create(new EgressOptions { AllowedNetworks = allowed }));

    private static ServiceProvider Services(params string[] allowed) =>
        new ServiceCollection().AddMeshHookSteps().AddSingleton(Options.Create(new EgressOptions { AllowedNetworks = allowed })).BuildServiceProvider();

    private static async Task<StepOutcome> RunAsync(ServiceProvider services, Uri url, RecordingObserver observer)
    {
        await using (services)
        {
            var node = new HttpCallNode("call", HttpMethod.Get, url, [], null, TimeSpan.FromSeconds(5), ThreeAttempts);
            return await services.GetRequiredService<StepExecutors>().For(HttpCallNode.TypeName)
                .ExecuteAsync(new StepInvocation(Guid.NewGuid(), node, new JObject(), DateTimeOffset.UtcNow, observer), TestContext.Current.CancellationToken)
                .WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        }
    }
}
