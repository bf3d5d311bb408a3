using System.Net;
using System.Text.Json;
using AwesomeAssertions;
using MeshHook.Tests.Gateway.Infrastructure;

namespace MeshHook.Tests.Gateway;

/// <summary>
/// Named secrets for http_call headers: stored encrypted, listed by name, used by a run's request, and quoted by no
/// answer of the API (nor by any event of the run).
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class SecretsApiTests(GatewayCluster fixture)
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task Put_List_Replace_Delete_AnswerAsDocumented_AndNeverReturnAValue()
    {
        var name = NewName();
        const string First = "first-value-aa11";
        const string Second = "second-value-bb22";

        (await PutAsync(name, First)).StatusCode.Should().Be(HttpStatusCode.NoContent);
        var listed = await Http.GetAsync("/api/secrets");
        listed.StatusCode.Should().Be(HttpStatusCode.OK);
        var names = (await listed.ReadJsonAsync()).EnumerateArray().Select(e => e.GetString()).ToList();
        names.Should().Contain(name).And.BeInAscendingOrder(StringComparer.Ordinal);
        (await listed.Content.ReadAsStringAsync()).Should().NotContain(First);

        (await PutAsync(name, Second)).StatusCode.Should().Be(HttpStatusCode.NoContent, "a PUT replaces the value");
        (await StoredValueAsync(name)).Should().StartWith("mhenc:v1:").And.NotContain(Second).And.NotContain(First);

        (await Http.DeleteAsync($"/api/secrets/{name}")).StatusCode.Should().Be(HttpStatusCode.NoContent);
        (await Http.DeleteAsync($"/api/secrets/{name}")).StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await StoredValueAsync(name)).Should().BeNull();
        (await (await Http.GetAsync("/api/secrets")).ReadJsonAsync()).EnumerateArray().Select(e => e.GetString()).Should().NotContain(name);
    }

    public static TheoryData<string, string, string> BadBodies => new()
    {
        { "not an object", """["sk-bad-1"]""", "the body must be a JSON object" },
        { "malformed JSON", """{"value": sk-bad-2}""", "the body is not valid JSON (line 1, position 11)" },
        { "no value", """{}""", "value is required and must be a string" },
        { "value not a string", """{"value": 123456}""", "value is required and must be a string" },
        { "unknown field", """{"value": "sk-bad-3", "note": "x"}""", "unknown field 'note'" },
        { "empty value", """{"value": ""}""", "value must be 1 to 8192 printable ASCII characters" },
        { "line break", """{"value": "sk-bad-4\r\nX-Injected: 1"}""", "value must be 1 to 8192 printable ASCII characters" },
        { "NUL", """{"value": "sk-bad-5\u0000"}""", "cannot be stored (NUL character" },
        { "non-ASCII", """{"value": "sk-bad-6-é"}""", "value must be 1 to 8192 printable ASCII characters" },
        { "too long", $$"""{"value": "sk-bad-7{{new string('x', 8192)}}"}""", "value must be 1 to 8192 printable ASCII characters" },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task Put_BadBody_Is400_QuotesNoValue_AndStoresNothing(string scenario, string body, string message)
    {
        var name = NewName();

        var response = await Http.PutAsync($"/api/secrets/{name}", Api.Json(body));

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest, scenario);
        var answer = await response.Content.ReadAsStringAsync();
        answer.Should().Contain(message);
        answer.Should().NotContain("sk-bad", "an answer never quotes what may be a secret");
        (await StoredValueAsync(name)).Should().BeNull();
    }

    [Theory]
    [InlineData("has%20space")]
    [InlineData("-leading-dash")]
    [InlineData("slash%2Fin")]
    [InlineData("ünïcode")]
    public async Task Put_Delete_InvalidName_Is400(string name)
    {
        var put = await Http.PutAsync($"/api/secrets/{name}", Api.Json("""{"value": "v"}"""));
        put.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await put.Content.ReadAsStringAsync()).Should().Contain("a secret's name must be 1 to 100 characters");
        (await Http.DeleteAsync($"/api/secrets/{name}")).StatusCode.Should().Be(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Put_NameOf101Characters_Is400()
    {
        (await Http.PutAsync($"/api/secrets/{new string('n', 101)}", Api.Json("""{"value": "v"}"""))).StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await Http.PutAsync($"/api/secrets/{new string('n', 100)}", Api.Json("""{"value": "v"}"""))).StatusCode.Should().Be(HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task Put_NonJsonContentType_Is400()
    {
        var response = await Http.PutAsync($"/api/secrets/{NewName()}", Api.Json("""{"value": "v"}""", "text/plain"));

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Publish_NamingAnUnknownSecret_Is400WithTheNode_AndPublishesOnceItExists()
    {
        var name = NewName();
        var slug = Api.NewSlug();
        var definition = CallWithSecret(fixture.Sink.BaseAddress, name);

        var refused = await Http.PublishAsync(slug, definition);

        refused.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        var errors = (await refused.ReadJsonAsync()).GetProperty("errors").EnumerateArray().ToList();
        errors.Should().ContainSingle();
        errors[0].GetProperty("nodeId").GetString().Should().Be("call");
        errors[0].GetProperty("message").GetString().Should().Contain($"secret '{name}', which does not exist");
        (await Http.GetAsync($"/api/workflows/{slug}")).StatusCode.Should().Be(HttpStatusCode.NotFound, "nothing was published");

        (await PutAsync(name, "now-it-exists")).StatusCode.Should().Be(HttpStatusCode.NoContent);
        (await Http.PublishAsync(slug, definition)).StatusCode.Should().Be(HttpStatusCode.Created);
    }

    [Fact]
    public async Task Run_SendsTheSecretToThePeer_AndNoAnswerOrEventOfTheRunHoldsIt()
    {
        var name = NewName();
        var value = $"sk_live_{Guid.NewGuid():N}";
        (await PutAsync(name, value)).StatusCode.Should().Be(HttpStatusCode.NoContent);
        var slug = await Http.PublishOkAsync(CallWithSecret(fixture.Sink.BaseAddress, name));

        var runId = await (await Http.PostAsync($"/api/hooks/{slug}", Api.Json("""{"n": 1}"""))).RunIdOfAsync();
        var run = await Http.WaitFinishedAsync(runId);

        run.GetProperty("status").GetString().Should().Be("succeeded", run.ToString());
        var request = fixture.Sink.Requests.Single(r => r.IdempotencyKey == $"mh-{runId}-call");
        request.Headers["Authorization"].Should().Be($"Bearer {value}");
        var answers = new[]
        {
            await (await Http.GetAsync($"/api/runs/{runId}")).Content.ReadAsStringAsync(),
            await (await Http.GetAsync($"/api/runs/{runId}/events")).Content.ReadAsStringAsync(),
            await (await Http.GetAsync($"/api/workflows/{slug}")).Content.ReadAsStringAsync(),
            await (await Http.GetAsync("/api/secrets")).Content.ReadAsStringAsync(),
        };
        answers.Should().AllSatisfy(a => a.Should().NotContain(value));
        answers[1].Should().Contain("step_succeeded");
        (await RowsContainingAsync(value)).Should().Be(0, "no table holds the value in clear");
    }

    [Fact]
    public async Task Run_AfterItsSecretWasDeleted_FailsThatStepNamingTheSecret()
    {
        var name = NewName();
        (await PutAsync(name, "soon-deleted-value")).StatusCode.Should().Be(HttpStatusCode.NoContent);
        var slug = await Http.PublishOkAsync(CallWithSecret(fixture.Sink.BaseAddress, name));
        (await Http.DeleteAsync($"/api/secrets/{name}")).StatusCode.Should().Be(HttpStatusCode.NoContent);

        var runId = await (await Http.PostAsync($"/api/hooks/{slug}", Api.Json("{}"))).RunIdOfAsync();
        var run = await Http.WaitFinishedAsync(runId);

        run.GetProperty("status").GetString().Should().Be("failed");
        run.GetProperty("error").GetString().Should().Contain($"secret '{name}' does not exist");
        fixture.Sink.Requests.Should().NotContain(r => r.IdempotencyKey == $"mh-{runId}-call");
    }

    private static string NewName() => $"s-{Guid.NewGuid():N}"[..18];

    private Task<HttpResponseMessage> PutAsync(string name, string value) =>
        Http.PutAsync($"/api/secrets/{name}", Api.Json(JsonSerializer.Serialize(new { value })));

    private static string CallWithSecret(Uri sink, string secret) => $$$$"""
        {"nodes": [
          {"id": "hook", "type": "webhook"},
          {"id": "call", "type": "http_call", "data": {"method": "POST", "url": "{{{{sink}}}}crm", "body": "trigger.body",
            "headers": {"Authorization": {"secret": "{{{{secret}}}}", "prefix": "Bearer "}, "X-Run": "'visible'"}}},
          {"id": "done", "type": "terminate"}
        ], "edges": [{"id": "e1", "source": "hook", "target": "call"}, {"id": "e2", "source": "call", "target": "done"}]}
        """;

    private async Task<string?> StoredValueAsync(string name)
    {
        await using var command = fixture.DataSource.CreateCommand("SELECT value FROM meshhook_secrets WHERE name = @name");
        command.Parameters.AddWithValue("name", name);
        return (string?)await command.ExecuteScalarAsync();
    }

    private async Task<long> RowsContainingAsync(string value)
    {
        await using var command = fixture.DataSource.CreateCommand("""
            SELECT (SELECT count(*) FROM workflow_events WHERE payload::text LIKE '%' || @v || '%')
                 + (SELECT count(*) FROM workflow_runs WHERE coalesce(output::text, '') || coalesce(error, '') || trigger::text LIKE '%' || @v || '%')
                 + (SELECT count(*) FROM meshhook_secrets WHERE value LIKE '%' || @v || '%')
                 + (SELECT count(*) FROM orleans_storage WHERE position(convert_to(@v, 'UTF8') IN coalesce(payload_binary, ''::bytea)) > 0)
            """);
        command.Parameters.AddWithValue("v", value);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
