using System.Collections.Concurrent;
using AwesomeAssertions;
using MeshHook.Grains.Definitions;
using MeshHook.Grains.Security;
using MeshHook.Grains.Steps;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Newtonsoft.Json.Linq;
using Xunit;

namespace MeshHook.Tests.Unit.Steps;

/// <summary>
/// Header values that are named secrets: read when the request is prepared, sent to the peer, and found nowhere else:
/// not in the step's output, its attempts, its error or any log line of the engine at any level.
/// </summary>
public sealed class HttpCallSecretsTests : IAsyncDisposable
{
    private const string Value = "sk_live_9f8e7d6c5b4a";
    private static readonly RetryPolicy TwoAttempts = new(2, TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(20));

    private readonly InMemorySecrets _secrets = new() { ["crm-token"] = Value };
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly RecordingObserver _observer = new();
    private readonly ServiceProvider _services;

    public HttpCallSecretsTests()
    {
        _services = new ServiceCollection()
            .AddLogging(logging => logging.SetMinimumLevel(LogLevel.Trace).AddProvider(new CapturingLogger(_lines)))
            .AddSingleton<INamedSecrets>(_secrets)
            .AddMeshHookSteps()
            .AllowLoopback()
            .BuildServiceProvider();
    }

    public async ValueTask DisposeAsync() => await _services.DisposeAsync();

    [Fact]
    public async Task SecretHeader_ReachesThePeerWithItsPrefix_AndNothingElseHoldsIt()
    {
        await using var server = await LocalHttpServer.StartAsync((context, n) =>
        {
            context.Response.StatusCode = n == 1 ? 503 : 200;
            return Task.CompletedTask;
        });

        var outcome = await RunAsync(Node(server.Url("/hook"), ("Authorization", new SecretHeaderValue("crm-token", "Bearer ")), ("X-Raw", new SecretHeaderValue("crm-token", ""))));

        outcome.Should().BeOfType<StepOutcome.Succeeded>();
        server.Requests.Should().HaveCount(2).And.AllSatisfy(r =>
        {
            r.Headers["Authorization"].Should().Be($"Bearer {Value}");
            r.Headers["X-Raw"].Should().Be(Value);
        });
        _secrets.Reads.Should().Be(1, "the secrets are read once per step, at the moment of its request, not per attempt");
        ((StepOutcome.Succeeded)outcome).Output.ToString().Should().NotContain(Value);
        string.Join("\n", _observer.Attempts.Select(a => a.ToString())).Should().NotContain(Value);
        _lines.Should().NotBeEmpty().And.NotContain(line => line.Contains(Value, StringComparison.Ordinal));
    }

    [Fact]
    public async Task SecretHeader_NamingASecretThatNoLongerExists_FailsTheStepNamingIt_WithoutARequest()
    {
        await using var server = await LocalHttpServer.StartAsync((context, _) => Task.CompletedTask);

        var outcome = await RunAsync(Node(server.Url("/hook"), ("Authorization", new SecretHeaderValue("deleted-one", "Bearer "))));

        outcome.Should().BeOfType<StepOutcome.Failed>().Which.Error
            .Should().Be("header 'Authorization': secret 'deleted-one' does not exist (store it with PUT /api/secrets/deleted-one)");
        server.RequestCount.Should().Be(0);
    }

    [Fact]
    public async Task SecretHeader_WhenTheStoreCannotAnswer_ThrowsAStoreFailure_NotAFailedStep()
    {
        _secrets.Failure = new TimeoutException("store down");
        await using var server = await LocalHttpServer.StartAsync((context, _) => Task.CompletedTask);

        var run = () => RunAsync(Node(server.Url("/hook"), ("Authorization", new SecretHeaderValue("crm-token", ""))));

        (await run.Should().ThrowAsync<StepStoreException>()).WithInnerException<TimeoutException>();
        server.RequestCount.Should().Be(0);
    }

    [Fact]
    public async Task SecretHeader_WithoutASecretStore_FailsTheStep()
    {
        await using var services = new ServiceCollection().AddMeshHookSteps().AllowLoopback().BuildServiceProvider();
        await using var server = await LocalHttpServer.StartAsync((context, _) => Task.CompletedTask);
        var node = Node(server.Url("/hook"), ("Authorization", new SecretHeaderValue("crm-token", "")));

        var outcome = await services.GetRequiredService<StepExecutors>().For(HttpCallNode.TypeName)
            .ExecuteAsync(new StepInvocation(Guid.NewGuid(), node, new JObject(), DateTimeOffset.UtcNow, _observer), TestContext.Current.CancellationToken);

        outcome.Should().BeOfType<StepOutcome.Failed>().Which.Error.Should().Contain("secret 'crm-token' does not exist");
        server.RequestCount.Should().Be(0);
    }

    private async Task<StepOutcome> RunAsync(HttpCallNode node) =>
        await _services.GetRequiredService<StepExecutors>().For(HttpCallNode.TypeName)
            .ExecuteAsync(new StepInvocation(Guid.NewGuid(), node, new JObject(), DateTimeOffset.UtcNow, _observer), TestContext.Current.CancellationToken)
            .WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);

    private static HttpCallNode Node(Uri url, params (string Name, HeaderValue Value)[] headers) =>
        new("call", HttpMethod.Post, url, [.. headers.Select(h => KeyValuePair.Create(h.Name, h.Value))], null, TimeSpan.FromSeconds(5), TwoAttempts);

    private sealed class InMemorySecrets : Dictionary<string, string>, INamedSecrets
    {
        private int _reads;

        public int Reads => _reads;

        public Exception? Failure { get; set; }

        public Task<IReadOnlyDictionary<string, string>> ResolveAsync(IReadOnlyCollection<string> names, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _reads);
            if (Failure is not null)
            {
                throw Failure;
            }

            IReadOnlyDictionary<string, string> found = names.Where(ContainsKey).ToDictionary(n => n, n => this[n]);
            return Task.FromResult(found);
        }
    }
}
