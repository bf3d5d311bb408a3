using System.Collections.Concurrent;
using AwesomeAssertions;
using MeshHook.Grains.Definitions;
using MeshHook.Grains.Steps;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Newtonsoft.Json.Linq;
using Xunit;

namespace MeshHook.Tests.Unit.Steps;

/// <summary>
/// An http_call's URL can carry a credential in its path or query (Slack- and Discord-style webhook URLs): no log line
/// of the engine, at any level, may contain it.
/// </summary>
public sealed class OutgoingCallLoggingTests
{
    [Fact]
    public async Task HttpCall_AtTraceLevel_LogsNoPathOrQueryOfItsUrl()
    {
        var lines = new ConcurrentQueue<string>();
        await using var services = new ServiceCollection()
            .AddLogging(logging => logging.SetMinimumLevel(LogLevel.Trace).AddProvider(new CapturingLogger(lines)))
            .AddMeshHookSteps()
            .AllowLoopback()
            .BuildServiceProvider();
        await using var server = await LocalHttpServer.StartAsync((context, n) =>
        {
            context.Response.StatusCode = n == 1 ? 503 : 200;
            return Task.CompletedTask;
        });
        var node = new HttpCallNode(
            "notify",
            HttpMethod.Post,
            server.Url("/services/T000/B000/XXXXsecretpath?token=querysecret"),
            [],
            null,
            TimeSpan.FromSeconds(5),
            new RetryPolicy(2, TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(20)));

        var outcome = await services.GetRequiredService<StepExecutors>().For(HttpCallNode.TypeName)
            .ExecuteAsync(new StepInvocation(Guid.NewGuid(), node, new JObject(), DateTimeOffset.UtcNow, new RecordingObserver()), TestContext.Current.CancellationToken);

        outcome.Should().BeOfType<StepOutcome.Succeeded>();
        lines.Should().NotBeEmpty("the executor logs its attempts at debug level");
        lines.Should().NotContain(l => l.Contains("secretpath") || l.Contains("querysecret"), "a URL's path and query are never logged");
    }
}
