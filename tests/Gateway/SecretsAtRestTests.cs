using System.Net;
using AwesomeAssertions;
using MeshHook.Tests.Gateway.Infrastructure;

namespace MeshHook.Tests.Gateway;

/// <summary>A webhook secret is stored encrypted with MeshHook:Secrets:Key, and signed intake still checks it.</summary>
[Collection(GatewayCollection.Name)]
public sealed class SecretsAtRestTests(GatewayCluster fixture)
{
    [Fact]
    public async Task WebhookSecret_IsStoredEncrypted_AndSignedIntakeStillWorks()
    {
        const string Secret = "plain-webhook-secret-7f3a";
        var slug = await fixture.Http.PublishOkAsync(Api.TransformWorkflow, Secret);

        await using var command = fixture.DataSource.CreateCommand("SELECT secret FROM workflow_definitions WHERE slug = @slug");
        command.Parameters.AddWithValue("slug", slug);
        var stored = (string)(await command.ExecuteScalarAsync())!;
        stored.Should().StartWith("mhenc:v1:").And.NotContain(Secret);

        const string Body = """{"n": 1}""";
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/hooks/{slug}") { Content = Api.Json(Body) };
        request.Headers.TryAddWithoutValidation("X-Hub-Signature-256", $"sha256={Api.Sign(Secret, Body)}");
        (await fixture.Gateway.Anonymous.SendAsync(request)).StatusCode.Should().Be(HttpStatusCode.Accepted);
    }
}
