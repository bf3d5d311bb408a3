using System.Text.Json.Nodes;
using MeshHook.Grains;
using MeshHook.Grains.Runs;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace MeshHook.Gateway.Api;

/// <summary>
/// What the generated OpenAPI document cannot know from the C# types alone: the fixed sets of statuses and event types,
/// which fields are optional, the problem answers' <c>errors</c> list, and a document that does not depend on where it
/// was served from (it is checked in as <c>openapi/v1.json</c>).
/// </summary>
public static class ApiSchemas
{
    /// <summary>The document's title, the same whichever program serves it.</summary>
    public const string Title = "MeshHook gateway API";

    private static readonly string[] RunStatuses = [.. Enum.GetValues<RunStatus>().Select(s => s.ToText())];
    private static readonly string[] StepStatuses = [.. Enum.GetValues<StepStatus>().Select(s => s.ToText())];

    // Every constant of RunEventTypes, in declaration order, so a new event type reaches the contract (and its test) by itself.
    private static readonly string[] EventTypes =
    [
        .. typeof(RunEventTypes).GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
            .Where(f => f.IsLiteral)
            .Select(f => (string)f.GetRawConstantValue()!),
    ];

    /// <summary>A fixed title and no <c>servers</c>: clients choose the gateway's address themselves.</summary>
    public static Task DescribeDocumentAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        document.Info.Title = Title;
        document.Info.Description = "Publish workflows, trigger them by webhook, follow their runs. Every route but the webhook needs an API key.";
        document.Servers?.Clear();
        return Task.CompletedTask;
    }

    public static Task DescribeSchemaAsync(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken cancellationToken)
    {
        var type = context.JsonTypeInfo.Type;
        if (type == typeof(RunResponse))
        {
            OneOf(schema, "status", RunStatuses);
            // Left out of the answer when the run has none (never null).
            Optional(schema, "output", "error");
            schema.Properties!["output"] = new OpenApiSchema { Description = "The run's output (any JSON), once it has one." };
            schema.Properties["error"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "Why the run failed, when it did." };
        }
        else if (type == typeof(StepResponse))
        {
            OneOf(schema, "status", StepStatuses);
        }
        else if (type == typeof(RunEventResponse))
        {
            OneOf(schema, "type", EventTypes);
        }
        else if (type == typeof(PublishWorkflowRequest))
        {
            Optional(schema, "secret", "timestampedSignature");
        }
        else if (type == typeof(ApiError))
        {
            Optional(schema, "nodeId");
            schema.Properties!["nodeId"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "The workflow node the problem concerns." };
        }
        else if (type == typeof(Microsoft.AspNetCore.Mvc.ProblemDetails) || type == typeof(Microsoft.AspNetCore.Http.HttpValidationProblemDetails))
        {
            schema.Properties ??= new Dictionary<string, IOpenApiSchema>();
            schema.Properties["errors"] = new OpenApiSchema
            {
                Type = JsonSchemaType.Array,
                Description = "Every problem found, at least one; nodeId names the workflow node a definition problem concerns.",
                Items = new OpenApiSchema
                {
                    Type = JsonSchemaType.Object,
                    Required = new HashSet<string> { "message" },
                    Properties = new Dictionary<string, IOpenApiSchema>
                    {
                        ["nodeId"] = new OpenApiSchema { Type = JsonSchemaType.String },
                        ["message"] = new OpenApiSchema { Type = JsonSchemaType.String },
                    },
                },
            };
        }

        return Task.CompletedTask;
    }

    private static void OneOf(OpenApiSchema schema, string property, IEnumerable<string> values) =>
        schema.Properties![property] = new OpenApiSchema
        {
            Type = JsonSchemaType.String,
            Enum = [.. values.Select(v => (JsonNode)JsonValue.Create(v))],
        };

    private static void Optional(OpenApiSchema schema, params string[] properties)
    {
        foreach (var property in properties)
        {
            schema.Required?.Remove(property);
        }
    }
}
