using System.Diagnostics;
using AwesomeAssertions;
using MeshHook.Grains.Definitions;
using MeshHook.Grains.Steps;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Newtonsoft.Json.Linq;
using Xunit;

namespace MeshHook.Tests.Unit.Steps;

public sealed class HttpCallExecutorTests : IAsyncDisposable
{
    // Short delays keep retries fast; MaxDelay far below 1 s shows Retry-After is honoured beyond it.
    private static readonly RetryPolicy FastRetry = new(3, TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(50));
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private readonly ServiceProvider _services = new ServiceCollection().AddMeshHookSteps().AllowLoopback().BuildServiceProvider();
    private readonly RecordingObserver _observer = new();
    private readonly Guid _runId = Guid.NewGuid();
    private readonly JObject _context = JObject.Parse("""
        {
          "trigger": {
            "headers": {"x-source": "test"},
            "body": {"customer": "c-1", "count": 3, "tags": ["a", "b"], "note": null}
          },
          "steps": {}
        }
        """);

    private IStepExecutor Executor => _services.GetRequiredService<StepExecutors>().For(HttpCallNode.TypeName);

    public async ValueTask DisposeAsync() => await _services.DisposeAsync();

    [Fact]
    public async Task HttpCall_ServerFailsWith500Twice_RetriesAndSucceeds()
    {
        await using var server = await LocalHttpServer.StartAsync((context, n) =>
            n <= 2 ? Status(context, 500) : Json(context, 200, """{"ok":true}"""));

        var outcome = await RunAsync(Node(server.Url("/orders")));

        outcome.Should().BeOfType<StepOutcome.Succeeded>()
            .Which.Output["body"].ShouldBeJson("""{"ok":true}""");
        server.RequestCount.Should().Be(3);
        _observer.Attempts.Select(a => (a.Attempt, a.StatusCode, a.Error))
            .Should().Equal((1, 500, null), (2, 500, null), (3, 200, null));
    }

    [Fact]
    public async Task HttpCall_EachRetry_IsAnnouncedToTheObserverAfterThePreviousAttemptWasReported()
    {
        var reportedBeforeEachRetry = new List<int>();
        var observer = new AnnouncingObserver(seen => reportedBeforeEachRetry.Add(seen));
        await using var server = await LocalHttpServer.StartAsync((context, n) =>
            n <= 2 ? Status(context, 503) : Json(context, 200, """{"ok":true}"""));

        var outcome = await Executor.ExecuteAsync(new(_runId, Node(server.Url("/flaky")), _context, DateTimeOffset.UtcNow, observer), TestContext.Current.CancellationToken)
            .WaitAsync(Deadline, TestContext.Current.CancellationToken);

        outcome.Should().BeOfType<StepOutcome.Succeeded>();
        reportedBeforeEachRetry.Should().Equal([1, 2], "the run saves the attempts before each retry, so each must already be reported");
    }

    [Fact]
    public async Task HttpCall_ObserverThrowsBeforeARetry_EndsTheStepWithThatExceptionAndSendsNothingMore()
    {
        var observer = new AnnouncingObserver(_ => throw new InvalidOperationException("stale activation"));
        await using var server = await LocalHttpServer.StartAsync((context, _) => Status(context, 503));

        var call = Executor.ExecuteAsync(new(_runId, Node(server.Url("/down")), _context, DateTimeOffset.UtcNow, observer), TestContext.Current.CancellationToken);

        (await call.Awaiting(c => c.WaitAsync(Deadline, TestContext.Current.CancellationToken)).Should().ThrowAsync<InvalidOperationException>())
            .WithMessage("stale activation");
        server.RequestCount.Should().Be(1, "the refused activation must not call the peer again");
    }

