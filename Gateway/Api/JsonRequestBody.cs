using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace MeshHook.Gateway.Api;

/// <summary>
/// Endpoint metadata that documents a JSON request body in the OpenAPI document only. ASP.NET Core's own
/// <c>Accepts&lt;T&gt;()</c> would also make routing answer 415 to any other Content-Type before the handler runs,
/// while DESIGN.md's contract answers every body that is not JSON with 400 (see <see cref="ApiProblems.NotJsonContentType"/>).
/// </summary>
public sealed record JsonRequestBody(Type Type)
{
    /// <summary>Fills in the request body of operations whose endpoint carries <see cref="JsonRequestBody"/>.</summary>
    public static async Task DescribeAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        if (context.Description.ActionDescriptor.EndpointMetadata.OfType<JsonRequestBody>().FirstOrDefault() is not { } body)
        {
            return;
        }

        var schema = await context.GetOrCreateSchemaAsync(body.Type, null, cancellationToken);
        operation.RequestBody = new OpenApiRequestBody
        {
            Required = true,
            Content = new Dictionary<string, OpenApiMediaType> { ["application/json"] = new() { Schema = schema } },
        };
    }
}
