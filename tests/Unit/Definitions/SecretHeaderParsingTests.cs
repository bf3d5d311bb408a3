using AwesomeAssertions;
using MeshHook.Grains.Definitions;
using Xunit;

namespace MeshHook.Tests.Unit.Definitions;

/// <summary>An http_call header's value written as <c>{"secret": "NAME", "prefix"?: "..."}</c>, and what is refused.</summary>
public sealed class SecretHeaderParsingTests
{
    [Fact]
    public void SecretHeader_WithAndWithoutPrefix_IsParsedBesideExpressionHeaders()
    {
        var call = Parse("""{"Authorization": {"secret": "crm-token", "prefix": "Bearer "}, "X-Key": {"secret": "crm.key_2"}, "X-Id": "trigger.body.id"}""");

        call.Headers.Select(h => (h.Key, h.Value.GetType().Name)).Should().Equal(
            ("Authorization", nameof(SecretHeaderValue)), ("X-Key", nameof(SecretHeaderValue)), ("X-Id", nameof(ExpressionHeaderValue)));
        call.Headers[0].Value.Should().Be(new SecretHeaderValue("crm-token", "Bearer "));
        call.Headers[1].Value.Should().Be(new SecretHeaderValue("crm.key_2", ""));
        call.SecretNames.Should().Equal("crm-token", "crm.key_2");
    }

    [Fact]
    public void SecretNames_NamesEachSecretOnce()
    {
        var call = Parse("""{"A": {"secret": "s1"}, "B": {"secret": "s1", "prefix": "x "}, "C": {"secret": "s2"}}""");

        call.SecretNames.Should().Equal("s1", "s2");
    }

    [Theory]
    [InlineData("""{"A": {}}""", "data.headers.A.secret is required")]
    [InlineData("""{"A": {"secret": ""}}""", "data.headers.A.secret must be a secret's name")]
    [InlineData("""{"A": {"secret": "has space"}}""", "data.headers.A.secret must be a secret's name")]
    [InlineData("""{"A": {"secret": "-leading"}}""", "data.headers.A.secret must be a secret's name")]
    [InlineData("""{"A": {"secret": 7}}""", "data.headers.A.secret must be a secret's name")]
    [InlineData("""{"A": {"secret": "ok", "prefix": "Bearer\r\n"}}""", "data.headers.A.prefix must be a string of at most 100 printable ASCII characters")]
    [InlineData("""{"A": {"secret": "ok", "prefix": 1}}""", "data.headers.A.prefix must be a string of at most 100 printable ASCII characters")]
    [InlineData("""{"A": {"secret": "ok", "value": "inline"}}""", "data.headers.A: unknown field 'value'")]
    [InlineData("""{"A": ["x"]}""", "data.headers.A must be a string (JMESPath) or {\"secret\": \"NAME\", \"prefix\"?: \"...\"}")]
    public void SecretHeader_Malformed_IsRefusedNamingTheField(string headers, string problem)
    {
        var result = DefinitionValidator.Validate(Definition(headers));

        result.IsValid.Should().BeFalse();
        result.Problems.Should().ContainSingle().Which.Message.Should().StartWith(problem);
        result.Problems[0].NodeId.Should().Be("call");
    }

    [Fact]
    public void SecretHeader_NameOf100Characters_IsAccepted_And101_IsNot()
    {
        var longest = new string('a', 100);
        Parse($$$"""{"A": {"secret": "{{{longest}}}"}}""").SecretNames.Should().Equal(longest);
        DefinitionValidator.Validate(Definition($$$"""{"A": {"secret": "{{{longest}}}a"}}""")).IsValid.Should().BeFalse();
    }

    private static HttpCallNode Parse(string headers)
    {
        var result = DefinitionValidator.Validate(Definition(headers));
        result.Problems.Should().BeEmpty();
        return (HttpCallNode)result.Workflow!["call"];
    }

    private static string Definition(string headers) => $$$"""
        {"nodes": [
          {"id": "hook", "type": "webhook"},
          {"id": "call", "type": "http_call", "data": {"method": "POST", "url": "https://peer.test/x", "headers": {{{headers}}}}}
        ], "edges": [{"id": "e1", "source": "hook", "target": "call"}]}
        """;
}