    [Fact]
    public async Task HttpCall_SlowObserverBeforeARetry_DoesNotCountAgainstTheAttemptTimeout()
    {
        var observer = new AnnouncingObserver(_ => Thread.Sleep(400));
        await using var server = await LocalHttpServer.StartAsync((context, n) =>
            n == 1 ? Status(context, 503) : Json(context, 200, """{"ok":true}"""));

        var outcome = await Executor.ExecuteAsync(
                new(_runId, Node(server.Url("/flaky"), timeout: TimeSpan.FromMilliseconds(300)), _context, DateTimeOffset.UtcNow, observer),
                TestContext.Current.CancellationToken)
            .WaitAsync(Deadline, TestContext.Current.CancellationToken);

        outcome.Should().BeOfType<StepOutcome.Succeeded>("a checkpoint slower than the attempt timeout must not time the attempt out");
        server.RequestCount.Should().Be(2);
    }

    [Fact]
    public async Task HttpCall_ServerAlwaysFailsWith503_FailsWithLastStatusAfterAllAttempts()
    {
        await using var server = await LocalHttpServer.StartAsync((context, _) => Status(context, 503));

        var outcome = await RunAsync(Node(server.Url("/down"), retry: FastRetry with { MaxAttempts = 2 }));

        outcome.Should().Be(new StepOutcome.Failed("HTTP 503 Service Unavailable after 2 attempt(s)"));
        server.RequestCount.Should().Be(2);
    }

    [Fact]
    public async Task HttpCall_429WithRetryAfterOneSecond_WaitsThatLongBeforeRetrying()
    {
        await using var server = await LocalHttpServer.StartAsync((context, n) =>
        {
            if (n == 1)
            {
                context.Response.Headers.RetryAfter = "1";
                return Status(context, 429);
            }

            return Status(context, 204);
        });

        var outcome = await RunAsync(Node(server.Url("/limited")));

        outcome.Should().BeOfType<StepOutcome.Succeeded>().Which.Output["status"]!.Value<int>().Should().Be(204);
        var requests = server.Requests;
        requests.Should().HaveCount(2);
        Stopwatch.GetElapsedTime(requests[0].ReceivedAt, requests[1].ReceivedAt)
            .Should().BeGreaterThanOrEqualTo(TimeSpan.FromMilliseconds(900));
    }

    [Fact]
    public async Task HttpCall_RetryAfterBeyondFiveMinutes_FailsWithoutWaiting()
    {
        await using var server = await LocalHttpServer.StartAsync((context, _) =>
        {
            context.Response.Headers.RetryAfter = "3600";
            return Status(context, 429);
        });

        var outcome = await RunAsync(Node(server.Url("/limited")));

        outcome.Should().BeOfType<StepOutcome.Failed>().Which.Error
            .Should().Be("HTTP 429 Too Many Requests after 1 attempt(s); Retry-After of 3600 s exceeds the 300 s limit");
        server.RequestCount.Should().Be(1);
    }

    [Fact]
    public async Task HttpCall_408_IsRetried()
    {
        await using var server = await LocalHttpServer.StartAsync((context, n) =>
            n == 1 ? Status(context, 408) : Json(context, 200, "{}"));

        var outcome = await RunAsync(Node(server.Url("/slow")));

        outcome.Should().BeOfType<StepOutcome.Succeeded>();
        server.RequestCount.Should().Be(2);
    }

    [Fact]
    public async Task HttpCall_ConnectionAbortedOnce_IsRetriedAsNetworkError()
    {
        await using var server = await LocalHttpServer.StartAsync((context, n) =>
        {
            if (n == 1)
            {
                context.Abort();
                return Task.CompletedTask;
            }

            return Json(context, 200, "{}");
        });

        var outcome = await RunAsync(Node(server.Url("/flaky")));

        outcome.Should().BeOfType<StepOutcome.Succeeded>();
        server.RequestCount.Should().Be(2);
        var first = _observer.Attempts[0];
        first.StatusCode.Should().BeNull();
        first.Error.Should().StartWith("network error");
    }

