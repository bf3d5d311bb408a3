using System.Text.Json;
using MeshHook.Gateway.Hosting;
using MeshHook.Gateway.Security;
using System.Net;
using MeshHook.Grains.Definitions;
using MeshHook.Grains.Steps.Egress;
using MeshHook.Grains.Runs;
using MeshHook.Grains.Security;
using Microsoft.Extensions.Options;

namespace MeshHook.Gateway.Api;

/// <summary><c>PUT /api/workflows/{slug}</c> publishes a new immutable version; <c>GET</c> returns the latest.</summary>
public static class WorkflowsApi
{
    /// <summary>Longest workflow name.</summary>
    public const int MaxNameLength = 200;

    /// <summary>How old the timestamp of a timestamped signature may be, either way (<c>timestampedSignature</c>).</summary>
    public static readonly TimeSpan SignatureMaxAge = TimeSpan.FromMinutes(5);

    /// <summary>Longest webhook secret.</summary>
    public const int MaxSecretLength = 1024;

    public static IEndpointRouteBuilder MapWorkflowsApi(this IEndpointRouteBuilder routes)
    {
        routes.MapPut("/api/workflows/{slug}", PutAsync)
            .WithName("PublishWorkflow")
            .RequireApiKey()
            .WithTags("Workflows")
            .WithSummary("Validates and publishes a new immutable version of a workflow")
            .WithMetadata(new JsonRequestBody(typeof(PublishWorkflowRequest)))
            .Produces<WorkflowPublished>(StatusCodes.Status201Created)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        routes.MapGet("/api/workflows/{slug}", GetAsync)
            .WithName("GetWorkflow")
            .RequireApiKey()
            .WithTags("Workflows")
            .WithSummary("The latest published version of a workflow (without its secret)")
            .Produces<WorkflowResponse>()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        return routes;
    }

    /// <summary>
    /// http_call URLs whose host is a literal address that no run could reach (<see cref="EgressPolicy"/>, with this
    /// gateway's <c>MeshHook:Http:AllowedNetworks</c>). Names are only judged when a run resolves them.
    /// </summary>
    private static List<ApiError> BlockedUrls(Workflow workflow, EgressPolicy egress)
    {
        var errors = new List<ApiError>();
        foreach (var call in workflow.Nodes.OfType<HttpCallNode>())
        {
            if (IPAddress.TryParse(call.Url.Host.Trim('[', ']'), out var address) && egress.BlockedClass(address) is { } blockedClass)
            {
                errors.Add(new ApiError(
                    call.Id,
                    $"url's host {address} is a {blockedClass} address, which http_call may not reach unless MeshHook:Http:AllowedNetworks lists it"));
            }
        }

        return errors;
    }

    /// <summary>
    /// Secret headers that name no stored secret. One deleted after this check makes the step that uses it fail, with
    /// a message that names it.
    /// </summary>
    private static async Task<List<ApiError>> UnknownSecretsAsync(Workflow workflow, NamedSecretStore secrets, CancellationToken cancellationToken)
    {
        var calls = workflow.Nodes.OfType<HttpCallNode>().ToList();
        var missing = (await secrets.FindMissingAsync([.. calls.SelectMany(c => c.SecretNames).Distinct(StringComparer.Ordinal)], cancellationToken))
            .ToHashSet(StringComparer.Ordinal);
        return [.. calls.SelectMany(call => call.SecretNames.Where(missing.Contains).Select(name => new ApiError(
            call.Id, $"headers name secret '{name}', which does not exist: store it first with PUT /api/secrets/{name}")))];
    }

    private static async Task<IResult> PutAsync(
        string slug,
        HttpContext context,
        RunStore store,
        NamedSecretStore secrets,
        EgressPolicy egress,
        IOptions<GatewayOptions> options,
        ILoggerFactory loggers,
        CancellationToken cancellationToken)
    {
        var logger = loggers.CreateLogger(typeof(WorkflowsApi).FullName!);
        if (!Slugs.IsValid(slug))
        {
            return Slugs.Invalid();
        }

        if (!RequestBodies.IsJsonContentType(context.Request.ContentType))
        {
            return ApiProblems.NotJsonContentType(context.Request.ContentType);
        }

        var (body, readError) = await RequestBodies.ReadAsync(context.Request, options.Value.MaxBodyBytes, cancellationToken);
        if (readError is not null)
        {
            return readError;
        }

        using var document = RequestBodies.Parse(body!, out var parseProblem);
        if (document is null)
        {
            return ApiProblems.BadRequest(parseProblem!);
        }

        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            return ApiProblems.BadRequest("the body must be a JSON object {name, definition, secret?}");
        }

