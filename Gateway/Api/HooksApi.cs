using System.Buffers;
using System.Text.Json;
using MeshHook.Gateway.Cluster;
using MeshHook.Gateway.Hosting;
using MeshHook.Gateway.Ops;
using MeshHook.Gateway.Security;
using MeshHook.Grains;
using MeshHook.Grains.Runs;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;
using Npgsql;
using Microsoft.AspNetCore.Mvc;

namespace MeshHook.Gateway.Api;

/// <summary>
/// Webhook intake, <c>POST /api/hooks/{slug}</c>: checks, stores the run durably (202 only after the commit), then
/// asks a silo to start it within a short time. A run no silo starts now stays queued; the silos' sweep starts it.
/// </summary>
public static class HooksApi
{
    /// <summary>Longest client Idempotency-Key.</summary>
    public const int MaxIdempotencyKeyLength = 200;

    /// <summary>The client's key for a webhook; the same header name http_call sends to peers.</summary>
    public const string IdempotencyKeyHeader = MeshHook.Grains.Steps.IdempotencyKey.HeaderName;

    public static IEndpointRouteBuilder MapHooksApi(this IEndpointRouteBuilder routes)
    {
        routes.MapPost("/api/hooks/{slug}", PostAsync)
            .WithName("TriggerWorkflow")
            .WithTags("Hooks")
            .WithSummary("Stores a run of the workflow's latest version and starts it")
            .WithMetadata(new JsonRequestBody(typeof(JsonElement)))
            .Produces<RunAccepted>(StatusCodes.Status202Accepted)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .AddOpenApiOperationTransformer(DescribeHeadersAsync);
        return routes;
    }

    /// <summary>The headers intake reads, which the handler takes from the request rather than as parameters.</summary>
    private static Task DescribeHeadersAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        operation.Parameters ??= [];
        operation.Parameters.Add(Header(
            IdempotencyKeyHeader,
            $"The client's key for this webhook, 1 to {MaxIdempotencyKeyLength} printable ASCII characters without spaces: the same key (per workflow) gives the same run, answered again with 202 and Idempotent-Replayed: true, so a client may retry a webhook whose answer it lost.",
            MaxIdempotencyKeyLength));
        operation.Parameters.Add(Header(
            SignatureChecker.HubSignatureHeader,
            "sha256=<hex HMAC-SHA256> of the raw body (of \"<timestamp>.<body>\" when the workflow asks for timestamped signatures), keyed with the workflow's secret. Required, this or X-Signature, when the workflow has a secret."));
        operation.Parameters.Add(Header(
            SignatureChecker.SignatureHeader,
            "The same signature, the sha256= prefix optional. Every signature header sent must match."));
        operation.Parameters.Add(Header(
            SignatureChecker.TimestampHeader,
            "Unix time in seconds that a timestamped signature covers; required when the workflow asks for timestamped signatures, and refused when over 5 minutes off."));
        if (operation.Responses?.TryGetValue(StatusCodes.Status202Accepted.ToString(System.Globalization.CultureInfo.InvariantCulture), out var accepted) == true
            && accepted is OpenApiResponse response)
        {
            response.Headers ??= new Dictionary<string, IOpenApiHeader>();
            response.Headers["Location"] = new OpenApiHeader { Description = "The run: /api/runs/{runId}", Schema = new OpenApiSchema { Type = JsonSchemaType.String } };
            response.Headers["Idempotent-Replayed"] = new OpenApiHeader
            {
                Description = "true when the Idempotency-Key named a run stored before: no new run was made",
                Schema = new OpenApiSchema { Type = JsonSchemaType.String, Enum = [System.Text.Json.Nodes.JsonValue.Create("true")] },
            };
        }