    [Fact]
    public async Task HttpCall_ConnectionAbortedEveryTime_FailsWithNetworkErrorAfterAllAttempts()
    {
        await using var server = await LocalHttpServer.StartAsync((context, _) =>
        {
            context.Abort();
            return Task.CompletedTask;
        });

        var outcome = await RunAsync(Node(server.Url("/broken"), retry: FastRetry with { MaxAttempts = 2 }));

        outcome.Should().BeOfType<StepOutcome.Failed>().Which.Error
            .Should().StartWith("network error").And.EndWith("after 2 attempt(s)");
        server.RequestCount.Should().Be(2);
    }

    [Fact]
    public async Task HttpCall_ServerSlowerThanTimeout_RetriesThenFailsWithTimeout()
    {
        await using var server = await LocalHttpServer.StartAsync((context, _) => LocalHttpServer.HangAsync(context));

        var outcome = await RunAsync(Node(
            server.Url("/hang"), timeout: TimeSpan.FromMilliseconds(200), retry: FastRetry with { MaxAttempts = 2 }));

        outcome.Should().Be(new StepOutcome.Failed("request timed out (200 ms per attempt) after 2 attempt(s)"));
        server.RequestCount.Should().Be(2);
        _observer.Attempts.Should().HaveCount(2)
            .And.AllSatisfy(a => a.Error.Should().Be("timed out after 200 ms"));
    }

    [Fact]
    public async Task HttpCall_EveryAttempt_CarriesTheSameIdempotencyKey()
    {
        await using var server = await LocalHttpServer.StartAsync((context, n) =>
            n <= 2 ? Status(context, 502) : Status(context, 200));

        await RunAsync(Node(server.Url("/pay"), id: "charge"));

        server.Requests.Should().HaveCount(3)
            .And.AllSatisfy(r => r.Headers[IdempotencyKey.HeaderName].Should().Be($"mh-{_runId}-charge"));
    }

    [Fact]
    public async Task HttpCall_DefinitionSetsIdempotencyKey_OursIsSentInstead()
    {
        await using var server = await LocalHttpServer.StartAsync((context, _) => Status(context, 200));

        await RunAsync(Node(server.Url("/pay"), id: "charge", headers: [("Idempotency-Key", "'mine'")]));

        server.Requests.Single().Headers[IdempotencyKey.HeaderName].Should().Be($"mh-{_runId}-charge");
    }

    [Fact]
    public async Task HttpCall_404_FailsAfterExactlyOneRequest()
    {
        await using var server = await LocalHttpServer.StartAsync((context, _) => Status(context, 404));

        var outcome = await RunAsync(Node(server.Url("/missing")));

        outcome.Should().Be(new StepOutcome.Failed("HTTP 404 Not Found after 1 attempt(s)"));
        server.RequestCount.Should().Be(1);
    }

    [Fact]
    public async Task HttpCall_HeadersAndBody_AreEvaluatedOverTheContextAndSent()
    {
        await using var server = await LocalHttpServer.StartAsync((context, _) => Status(context, 200));

        await RunAsync(Node(
            server.Url("/orders"),
            headers:
            [
                ("X-Customer", "trigger.body.customer"),
                ("X-Count", "trigger.body.count"),
                ("X-Tags", "trigger.body.tags"),
                ("X-Missing", "trigger.body.note"),
            ],
            body: "{id: trigger.body.customer, n: trigger.body.count, source: trigger.headers.\"x-source\"}"));

        var request = server.Requests.Single();
        request.Method.Should().Be("POST");
        request.Path.Should().Be("/orders");
        request.Headers["X-Customer"].Should().Be("c-1");
        request.Headers["X-Count"].Should().Be("3");
        request.Headers["X-Tags"].Should().Be("""["a","b"]""");
        request.Headers.Should().NotContainKey("X-Missing");
        request.Headers["Content-Type"].Should().StartWith("application/json");
        request.Body.Should().Be("""{"id":"c-1","n":3,"source":"test"}""");
    }

    [Fact]
    public async Task HttpCall_NodeWithoutBody_SendsNoContent()
    {
        await using var server = await LocalHttpServer.StartAsync((context, _) => Status(context, 200));

        await RunAsync(Node(server.Url("/ping"), method: HttpMethod.Get));

        var request = server.Requests.Single();
        request.Method.Should().Be("GET");
        request.Body.Should().BeEmpty();
        request.Headers.Should().NotContainKey("Content-Type");
    }