        var errors = new List<ApiError>();
        var name = ReadString(root, "name", required: true, MaxNameLength, errors);
        var secret = ReadString(root, "secret", required: false, MaxSecretLength, errors);
        var timestamped = false;
        if (root.TryGetProperty("timestampedSignature", out var flag) && flag.ValueKind != JsonValueKind.Null)
        {
            if (flag.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            {
                errors.Add(new ApiError(null, "timestampedSignature must be true or false"));
            }
            else if ((timestamped = flag.GetBoolean()) && secret is null)
            {
                errors.Add(new ApiError(null, "timestampedSignature needs a secret: the timestamp is part of what the secret signs"));
            }
        }
        var hasDefinition = root.TryGetProperty("definition", out var definition) && definition.ValueKind != JsonValueKind.Null;
        if (!hasDefinition)
        {
            errors.Add(new ApiError(null, "definition is required"));
        }

        if (errors.Count > 0)
        {
            // Report the definition's problems too, so one round trip shows everything.
            if (hasDefinition)
            {
                errors.AddRange(DefinitionValidator.Validate(definition).Problems.Select(p => new ApiError(p.NodeId, p.Message)));
            }

            return ApiProblems.BadRequest("the workflow was not published", errors);
        }

        var parsed = DefinitionValidator.Validate(definition).Workflow;
        if (parsed is not null && BlockedUrls(parsed, egress) is { Count: > 0 } blocked)
        {
            return ApiProblems.BadRequest("the definition is not valid", blocked);
        }

        int version;
        try
        {
            if (parsed is not null && await UnknownSecretsAsync(parsed, secrets, cancellationToken) is { Count: > 0 } unknown)
            {
                return ApiProblems.BadRequest("the definition is not valid", unknown);
            }

            version = await store.PublishAsync(
                slug, name!.Trim(), definition.GetRawText(), secret, timestamped ? SignatureMaxAge : null, cancellationToken);
        }
        catch (InvalidDefinitionException e)
        {
            return ApiProblems.BadRequest(
                "the definition is not valid",
                [.. e.Problems.Select(p => new ApiError(p.NodeId, p.Message))]);
        }
        catch (Exception e) when (HooksApi.IsStoreUnavailable(e, cancellationToken))
        {
            return ApiProblems.StoreUnavailable(context, options.Value.RetryAfterSeconds, logger, "publish", e, "the workflow cannot be stored now; retry later");
        }

        GatewayLog.WorkflowPublished(logger, slug, version);
        return TypedResults.Created($"/api/workflows/{slug}", new WorkflowPublished(slug, version));
    }

    private static async Task<IResult> GetAsync(
        string slug,
        HttpContext context,
        RunStore store,
        IOptions<GatewayOptions> options,
        ILoggerFactory loggers,
        CancellationToken cancellationToken)
    {
        if (!Slugs.IsValid(slug))
        {
            return Slugs.Invalid();
        }

        PublishedWorkflow? workflow;
        try
        {
            workflow = await store.FindLatestWorkflowAsync(slug, cancellationToken);
        }
        catch (Exception e) when (HooksApi.IsStoreUnavailable(e, cancellationToken))
        {
            return ApiProblems.StoreUnavailable(context, options.Value.RetryAfterSeconds, loggers.CreateLogger(typeof(WorkflowsApi).FullName!), "read workflow", e, "the workflow cannot be read now; retry later");
        }

        if (workflow is null)
        {
            return ApiProblems.NotFound($"no published workflow '{slug}'");
        }

        using var definition = JsonDocument.Parse(workflow.DefinitionJson);
        return TypedResults.Ok(new WorkflowResponse(
            workflow.Slug, workflow.Version, workflow.Name, definition.RootElement.Clone(), workflow.SignatureMaxAge is not null));
    }

    /// <summary>Reads an optional or required string property that must not be blank.</summary>
    private static string? ReadString(JsonElement root, string property, bool required, int maxLength, List<ApiError> errors)
    {
        if (!root.TryGetProperty(property, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            if (required)
            {
                errors.Add(new ApiError(null, $"{property} is required"));
            }

            return null;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            errors.Add(new ApiError(null, $"{property} must be a string"));
            return null;
        }

        var text = value.GetString()!;
        if (string.IsNullOrWhiteSpace(text) || text.Length > maxLength)
        {
            errors.Add(new ApiError(null, $"{property} must be 1 to {maxLength} characters, not blank"));
            return null;
        }

        return text;
    }
}
