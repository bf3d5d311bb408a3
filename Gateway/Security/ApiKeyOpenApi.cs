using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace MeshHook.Gateway.Security;

/// <summary>The API key in the OpenAPI document: a bearer scheme, required by every route that needs a key.</summary>
public static class ApiKeyOpenApi
{
    /// <summary>The security scheme's name in the document.</summary>
    public const string SchemeName = "apiKey";

    /// <summary>Marks a route as one that needs an API key (<see cref="ApiKeyAuthenticationHandler.Policy"/>), with its 401.</summary>
    public static RouteHandlerBuilder RequireApiKey(this RouteHandlerBuilder route) =>
        route.RequireAuthorization(ApiKeyAuthenticationHandler.Policy).ProducesProblem(StatusCodes.Status401Unauthorized);

    /// <summary>Declares the bearer scheme.</summary>
    public static Task DescribeSchemeAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes[SchemeName] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            Description = "One of the gateway's API keys (MeshHook:Gateway:ApiKeys), as Authorization: Bearer <key>",
        };
        return Task.CompletedTask;
    }

    /// <summary>Lists the scheme as required on the operations whose route needs a key.</summary>
    public static Task DescribeRequirementAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var needsKey = context.Description.ActionDescriptor.EndpointMetadata
            .OfType<IAuthorizeData>()
            .Any(a => a.Policy == ApiKeyAuthenticationHandler.Policy);
        if (needsKey)
        {
            operation.Security ??= [];
            operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(SchemeName, context.Document)] = [] });
        }

        return Task.CompletedTask;
    }
}