    [Fact]
    public async Task HttpCall_JsonResponse_OutputHasStatusLowerCaseHeadersAndParsedBody()
    {
        await using var server = await LocalHttpServer.StartAsync((context, _) =>
        {
            context.Response.Headers["X-Reply"] = "a";
            return Json(context, 201, """{"ok":true,"at":"2024-01-01T00:00:00Z"}""");
        });

        var outcome = await RunAsync(Node(server.Url("/orders")));

        var output = outcome.Should().BeOfType<StepOutcome.Succeeded>().Which.Output.Should().BeOfType<JObject>().Subject;
        output.Properties().Select(p => p.Name).Should().Equal("status", "headers", "body");
        output["status"]!.Value<int>().Should().Be(201);
        output["headers"]!["x-reply"]!.Value<string>().Should().Be("a");
        output["headers"]!["content-type"]!.Value<string>().Should().StartWith("application/json");
        output["body"].ShouldBeJson("""{"ok":true,"at":"2024-01-01T00:00:00Z"}""");
        output["body"]!["at"]!.Type.Should().Be(JTokenType.String);
    }

    [Theory]
    [InlineData("text/plain", "hello", "hello")]
    [InlineData("application/json", "not json", "not json")]
    [InlineData("application/problem+json", "[1,2]", null)]
    public async Task HttpCall_NonJsonOrInvalidJsonResponse_BodyIsTheText(string contentType, string body, string? expectedText)
    {
        await using var server = await LocalHttpServer.StartAsync(async (context, _) =>
        {
            context.Response.ContentType = contentType;
            await context.Response.WriteAsync(body);
        });

        var outcome = await RunAsync(Node(server.Url("/text")));

        var output = outcome.Should().BeOfType<StepOutcome.Succeeded>().Which.Output;
        var expected = expectedText is null ? JsonAssertions.Parse(body) : new JValue(expectedText);
        output["body"].ShouldBeJson(expected);
    }

    [Fact]
    public async Task HttpCall_EmptyResponse_BodyIsNull()
    {
        await using var server = await LocalHttpServer.StartAsync((context, _) => Status(context, 204));

        var outcome = await RunAsync(Node(server.Url("/empty")));

        outcome.Should().BeOfType<StepOutcome.Succeeded>().Which.Output["body"]!.Type.Should().Be(JTokenType.Null);
    }

    [Fact]
    public async Task HttpCall_ResponseBodyOverOneMebibyte_FailsWithoutRetrying()
    {
        await using var server = await LocalHttpServer.StartAsync(async (context, _) =>
        {
            context.Response.ContentType = "text/plain";
            await context.Response.Body.WriteAsync(new byte[HttpCallExecutor.MaxResponseBodyBytes + 1]);
        });

        var outcome = await RunAsync(Node(server.Url("/huge")));

        outcome.Should().BeOfType<StepOutcome.Failed>().Which.Error.Should().Contain("exceeds the 1048576 byte limit");
        server.RequestCount.Should().Be(1);
    }

    [Fact]
    public async Task HttpCall_CallerCancels_ThrowsOperationCanceledPromptly()
    {
        var requestArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await LocalHttpServer.StartAsync((context, _) =>
        {
            requestArrived.TrySetResult();
            return LocalHttpServer.HangAsync(context);
        });
        using var cancellation = new CancellationTokenSource();

        var execution = Executor.ExecuteAsync(Invocation(Node(server.Url("/hang"), timeout: TimeSpan.FromSeconds(30))), cancellation.Token);
        await requestArrived.Task.WaitAsync(Deadline, TestContext.Current.CancellationToken);
        var canceledAt = Stopwatch.GetTimestamp();
        await cancellation.CancelAsync();

        await FluentActions.Awaiting(() => execution.WaitAsync(Deadline, TestContext.Current.CancellationToken))
            .Should().ThrowAsync<OperationCanceledException>();
        Stopwatch.GetElapsedTime(canceledAt).Should().BeLessThan(TimeSpan.FromSeconds(2));
        server.RequestCount.Should().Be(1);
    }

