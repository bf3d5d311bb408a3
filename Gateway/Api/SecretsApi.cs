using System.Text.Json;
using MeshHook.Gateway.Hosting;
using MeshHook.Gateway.Security;
using MeshHook.Grains.Security;
using Microsoft.Extensions.Options;

namespace MeshHook.Gateway.Api;

/// <summary>
/// Named secrets for http_call headers: <c>PUT /api/secrets/{name}</c> stores one (encrypted), <c>DELETE</c> removes it,
/// <c>GET /api/secrets</c> lists the names. No route returns a value, and no answer or log line quotes one.
/// </summary>
public static class SecretsApi
{
    public static IEndpointRouteBuilder MapSecretsApi(this IEndpointRouteBuilder routes)
    {
        routes.MapPut("/api/secrets/{name}", PutAsync)
            .WithName("PutSecret")
            .RequireApiKey()
            .WithTags("Secrets")
            .WithSummary("Stores or replaces a named secret, encrypted; http_call headers use it as {\"secret\": \"NAME\"}")
            .WithMetadata(new JsonRequestBody(typeof(PutSecretRequest)))
            .Produces(StatusCodes.Status204NoContent)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        routes.MapDelete("/api/secrets/{name}", DeleteAsync)
            .WithName("DeleteSecret")
            .RequireApiKey()
            .WithTags("Secrets")
            .WithSummary("Removes a named secret; runs that use it then fail that step")
            .Produces(StatusCodes.Status204NoContent)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        routes.MapGet("/api/secrets", ListAsync)
            .WithName("ListSecrets")
            .RequireApiKey()
            .WithTags("Secrets")
            .WithSummary("The names of the stored secrets, in order (never a value)")
            .Produces<IReadOnlyList<string>>()
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        return routes;
    }

    private static async Task<IResult> PutAsync(
        string name,
        HttpContext context,
        NamedSecretStore secrets,
        IOptions<GatewayOptions> options,
        ILoggerFactory loggers,
        CancellationToken cancellationToken)
    {
        if (!SecretNames.IsValid(name))
        {
            return InvalidName();
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

        // RequestBodies' problems name a position, never the text there; nothing below quotes the value either.
        const string shape = "the body must be a JSON object {\"value\": \"...\"}";
        using var document = RequestBodies.Parse(body!, out var parseProblem);
        if (document is null)
        {
            return ApiProblems.BadRequest(parseProblem!);
        }

        if (document.RootElement is not { ValueKind: JsonValueKind.Object } root)
        {
            return ApiProblems.BadRequest(shape);
        }

        foreach (var property in root.EnumerateObject())
        {
            if (property.Name != "value")
            {
                return ApiProblems.BadRequest($"{shape}: unknown field '{property.Name}'");
            }
        }

        if (!root.TryGetProperty("value", out var valueElement) || valueElement.ValueKind != JsonValueKind.String)
        {
            return ApiProblems.BadRequest($"{shape}: value is required and must be a string");
        }

        var value = valueElement.GetString()!;
        if (!SecretNames.IsValidValue(value))
        {
            return ApiProblems.BadRequest(
                $"value must be 1 to {SecretNames.MaxValueLength} printable ASCII characters (it is sent as a header value, " +
                "which cannot hold line breaks, control characters or non-ASCII text)");
        }

        var logger = loggers.CreateLogger(typeof(SecretsApi).FullName!);
        bool created;
        try
        {
            created = await secrets.PutAsync(name, value, cancellationToken);
        }
        catch (Exception e) when (HooksApi.IsStoreUnavailable(e, cancellationToken))
        {
            return ApiProblems.StoreUnavailable(context, options.Value.RetryAfterSeconds, logger, "store secret", e, "the secret cannot be stored now; retry later");
        }

        GatewayLog.SecretStored(logger, name, created);
        return TypedResults.NoContent();
    }

    private static async Task<IResult> DeleteAsync(
        string name,
        HttpContext context,
        NamedSecretStore secrets,
        IOptions<GatewayOptions> options,
        ILoggerFactory loggers,
        CancellationToken cancellationToken)
    {
        if (!SecretNames.IsValid(name))
        {
            return InvalidName();
        }

        var logger = loggers.CreateLogger(typeof(SecretsApi).FullName!);
        bool deleted;
        try
        {
            deleted = await secrets.DeleteAsync(name, cancellationToken);
        }
        catch (Exception e) when (HooksApi.IsStoreUnavailable(e, cancellationToken))
        {
            return ApiProblems.StoreUnavailable(context, options.Value.RetryAfterSeconds, logger, "delete secret", e, "the secret cannot be deleted now; retry later");
        }

        if (!deleted)
        {
            return ApiProblems.NotFound($"no secret '{name}'");
        }

        GatewayLog.SecretDeleted(logger, name);
        return TypedResults.NoContent();
    }

    private static async Task<IResult> ListAsync(
        HttpContext context,
        NamedSecretStore secrets,
        IOptions<GatewayOptions> options,
        ILoggerFactory loggers,
        CancellationToken cancellationToken)
    {
        try
        {
            return TypedResults.Ok(await secrets.ListAsync(cancellationToken));
        }
        catch (Exception e) when (HooksApi.IsStoreUnavailable(e, cancellationToken))
        {
            return ApiProblems.StoreUnavailable(context, options.Value.RetryAfterSeconds, loggers.CreateLogger(typeof(SecretsApi).FullName!), "list secrets", e, "the secrets cannot be listed now; retry later");
        }
    }

    private static IResult InvalidName() => ApiProblems.BadRequest($"a secret's name must be {SecretNames.Rule}");
}
