using System.Text.Json.Nodes;
using MeshHook.Grains.Definitions;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace MeshHook.Gateway.Api;

/// <summary>
/// The workflow definition in the OpenAPI document. The API takes and returns it as raw JSON (the validator reads it,
/// and unknown properties such as an editor's positions are kept), so its shape is described here, by hand, from the
/// validator's rules: nodes as a union over <c>type</c> with each type's <c>data</c>, and edges with their label.
/// </summary>
public static class DefinitionSchema
{
    public const string Name = "WorkflowDefinition";

    public static Task DescribeAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        document.Components ??= new OpenApiComponents();
        var schemas = document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
        IOpenApiSchema Ref(string name) => new OpenApiSchemaReference(name, document);

        schemas["SecretHeader"] = Object(
            "A header value read from a named secret (PUT /api/secrets/{name}) when the request is made; never shown or stored in the run.",
            ("secret", String("The secret's name."), true),
            ("prefix", String("Text sent before the secret's value, for example \"Bearer \"."), false));
        schemas["RetryPolicy"] = Object(
            "Attempts in all (1 = no retry) and the exponential backoff's bounds.",
            ("maxAttempts", Integer(1, 10, "default 3"), false),
            ("baseDelayMs", Integer(0, 60_000, "default 200"), false),
            ("maxDelayMs", Integer(0, 300_000, "default 10000"), false));

        var mapping = new Dictionary<string, OpenApiSchemaReference>();
        var nodeTypes = new List<IOpenApiSchema>();
        void Node(string type, string description, OpenApiSchema? data)
        {
            var name = $"{Pascal(type)}Node";
            var node = Object(
                description,
                ("id", String("Unique within the definition."), true),
                ("type", new OpenApiSchema { Type = JsonSchemaType.String, Enum = [JsonValue.Create(type)] }, true));
            if (data is not null)
            {
                node.Properties!["data"] = data;
                node.Required!.Add("data");
            }

            schemas[name] = node;
            mapping[type] = new OpenApiSchemaReference(name, document);
            nodeTypes.Add(Ref(name));
        }

        Node(WebhookNode.TypeName, "The trigger: exactly one per workflow. Its output is the webhook's {headers, body}.", null);
        Node(TransformNode.TypeName, "Output = a JMESPath expression over the run context.",
            Object(null, ("expression", String($"JMESPath, at most {JmesExpression.MaxLength} characters."), true)));
        Node(HttpCallNode.TypeName, "One HTTP request with retries; output {status, headers, body}.", Object(
            null,
            ("method", new OpenApiSchema { Type = JsonSchemaType.String, Enum = [.. new[] { "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS" }.Select(m => (JsonNode)JsonValue.Create(m))] }, true),
            ("url", new OpenApiSchema { Type = JsonSchemaType.String, Format = "uri", Description = "Absolute http or https URL." }, true),
            ("headers", new OpenApiSchema
            {
                Type = JsonSchemaType.Object,
                Description = "Header name → a JMESPath expression whose result is the value, or a named secret.",
                AdditionalProperties = new OpenApiSchema { OneOf = [String("JMESPath over the run context."), Ref("SecretHeader")] },
            }, false),
            ("body", String("JMESPath; its result is sent as JSON."), false),
            ("timeoutMs", Integer(1, HttpCallNode.MaxTimeoutMs, $"per attempt, default {HttpCallNode.DefaultTimeoutMs}"), false),
            ("retry", Ref("RetryPolicy"), false)));
        Node(BranchNode.TypeName, "Follows the edge labelled \"true\" or \"false\" by the condition's JMESPath truthiness.",
            Object(null, ("condition", String("JMESPath."), true)));
        Node(DelayNode.TypeName, "A durable wait that survives restarts.",
            Object(null, ("ms", new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int64", Minimum = "0", Maximum = DelayNode.MaxMs.ToString(System.Globalization.CultureInfo.InvariantCulture) }, true)));
        Node(TerminateNode.TypeName, "Ends the run.", Object(
            null,
            ("status", new OpenApiSchema { Type = JsonSchemaType.String, Enum = [JsonValue.Create("succeeded"), JsonValue.Create("failed")], Description = "default succeeded" }, false)));

        schemas["WorkflowNode"] = new OpenApiSchema
        {
            OneOf = nodeTypes,
            Discriminator = new OpenApiDiscriminator { PropertyName = "type", Mapping = mapping },
        };
        schemas["WorkflowEdge"] = Object(
            "From one node to another; a branch's outgoing edges are labelled \"true\" and \"false\".",
            ("id", String(null), false),
            ("source", String("The node it leaves."), true),
            ("target", String("The node it enters."), true),
            ("label", String(null), false));
        schemas[Name] = Object(
            "A directed acyclic graph with one webhook trigger; every node reachable from it. Other properties (an editor's positions) are kept as they are.",
            ("nodes", new OpenApiSchema { Type = JsonSchemaType.Array, Items = Ref("WorkflowNode") }, true),
            ("edges", new OpenApiSchema { Type = JsonSchemaType.Array, Items = Ref("WorkflowEdge") }, true));

        if (schemas.TryGetValue("WorkflowResponse", out var response) && response is OpenApiSchema workflow && workflow.Properties is { } properties)
        {
            properties["definition"] = Ref(Name);
        }

        if (document.Paths.TryGetValue("/api/workflows/{slug}", out var path)
            && path.Operations?.TryGetValue(HttpMethod.Put, out var put) == true
            && put.RequestBody?.Content?.TryGetValue("application/json", out var body) == true
            && body.Schema is OpenApiSchema request && request.Properties is { } requestProperties)
        {
            requestProperties["definition"] = Ref(Name);
        }

        return Task.CompletedTask;
    }

    private static OpenApiSchema String(string? description) => new() { Type = JsonSchemaType.String, Description = description };

    private static OpenApiSchema Integer(long min, long max, string description) => new()
    {
        Type = JsonSchemaType.Integer,
        Format = "int32",
        Minimum = min.ToString(System.Globalization.CultureInfo.InvariantCulture),
        Maximum = max.ToString(System.Globalization.CultureInfo.InvariantCulture),
        Description = description,
    };

    private static OpenApiSchema Object(string? description, params (string Name, IOpenApiSchema Schema, bool Required)[] properties) => new()
    {
        Type = JsonSchemaType.Object,
        Description = description,
        Properties = properties.ToDictionary(p => p.Name, p => p.Schema),
        Required = properties.Where(p => p.Required).Select(p => p.Name).ToHashSet(),
    };

    private static string Pascal(string type) => string.Concat(type.Split('_').Select(part => char.ToUpperInvariant(part[0]) + part[1..]));
}