    [Fact]
    public async Task HttpCall_CallerCancelsWhileWaitingToRetry_ThrowsOperationCanceledPromptly()
    {
        await using var server = await LocalHttpServer.StartAsync((context, _) =>
        {
            context.Response.Headers.RetryAfter = "30";
            return Status(context, 503);
        });
        var firstAttempt = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var observer = new CallbackObserver(_ => firstAttempt.TrySetResult());
        using var cancellation = new CancellationTokenSource();

        var execution = Executor.ExecuteAsync(Invocation(Node(server.Url("/busy"))) with { Observer = observer }, cancellation.Token);
        await firstAttempt.Task.WaitAsync(Deadline, TestContext.Current.CancellationToken);
        var canceledAt = Stopwatch.GetTimestamp();
        await cancellation.CancelAsync();

        await FluentActions.Awaiting(() => execution.WaitAsync(Deadline, TestContext.Current.CancellationToken))
            .Should().ThrowAsync<OperationCanceledException>();
        Stopwatch.GetElapsedTime(canceledAt).Should().BeLessThan(TimeSpan.FromSeconds(2));
        server.RequestCount.Should().Be(1);
    }

    [Fact]
    public async Task HttpCall_NonHttpUrl_FailsWithoutSending()
    {
        var outcome = await RunAsync(Node(new Uri("ftp://127.0.0.1/file")));

        outcome.Should().Be(new StepOutcome.Failed("url must be an absolute http or https URL"));
        _observer.Attempts.Should().BeEmpty();
    }

    [Fact]
    public async Task HttpCall_HeaderValueWithLineBreak_FailsWithoutSending()
    {
        await using var server = await LocalHttpServer.StartAsync((context, _) => Status(context, 200));

        var outcome = await RunAsync(Node(server.Url("/x"), headers: [("X-Bad", "'a\nb'")]));

        outcome.Should().BeOfType<StepOutcome.Failed>().Which.Error.Should().StartWith("header 'X-Bad'");
        server.RequestCount.Should().Be(0);
    }

    private async Task<StepOutcome> RunAsync(HttpCallNode node) =>
        await Executor.ExecuteAsync(Invocation(node), TestContext.Current.CancellationToken).WaitAsync(Deadline, TestContext.Current.CancellationToken);

    private StepInvocation Invocation(HttpCallNode node) =>
        new(_runId, node, _context, DateTimeOffset.UtcNow, _observer);

    private static HttpCallNode Node(
        Uri url,
        string id = "call",
        HttpMethod? method = null,
        TimeSpan? timeout = null,
        RetryPolicy? retry = null,
        (string Name, string Expression)[]? headers = null,
        string? body = null) =>
        new(
            id,
            method ?? HttpMethod.Post,
            url,
            [.. (headers ?? []).Select(h => KeyValuePair.Create(h.Name, (HeaderValue)new ExpressionHeaderValue(JmesExpression.Compile(h.Expression))))],
            body is null ? null : JmesExpression.Compile(body),
            timeout ?? TimeSpan.FromSeconds(5),
            retry ?? FastRetry);

    private static Task Status(HttpContext context, int status)
    {
        context.Response.StatusCode = status;
        return Task.CompletedTask;
    }

    private static Task Json(HttpContext context, int status, string json)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(json);
    }

    /// <summary>Counts reported attempts and calls <c>beforeRetry</c> with that count when a retry is announced.</summary>
    private sealed class AnnouncingObserver(Action<int> beforeRetry) : IStepObserver
    {
        private int _reported;

        public void OnHttpAttempt(HttpAttempt attempt) => Interlocked.Increment(ref _reported);

        public Task BeforeRetryAsync()
        {
            beforeRetry(Volatile.Read(ref _reported));
            return Task.CompletedTask;
        }
    }
}