        return Task.CompletedTask;
    }

    private static OpenApiParameter Header(string name, string description, int? maxLength = null) => new()
    {
        Name = name,
        In = ParameterLocation.Header,
        Required = false,
        Description = description,
        Schema = new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = maxLength },
    };

    private static async Task<IResult> PostAsync(
        string slug,
        HttpContext context,
        RunStore store,
        GrainCalls grains,
        IOptions<GatewayOptions> options,
        GatewayMetrics metrics,
        ILoggerFactory loggers,
        [FromServices] TimeProvider time,
        CancellationToken cancellationToken)
    {
        var logger = loggers.CreateLogger(typeof(HooksApi).FullName!);
        var settings = options.Value;
        var request = context.Request;
        if (!Slugs.IsValid(slug))
        {
            metrics.Intake("bad_request");
            return Slugs.Invalid();
        }

        if (!RequestBodies.IsJsonContentType(request.ContentType))
        {
            metrics.Intake("bad_request");
            return ApiProblems.NotJsonContentType(request.ContentType);
        }

        string? idempotencyKey = null;
        if (request.Headers.TryGetValue(IdempotencyKeyHeader, out var keys))
        {
            idempotencyKey = keys.Count == 1 ? keys[0] : null;
            if (!IsValidIdempotencyKey(idempotencyKey))
            {
                metrics.Intake("bad_request");
                return ApiProblems.BadRequest($"{IdempotencyKeyHeader} must be one value of 1 to {MaxIdempotencyKeyLength} printable ASCII characters without spaces");
            }
        }

        var (body, readError) = await RequestBodies.ReadAsync(request, settings.MaxBodyBytes, cancellationToken);
        if (readError is not null)
        {
            metrics.Intake("too_large");
            return readError;
        }

        PublishedWorkflow? workflow;
        try
        {
            workflow = await store.FindLatestWorkflowAsync(slug, cancellationToken);
        }
        catch (Exception e) when (IsStoreUnavailable(e, cancellationToken))
        {
            metrics.Intake("unavailable");
            return ApiProblems.StoreUnavailable(context, settings.RetryAfterSeconds, logger, "intake", e, "the run cannot be stored now; retry later");
        }

        if (workflow is null)
        {
            metrics.Intake("not_found");
            return ApiProblems.NotFound($"no published workflow '{slug}'");
        }

        if (workflow is { Secret: { } key, SignatureMaxAge: { } maxAge }
            && !SignatureChecker.IsValidTimestamped(key, body!, request.Headers, maxAge, time.GetUtcNow(), out var timestampProblem))
        {
            GatewayLog.SignatureRejected(logger, slug);
            metrics.Intake("unauthorized");
            return ApiProblems.Unauthorized(timestampProblem!);
        }

        if (workflow is { Secret: { } secret, SignatureMaxAge: null } && !SignatureChecker.IsValid(secret, body!, request.Headers))
        {
            GatewayLog.SignatureRejected(logger, slug);
            metrics.Intake("unauthorized");
            return ApiProblems.Unauthorized(
                $"missing or invalid signature: send {SignatureChecker.HubSignatureHeader} or {SignatureChecker.SignatureHeader}: sha256=<hex HMAC-SHA256 of the body>");
        }

        using var document = RequestBodies.Parse(body!, out var problem);
        if (document is null)
        {
            metrics.Intake("bad_request");
            return ApiProblems.BadRequest(problem!);
        }

        Guid runId;
        bool created;
        try
        {
            (runId, created) = await store.CreateRunAsync(slug, BuildTrigger(request.Headers, document.RootElement), idempotencyKey, cancellationToken);
        }
        catch (WorkflowNotFoundException)
        {
            metrics.Intake("not_found");
            return ApiProblems.NotFound($"no published workflow '{slug}'");
        }
        catch (PostgresException e) when (e.SqlState.StartsWith("22", StringComparison.Ordinal))
        {
            // A data exception: jsonb refused a value the JSON parser took (such as a number out of numeric's range).
            metrics.Intake("bad_request");
            return ApiProblems.BadRequest("the body holds a value Postgres cannot store as JSON");
        }
        catch (Exception e) when (IsStoreUnavailable(e, cancellationToken))
        {
            metrics.Intake("unavailable");
            return ApiProblems.StoreUnavailable(context, settings.RetryAfterSeconds, logger, "intake", e, "the run cannot be stored now; retry later");
        }

        GatewayLog.RunStored(logger, runId, slug, created);

        // The answer does not wait for a silo: the run is durable, and a silo that is leaving must not slow intake.
        // The start goes on in the background (bounded by StartTimeout); if it fails, the silos' sweep starts the run.
        _ = TryStartAsync(runId, grains, settings.StartTimeout, metrics, logger, CancellationToken.None);
        metrics.Intake(created ? "accepted" : "replayed");
        if (!created)
        {
            context.Response.Headers["Idempotent-Replayed"] = "true";
        }

        return TypedResults.Accepted($"/api/runs/{runId}", new RunAccepted(runId));
    }

    /// <summary>Asks a silo to start the run, for at most <paramref name="timeout"/>; never throws.</summary>
    private static async Task TryStartAsync(Guid runId, GrainCalls grains, TimeSpan timeout, GatewayMetrics metrics, ILogger logger, CancellationToken requestAborted)
    {
        if (timeout <= TimeSpan.Zero)
        {
            metrics.StartDeferred();
            return;
        }

        using var limit = CancellationTokenSource.CreateLinkedTokenSource(requestAborted);
        limit.CancelAfter(timeout);
        try
        {
            await grains.CallAsync(g => g.GetGrain<IWorkflowRunGrain>(runId).StartAsync(), limit.Token);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The run is stored: whatever kept it from starting now, the silos' recovery sweep starts it.
            metrics.StartDeferred();
            GatewayLog.StartDeferred(logger, runId, e is OperationCanceledException ? "start timed out" : e.GetType().Name);
        }
    }

    /// <summary>
    /// The stored trigger, <c>{"headers": {...}, "body": ...}</c>. Header names are lower case; credentials never
    /// reach Postgres: Authorization, Proxy-Authorization, Cookie, and every header whose name contains
    /// "signature", "secret", "token" or "api-key" are left out.
    /// </summary>
    internal static string BuildTrigger(IHeaderDictionary headers, JsonElement body)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteStartObject("headers");
            foreach (var (name, values) in headers.OrderBy(h => h.Key, StringComparer.OrdinalIgnoreCase))
            {
                var lower = name.ToLowerInvariant();
                if (!IsSensitiveHeader(lower))
                {
                    writer.WriteString(lower, values.ToString());
                }
            }

            writer.WriteEndObject();
            writer.WritePropertyName("body");
            body.WriteTo(writer);
            writer.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    internal static bool IsSensitiveHeader(string lowerCaseName) =>
        lowerCaseName is "authorization" or "proxy-authorization" or "cookie"
        || lowerCaseName.Contains("signature", StringComparison.Ordinal)
        || lowerCaseName.Contains("secret", StringComparison.Ordinal)
        || lowerCaseName.Contains("token", StringComparison.Ordinal)
        || lowerCaseName.Contains("api-key", StringComparison.Ordinal);

    internal static bool IsValidIdempotencyKey(string? key) =>
        key is { Length: > 0 and <= MaxIdempotencyKeyLength } && key.All(c => c is > ' ' and < '\u007f');

    /// <summary>Postgres cannot be reached or did not answer; the request was not aborted by the client.</summary>
    internal static bool IsStoreUnavailable(Exception e, CancellationToken requestAborted) =>
        e is NpgsqlException or TimeoutException || (e is OperationCanceledException && !requestAborted.IsCancellationRequested);
}
