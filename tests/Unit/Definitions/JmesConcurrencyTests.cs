using AwesomeAssertions;
using MeshHook.Grains.Definitions;
using Newtonsoft.Json.Linq;

namespace MeshHook.Tests.Unit.Definitions;

/// <summary>
/// One compiled expression serves every run of its workflow on a silo, at the same time. JMESPath.Net keeps the root
/// (<c>$</c>) and <c>let</c> variables in the parsed tree itself, so a shared tree would let one run read another's data.
/// </summary>
public sealed class JmesConcurrencyTests
{
    [Theory]
    [InlineData("{mine: id, root: $.id}")]
    [InlineData("let $me = id in {mine: id, root: $me}")]
    [InlineData("items[*].{mine: @, root: $.id}")]
    public async Task Evaluate_OnManyThreadsAtOnce_EachEvaluationSeesItsOwnContext(string text)
    {
        var expression = JmesExpression.Compile(text);
        var mixed = 0;

        await Task.WhenAll(Enumerable.Range(0, 8).Select(worker => Task.Run(() =>
        {
            for (var i = 0; i < 5000; i++)
            {
                var id = $"w{worker}-{i}";
                var result = expression.Evaluate(new JObject { ["id"] = id, ["items"] = new JArray(id) });
                var pair = result is JArray array ? (JObject)array[0] : (JObject)result;
                if ((string?)pair["root"] != id)
                {
                    Interlocked.Increment(ref mixed);
                }
            }
        }, TestContext.Current.CancellationToken)));

        mixed.Should().Be(0, "an evaluation must never read another one's root or variables");
    }
}
