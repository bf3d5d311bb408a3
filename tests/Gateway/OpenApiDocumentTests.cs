using System.Text.Json;
using System.Text.Json.Nodes;
using AwesomeAssertions;
using MeshHook.Tests.Gateway.Infrastructure;

namespace MeshHook.Tests.Gateway;

/// <summary>
/// The OpenAPI document is a contract checked in as <c>openapi/v1.json</c>: the served one must equal it, so a change to
/// the API is a reviewed change to that file. <c>MESHHOOK_UPDATE_OPENAPI=1</c> rewrites the file from the served one.
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class OpenApiDocumentTests(GatewayCluster fixture)
{
    [Fact]
    public async Task ServedDocument_EqualsTheCheckedInOne()
    {
        var served = JsonNode.Parse(await fixture.Http.GetStringAsync("/openapi/v1.json"))!;
        var path = Path.Combine(RepositoryRoot(), "openapi", "v1.json");
        if (Environment.GetEnvironmentVariable("MESHHOOK_UPDATE_OPENAPI") == "1")
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            await File.WriteAllTextAsync(path, served.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        }

        File.Exists(path).Should().BeTrue($"the document is checked in at {path}");
        var checkedIn = JsonNode.Parse(await File.ReadAllTextAsync(path))!;
        JsonNode.DeepEquals(served, checkedIn).Should().BeTrue(
            "the served OpenAPI document must equal openapi/v1.json; if the API change is intended, run the gateway tests with " +
            "MESHHOOK_UPDATE_OPENAPI=1 and review the file's diff");
    }

    [Fact]
    public async Task Document_TypesIntegersAsIntegers_StatusesAsEnums_AndOptionalFieldsAsOptional()
    {
        var document = JsonNode.Parse(await fixture.Http.GetStringAsync("/openapi/v1.json"))!;
        var schemas = document["components"]!["schemas"]!;

        document["info"]!["title"]!.GetValue<string>().Should().Be("MeshHook gateway API");
        document["servers"].Should().BeNull("clients choose the gateway's address");
        Type(schemas["WorkflowPublished"]!["properties"]!["version"]!).Should().Be("integer");
        Type(schemas["StepResponse"]!["properties"]!["attempts"]!).Should().Be("integer");
        Type(schemas["RunEventResponse"]!["properties"]!["seq"]!).Should().Be("integer");
        Values(schemas["RunResponse"]!["properties"]!["status"]!).Should().Equal("queued", "running", "succeeded", "failed", "paused", "canceled");
        Values(schemas["StepResponse"]!["properties"]!["status"]!).Should().Equal("pending", "running", "succeeded", "failed", "skipped", "canceled");
        Values(schemas["RunEventResponse"]!["properties"]!["type"]!).Should().Contain(["run_created", "step_succeeded", "run_handed_off", "run_resumed"]);
        Names(schemas["RunResponse"]!["required"]!).Should().NotContain(["output", "error"]);
        schemas["ProblemDetails"]!["properties"]!["errors"]!["items"]!["required"]!.AsArray().Select(n => n!.GetValue<string>()).Should().Equal("message");

        var publish = document["paths"]!["/api/workflows/{slug}"]!["put"]!["requestBody"]!["content"]!["application/json"]!["schema"]!;
        Names(publish["required"]!).Should().BeEquivalentTo(["name", "definition"], "secret and timestampedSignature are optional");
        publish["properties"]!["definition"]!["$ref"]!.GetValue<string>().Should().Be("#/components/schemas/WorkflowDefinition");
        schemas["WorkflowResponse"]!["properties"]!["definition"]!["$ref"]!.GetValue<string>().Should().Be("#/components/schemas/WorkflowDefinition");
    }

    [Fact]
    public async Task Document_DescribesTheDefinition_AsAUnionOfNodeTypesWithTheirData()
    {
        var schemas = JsonNode.Parse(await fixture.Http.GetStringAsync("/openapi/v1.json"))!["components"]!["schemas"]!;

        var node = schemas["WorkflowNode"]!;
        node["discriminator"]!["propertyName"]!.GetValue<string>().Should().Be("type");
        node["discriminator"]!["mapping"]!.AsObject().Select(p => p.Key).Should()
            .BeEquivalentTo(["webhook", "transform", "http_call", "branch", "delay", "terminate"], "every node type the validator knows");
        node["oneOf"]!.AsArray().Should().HaveCount(6);
        var call = schemas["HttpCallNode"]!["properties"]!["data"]!;
        Names(call["required"]!).Should().BeEquivalentTo(["method", "url"]);
        call["properties"]!["headers"]!["additionalProperties"]!["oneOf"]!.AsArray().Should().HaveCount(2, "a JMESPath string or a named secret");
        Names(schemas["SecretHeader"]!["required"]!).Should().Equal("secret");
        Names(schemas["WorkflowEdge"]!["required"]!).Should().BeEquivalentTo(["source", "target"]);
    }

    private static string Type(JsonNode schema) => schema["type"] switch
    {
        JsonValue value => value.GetValue<string>(),
        var other => other?.ToJsonString() ?? "(none)",
    };

    private static IEnumerable<string> Values(JsonNode schema) => schema["enum"]!.AsArray().Select(n => n!.GetValue<string>());

    private static IEnumerable<string> Names(JsonNode array) => array.AsArray().Select(n => n!.GetValue<string>());

    private static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "MeshHook.Silo.sln")))
            {
                return folder.FullName;
            }
        }

        throw new InvalidOperationException($"no MeshHook.Silo.sln above {AppContext.BaseDirectory}");
    }
}
