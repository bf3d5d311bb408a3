using AwesomeAssertions;
using MeshHook.Grains.Definitions;
using Newtonsoft.Json.Linq;

namespace MeshHook.Tests.Unit.Definitions;

/// <summary>
/// An expression's size and nesting are bounded at publish: nesting is what lets a multi-select double the data it
/// builds at every level (<c>{a: @, b: @}</c> inside itself), so a definition cannot hold such a bomb.
/// </summary>
public sealed class JmesExpressionLimitsTests
{
    [Fact]
    public void Expression_LongerThanTheLimit_IsRefused()
    {
        var text = "a" + string.Concat(Enumerable.Repeat(".a", JmesExpression.MaxLength / 2));

        JmesExpression.TryCompile(text, out _, out var error).Should().BeFalse();
        error.Should().Be($"expression is {text.Length} characters long, over the limit of {JmesExpression.MaxLength}");
    }

    [Fact]
    public void Expression_NestedDeeperThanTheLimit_IsRefused()
    {
        var bomb = Nest(JmesExpression.MaxDepth + 1);

        JmesExpression.TryCompile(bomb, out _, out var error).Should().BeFalse();
        error.Should().Be($"expression nests brackets, braces or parentheses {JmesExpression.MaxDepth + 1} deep, over the limit of {JmesExpression.MaxDepth}");
    }

    [Fact]
    public void Expression_AtTheDepthLimit_CompilesAndEvaluates()
    {
        JmesExpression.TryCompile(Nest(JmesExpression.MaxDepth), out var expression, out var error).Should().BeTrue(error);

        expression!.Evaluate(JToken.Parse("""{"x": 1}""")).Should().NotBeNull();
    }

    [Theory]
    [InlineData("'(((((((((((((((('")]
    [InlineData("`\"[[[[[[[[[[[[[[[[[[\"`")]
    [InlineData("\"{{{{{{{{{{{{{{{{\"")]
    public void Brackets_InsideLiterals_DoNotCount(string text)
    {
        JmesExpression.TryCompile(text, out _, out var error).Should().BeTrue(error);
    }

    [Fact]
    public void Definition_WithABomb_IsRefusedAtPublish_NamingTheNode()
    {
        var definition = $$$"""
            {"nodes": [{"id": "hook", "type": "webhook"}, {"id": "bomb", "type": "transform", "data": {"expression": "{{{Nest(JmesExpression.MaxDepth + 5)}}}"}}],
             "edges": [{"source": "hook", "target": "bomb"}]}
            """;

        var result = DefinitionValidator.Validate(definition);

        result.IsValid.Should().BeFalse();
        result.Problems.Should().ContainSingle(p => p.NodeId == "bomb").Which.Message.Should().Contain("over the limit of");
    }

    /// <summary><c>{a: {a: … @ …, b: @}, b: @}</c>, <paramref name="depth"/> braces deep.</summary>
    private static string Nest(int depth)
    {
        var text = "@";
        for (var i = 0; i < depth; i++)
        {
            text = $"{{a: {text}, b: @}}";
        }

        return text;
    }
}
