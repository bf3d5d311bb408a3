using System.Collections.Concurrent;
using System.Net.Sockets;
using MeshHook.Grains.Definitions;
using MeshHook.Grains.Security;
using MeshHook.Grains.Steps.Egress;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Logging;
using Newtonsoft.Json.Linq;
using Polly;
using Polly.Timeout;

namespace MeshHook.Grains.Steps;

/// <summary>
/// Runs http_call nodes: one HTTP request through a Polly pipeline (retry around a per-attempt timeout), output <c>{status, headers, body}</c>.
/// </summary>
/// <remarks>
/// <para>
/// Retries (exponential backoff with jitter between <see cref="RetryPolicy.BaseDelay"/> and <see cref="RetryPolicy.MaxDelay"/>)
/// happen on network errors, per-attempt timeouts, 408, 429 and 5xx; never on other statuses. Every attempt is a fresh
/// request carrying the same <c>Idempotency-Key: mh-{runId}-{nodeId}</c>, which overrides a header of that name in the definition.
/// Before each retry the observer is told (<see cref="IStepObserver.BeforeRetryAsync"/>), after the backoff and outside the
/// attempt's timeout; whatever it throws ends the step with no further attempt.
/// </para>
/// <para>
/// <c>Retry-After</c> (seconds or HTTP date) on a retryable response is honoured as given, even beyond
/// <see cref="RetryPolicy.MaxDelay"/>: <c>MaxDelay</c> bounds our own backoff, and retrying before the peer asked would only
/// earn another 429. A <c>Retry-After</c> beyond <see cref="MaxRetryAfter"/> (5 minutes) is not waited for: the response
/// is final and the step fails, saying why. A step must not sit silently for hours inside a request.
/// </para>
/// <para>
/// Headers whose expression yields JSON null are not sent; string results are sent as they are, other results as compact JSON.
/// The body, when the node has one, is the compact JSON of its expression (<c>application/json</c>, unless the definition sets
/// <c>Content-Type</c>). Response bodies are buffered up to <see cref="MaxResponseBodyBytes"/>; a larger one fails the step.
/// Cancellation by the caller surfaces as <see cref="OperationCanceledException"/>, never as a failed step.
/// </para>
/// </remarks>
/// <param name="httpClientFactory">Gives the client <see cref="HttpClientName"/>.</param>
/// <param name="timeProvider">The clock of backoffs and timeouts.</param>
/// <param name="logger">Attempt lines, naming the run and node, never the URL's path or a header's value.</param>
/// <param name="expressionOptions">What each evaluation of a header or the body may spend.</param>
/// <param name="namedSecrets">Named secrets for headers; without it (a host with no store) a node that uses one fails.</param>
public sealed partial class HttpCallExecutor(
    IHttpClientFactory httpClientFactory,
    TimeProvider timeProvider,
    ILogger<HttpCallExecutor> logger,
    Microsoft.Extensions.Options.IOptions<ExpressionOptions> expressionOptions,
    INamedSecrets? namedSecrets = null) : IStepExecutor
{
    private readonly ExpressionLimits _expressionLimits = expressionOptions.Value.Limits;

    /// <summary>The name of the <see cref="HttpClient"/> this executor asks <see cref="IHttpClientFactory"/> for.</summary>
    public const string HttpClientName = "meshhook-http-call";

    /// <summary>The largest response body a step accepts (1 MiB).</summary>
    public const int MaxResponseBodyBytes = 1024 * 1024;

    // Pipelines are keyed by user-chosen values; past this many, extra ones are built per call instead of cached.
    private const int MaxCachedPipelines = 1024;
    private const int MaxReasonPhraseLength = 100;

    /// <summary>The longest <c>Retry-After</c> the executor waits for; a longer one makes the response final.</summary>
    public static readonly TimeSpan MaxRetryAfter = TimeSpan.FromMinutes(5);

    // Polly's own bounds: a timeout between 10 ms and a day, delays up to a day.
    private static readonly TimeSpan MinTimeout = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan MaxPollyTime = TimeSpan.FromDays(1);

    private readonly ConcurrentDictionary<(RetryPolicy Retry, TimeSpan Timeout), Pipelines> _pipelines = new();

    public string NodeType => HttpCallNode.TypeName;

    public async Task<StepOutcome> ExecuteAsync(StepInvocation invocation, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(invocation);
        cancellationToken.ThrowIfCancellationRequested();
        var node = invocation.NodeAs<HttpCallNode>();

        var secrets = await HttpRequests.ResolveSecretsAsync(node, namedSecrets, cancellationToken);
        if (!HttpRequests.TryPrepare(node, invocation, secrets, _expressionLimits, out var request, out var inputError))
        {
            return Fail(invocation, node, inputError);
        }

        var timeout = Clamp(node.Timeout, MinTimeout, MaxPollyTime);
        var call = new Call(invocation, node, request, httpClientFactory.CreateClient(HttpClientName), timeout, cancellationToken);
        var pipelines = PipelinesFor(node.Retry, timeout);
        try
        {
            using var response = await pipelines.Retry.ExecuteAsync(
                async token =>
                {
                    if (call.Attempts > 0)
                    {
                        // Outside the attempt's timeout: a slow checkpoint must not count as a timed-out attempt.
                        await call.Invocation.Observer.BeforeRetryAsync();
                    }

                    return await pipelines.Attempt.ExecuteAsync(attemptToken => AttemptAsync(call, attemptToken), token);
                },
                cancellationToken);
            return await ToOutcomeAsync(call, response);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (TimeoutRejectedException)
        {
            return Fail(invocation, node, $"request timed out ({timeout.TotalMilliseconds:0} ms per attempt) after {call.Attempts} attempt(s)");
        }
        catch (HttpRequestException e) when (Blocked(e) is { } blocked)
        {
            return Fail(invocation, node, blocked.Message);
        }
        catch (HttpRequestException e)
        {
            return Fail(invocation, node, $"{DescribeNetworkError(e)} after {call.Attempts} attempt(s)");
        }
        catch (ResponseBodyTooLargeException e)
        {
            return Fail(invocation, node, $"{e.Message} (attempt {call.Attempts})");
        }
        catch (OperationCanceledException)
        {
            // Not the caller's token: nothing here cancels on its own, so say so rather than pass it off as a run cancellation.
            return Fail(invocation, node, $"request was canceled unexpectedly after {call.Attempts} attempt(s)");
        }
    }

    private async ValueTask<HttpResponseMessage> AttemptAsync(Call call, CancellationToken attemptToken)
    {
        var attempt = ++call.Attempts;
        var started = timeProvider.GetTimestamp();
        HttpResponseMessage? response = null;
        try
        {
            using var request = call.Request.Create();
            response = await call.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, attemptToken);
            await HttpResponses.BufferContentAsync(response, MaxResponseBodyBytes, attemptToken);
        }
        catch (Exception e)
        {
            var status = (int?)response?.StatusCode;
            response?.Dispose();
            Report(call, new HttpAttempt(attempt, status, DescribeAttemptError(e, call), timeProvider.GetElapsedTime(started)));
            throw;
        }

        try
        {
            Report(call, new HttpAttempt(attempt, (int)response.StatusCode, null, timeProvider.GetElapsedTime(started)));
            return response;
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    private void Report(Call call, HttpAttempt attempt)
    {
        if (attempt.Error is null)
        {
            LogAttemptStatus(logger, call.Invocation.RunId, call.Node.Id, attempt.Attempt, attempt.StatusCode!.Value, attempt.Elapsed.TotalMilliseconds);
        }
        else
        {
            LogAttemptError(logger, call.Invocation.RunId, call.Node.Id, attempt.Attempt, attempt.Error, attempt.Elapsed.TotalMilliseconds);
        }

        call.Invocation.Observer.OnHttpAttempt(attempt);
    }

    private async Task<StepOutcome> ToOutcomeAsync(Call call, HttpResponseMessage response)
    {
        var status = (int)response.StatusCode;
        if (status is >= 200 and < 400)
        {
            var output = new JObject
            {
                ["status"] = status,
                ["headers"] = HttpResponses.Headers(response),
                ["body"] = await HttpResponses.BodyAsync(response.Content),
            };
            LogSucceeded(logger, call.Invocation.RunId, call.Node.Id, status, call.Attempts);
            return new StepOutcome.Succeeded(output);
        }

        var reason = (response.ReasonPhrase ?? string.Empty).Trim();
        if (reason.Length > MaxReasonPhraseLength)
        {
            reason = reason[..MaxReasonPhraseLength];
        }

        var error = $"HTTP {status} {reason}".TrimEnd() + $" after {call.Attempts} attempt(s)";
        if (IsRetryableStatus(status) && RetryAfter(response) is { } retryAfter && retryAfter > MaxRetryAfter)
        {
            error += $"; Retry-After of {retryAfter.TotalSeconds:0} s exceeds the {MaxRetryAfter.TotalSeconds:0} s limit";
        }

        return Fail(call.Invocation, call.Node, error);
    }

    private StepOutcome.Failed Fail(StepInvocation invocation, HttpCallNode node, string error)
    {
        LogFailed(logger, invocation.RunId, node.Id, error);
        return new StepOutcome.Failed(error);
    }

    private Pipelines PipelinesFor(RetryPolicy retry, TimeSpan timeout)
    {
        var key = (retry, timeout);
        if (_pipelines.TryGetValue(key, out var cached))
        {
            return cached;
        }

        var pipelines = new Pipelines(BuildRetry(retry), new ResiliencePipelineBuilder { TimeProvider = timeProvider }.AddTimeout(timeout).Build());
        return _pipelines.Count < MaxCachedPipelines ? _pipelines.GetOrAdd(key, pipelines) : pipelines;
    }

    private ResiliencePipeline<HttpResponseMessage> BuildRetry(RetryPolicy retry)
    {
        var builder = new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = timeProvider };
        if (retry.MaxAttempts > 1)
        {
            builder.AddRetry(new HttpRetryStrategyOptions
            {
                MaxRetryAttempts = retry.MaxAttempts - 1,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = Clamp(retry.BaseDelay, TimeSpan.Zero, MaxPollyTime),
                MaxDelay = Clamp(retry.MaxDelay, TimeSpan.Zero, MaxPollyTime),
                ShouldRetryAfterHeader = true,
                ShouldHandle = args => ValueTask.FromResult(ShouldRetry(args.Outcome, args.Context.CancellationToken)),
            });
        }

        return builder.Build();
    }

    private bool ShouldRetry(Outcome<HttpResponseMessage> outcome, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return false;
        }

        if (outcome.Exception is { } exception)
        {
            // A blocked address stays blocked: trying again would only repeat the refusal.
            return exception is HttpRequestException or TimeoutRejectedException && Blocked(exception) is null;
        }

        var response = outcome.Result!;
        return IsRetryableStatus((int)response.StatusCode)
            && !(RetryAfter(response) is { } retryAfter && retryAfter > MaxRetryAfter);
    }

    private static bool IsRetryableStatus(int status) => status >= 500 || status is 408 or 429;

    private TimeSpan? RetryAfter(HttpResponseMessage response) => response.Headers.RetryAfter switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date - timeProvider.GetUtcNow(),
        _ => null,
    };

    private static string DescribeAttemptError(Exception e, Call call) => e switch
    {
        OperationCanceledException when call.CancellationToken.IsCancellationRequested => "canceled",
        OperationCanceledException => $"timed out after {call.Timeout.TotalMilliseconds:0} ms",
        HttpRequestException http when Blocked(http) is { } blocked => $"blocked: {blocked.BlockedClass} address",
        HttpRequestException http => DescribeNetworkError(http),
        ResponseBodyTooLargeException => e.Message,
        _ => $"failed ({e.GetType().Name})",
    };

    /// <summary>
    /// A fixed vocabulary, not the exception's message: messages of the HTTP stack can quote what the peer sent
    /// (an invalid header line), and attempt errors go into the run's history.
    /// </summary>
    private static string DescribeNetworkError(HttpRequestException e)
    {
        var what = e.HttpRequestError switch
        {
            HttpRequestError.NameResolutionError => "name resolution failed",
            HttpRequestError.ConnectionError => "connection failed",
            HttpRequestError.SecureConnectionError => "TLS connection failed",
            HttpRequestError.HttpProtocolError => "HTTP protocol error",
            HttpRequestError.ExtendedConnectNotSupported or HttpRequestError.VersionNegotiationError => "HTTP version negotiation failed",
            HttpRequestError.UserAuthenticationError => "authentication with the server failed",
            HttpRequestError.ProxyTunnelError => "proxy tunnel failed",
            HttpRequestError.InvalidResponse => "invalid response",
            HttpRequestError.ResponseEnded => "connection closed before the response was complete",
            HttpRequestError.ConfigurationLimitExceeded => "response exceeded a limit of the HTTP client",
            _ => "request failed",
        };

        for (Exception? inner = e.InnerException; inner is not null; inner = inner.InnerException)
        {
            if (inner is SocketException socket)
            {
                return $"network error: {what} ({socket.SocketErrorCode})";
            }
        }

        return $"network error: {what}";
    }

    private static EgressBlockedException? Blocked(Exception e)
    {
        for (Exception? inner = e; inner is not null; inner = inner.InnerException)
        {
            if (inner is EgressBlockedException blocked)
            {
                return blocked;
            }
        }

        return null;
    }

    private static TimeSpan Clamp(TimeSpan value, TimeSpan min, TimeSpan max) =>
        value < min ? min : value > max ? max : value;

    [LoggerMessage(Level = LogLevel.Debug, Message = "http_call {NodeId} of run {RunId}: attempt {Attempt} got {StatusCode} in {ElapsedMs} ms")]
    private static partial void LogAttemptStatus(ILogger logger, Guid runId, string nodeId, int attempt, int statusCode, double elapsedMs);

    [LoggerMessage(Level = LogLevel.Debug, Message = "http_call {NodeId} of run {RunId}: attempt {Attempt} failed after {ElapsedMs} ms: {Error}")]
    private static partial void LogAttemptError(ILogger logger, Guid runId, string nodeId, int attempt, string error, double elapsedMs);

    [LoggerMessage(Level = LogLevel.Debug, Message = "http_call {NodeId} of run {RunId} succeeded with {StatusCode} after {Attempts} attempt(s)")]
    private static partial void LogSucceeded(ILogger logger, Guid runId, string nodeId, int statusCode, int attempts);

    [LoggerMessage(Level = LogLevel.Information, Message = "http_call {NodeId} of run {RunId} failed: {Error}")]
    private static partial void LogFailed(ILogger logger, Guid runId, string nodeId, string error);

    /// <summary>
    /// The retry around the attempts, and the timeout of one attempt. Two pipelines rather than one, so that
    /// <see cref="IStepObserver.BeforeRetryAsync"/> runs between them: after the backoff, outside the attempt's timeout.
    /// </summary>
    private sealed record Pipelines(ResiliencePipeline<HttpResponseMessage> Retry, ResiliencePipeline Attempt);

    /// <summary>One execution of the step: what every attempt shares, and how many attempts were made.</summary>
    private sealed class Call(
        StepInvocation invocation,
        HttpCallNode node,
        PreparedRequest request,
        HttpClient client,
        TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        public StepInvocation Invocation { get; } = invocation;

        public HttpCallNode Node { get; } = node;

        public PreparedRequest Request { get; } = request;

        public HttpClient Client { get; } = client;

        public TimeSpan Timeout { get; } = timeout;

        public CancellationToken CancellationToken { get; } = cancellationToken;

        public int Attempts { get; set; }
    }
}
