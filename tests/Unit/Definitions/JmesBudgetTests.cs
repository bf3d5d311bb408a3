using System.Diagnostics;
using AwesomeAssertions;
using MeshHook.Grains.Definitions;
using Newtonsoft.Json.Linq;

namespace MeshHook.Tests.Unit.Definitions;

/// <summary>
/// Expressions within the publish limits (2,000 characters, nesting 10 deep) that would run away: each is stopped by
/// its evaluation's budget, in time or in bytes, with an error that says which limit, and before it builds the data.
/// </summary>
public sealed class JmesBudgetTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    [Fact]
    public void PipedMultiSelects_ThatDoubleTheirDataAtEveryStage_AreStoppedByTheByteLimit()
    {
        // Nesting 1 deep: 40 stages of 8 copies each would be 8^40 times the input.
        var bomb = string.Join(" | ", Enumerable.Repeat("[@, @, @, @, @, @, @, @]", 40));
        var expression = JmesExpression.Compile(bomb);
        var limits = new ExpressionLimits(Generous, 64L * 1024 * 1024);
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();

        var evaluate = () => expression.Evaluate(JObject.Parse("""{"a": "some text", "b": [1, 2, 3]}"""), limits);

        evaluate.Should().Throw<ExpressionLimitExceededException>().WithMessage("evaluation built more than 64 MiB of data (MeshHook:Expressions:MaxBytes) and was stopped");
        clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(5));
        (GC.GetAllocatedBytesForCurrentThread() - allocated).Should().BeLessThan(256L * 1024 * 1024, "the limit is checked before each copy, not after");
    }

    [Fact]
    public void OneWideMultiSelectOverALargeInput_IsStoppedBeforeItsCopiesAreMade()
    {
        // One call: 300 copies of a 4 MiB input would be 1.2 GiB (2.4 GiB as UTF-16) built inside the library at once.
        var wide = "[" + string.Join(", ", Enumerable.Repeat("@", 300)) + "]";
        var expression = JmesExpression.Compile(wide);
        var input = new JObject { ["blob"] = new string('x', 4 * 1024 * 1024) };
        var allocated = GC.GetAllocatedBytesForCurrentThread();

        var evaluate = () => expression.Evaluate(input, new ExpressionLimits(Generous, 256L * 1024 * 1024));

        evaluate.Should().Throw<ExpressionLimitExceededException>().WithMessage("*more than 256 MiB*");
        (GC.GetAllocatedBytesForCurrentThread() - allocated).Should().BeLessThan(64L * 1024 * 1024, "no copy was made");
    }

    [Fact]
    public void ProjectionsThatCopyTheRootForEveryItem_AreStoppedByTheByteLimit()
    {
        var expression = JmesExpression.Compile("items[*].[$, $] | [*][*].items[*].[$, $]");
        var input = new JObject { ["items"] = new JArray(Enumerable.Range(0, 2000).Select(i => new JObject { ["n"] = i, ["text"] = new string('y', 200) })) };

        var evaluate = () => expression.Evaluate(input, new ExpressionLimits(Generous, 128L * 1024 * 1024));

        evaluate.Should().Throw<ExpressionLimitExceededException>().WithMessage("*more than 128 MiB*");
    }

    [Fact]
    public void AQuadraticFilter_ThatBuildsLittle_IsStoppedByTheTimeLimit()
    {
        // For each of 20,000 items, a filter over all of them: 400 million comparisons, a minute or more of CPU.
        var expression = JmesExpression.Compile("length(a[?length($.a[?@ == `7`]) > `0`])");
        var input = new JObject { ["a"] = new JArray(Enumerable.Range(0, 20_000)) };
        var clock = Stopwatch.StartNew();

        var evaluate = () => expression.Evaluate(input, new ExpressionLimits(TimeSpan.FromMilliseconds(200), 1L << 40));

        evaluate.Should().Throw<ExpressionLimitExceededException>().WithMessage("evaluation ran longer than 200 ms (MeshHook:Expressions:Timeout) and was stopped");
        clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(3), "every node checks the clock when it starts, so the overshoot is one node's work");
    }

    [Fact]
    public void AStoppedExpression_EvaluatesNormallyNextTime()
    {
        var expression = JmesExpression.Compile("let $x = a in [$x, $.a, length(a[?@ == $x[0]])]");
        var big = new JObject { ["a"] = new JArray(Enumerable.Range(0, 100_000)) };

        var stopped = () => expression.Evaluate(big, new ExpressionLimits(Generous, 1024 * 1024));
        stopped.Should().Throw<ExpressionLimitExceededException>();

        expression.Evaluate(JObject.Parse("""{"a": [1, 2, 1]}""")).ToString(Newtonsoft.Json.Formatting.None).Should().Be("[[1,2,1],[1,2,1],2]");
    }

    [Fact]
    public void EverydayExpressions_OverATypicalContext_StayFarBelowTheDefaults()
    {
        var context = new JObject
        {
            ["trigger"] = new JObject { ["body"] = new JObject { ["orders"] = new JArray(Enumerable.Range(0, 5000).Select(i => new JObject { ["id"] = i, ["total"] = i * 3, ["sku"] = $"sku-{i}" })) } },
            ["steps"] = new JObject(),
        };

        foreach (var text in new[]
        {
            "trigger.body.orders[?total > `100`].{id: id, sku: sku}",
            "sort_by(trigger.body.orders, &total)[-10:].id",
            "{count: length(trigger.body.orders), sum: sum(trigger.body.orders[*].total), max: max_by(trigger.body.orders, &total).id}",
            "trigger.body.orders[*].{id: id, tenant: $.trigger.body.orders[0].sku}",
        })
        {
            JmesExpression.Compile(text).Evaluate(context, ExpressionLimits.Default).Should().NotBeNull(text);
        }
    }
}
