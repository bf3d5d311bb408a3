using System.Collections.Concurrent;
using DevLab.JmesPath;
using DevLab.JmesPath.Expressions;
using Newtonsoft.Json.Linq;

namespace MeshHook.Grains.Definitions;

/// <summary>
/// A compiled JMESPath expression, evaluated over a run context under <see cref="ExpressionLimits"/>. One instance
/// serves every run of its workflow on a silo, on any number of threads at once.
/// </summary>
/// <remarks>
/// JMESPath.Net keeps per-evaluation state in the parsed tree: the root that <c>$</c> reads and the scopes of
/// <c>let</c> variables. A tree shared by two evaluations at once would let one run read another run's data, so each
/// evaluation takes a tree of its own from a pool (parsed again when the pool is empty) and gives it back after.
/// </remarks>
public sealed class JmesExpression
{
    // The parser itself keeps no per-call state; its function instances are shared and keep none that is read.
    private static readonly JmesPath Parser = new();
    private readonly ConcurrentBag<JmesPathExpression> _idle = [];

    private JmesExpression(string text, JmesPathExpression compiled)
    {
        Text = text;
        _idle.Add(compiled);
    }

    /// <summary>The expression as written in the definition.</summary>
    public string Text { get; }

    /// <summary>The longest expression accepted, in characters.</summary>
    public const int MaxLength = 2000;

    /// <summary>
    /// The deepest nesting of brackets, braces and parentheses accepted. Each level of a multi-select such as
    /// <c>{a: @, b: @}</c> can double the data an evaluation builds, so depth is what bounds its growth.
    /// </summary>
    public const int MaxDepth = 10;

    /// <summary>Compiles <paramref name="text"/>; on failure <paramref name="error"/> says why.</summary>
    public static bool TryCompile(string text, out JmesExpression? expression, out string? error)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            expression = null;
            error = "expression is empty";
            return false;
        }

        if (text.Length > MaxLength)
        {
            expression = null;
            error = $"expression is {text.Length} characters long, over the limit of {MaxLength}";
            return false;
        }

        if (Depth(text) > MaxDepth)
        {
            expression = null;
            error = $"expression nests brackets, braces or parentheses {Depth(text)} deep, over the limit of {MaxDepth}";
            return false;
        }

        try
        {
            expression = new JmesExpression(text, Parse(text));
            error = null;
            return true;
        }
        catch (Exception e)
        {
            expression = null;
            error = e.Message;
            return false;
        }
    }

    /// <summary>The deepest nesting of ( [ { outside string literals ('raw', "quoted", `json`).</summary>
    private static int Depth(string text)
    {
        int depth = 0, deepest = 0;
        char? quote = null;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (quote is { } open)
            {
                if (c == '\\')
                {
                    i++;
                }
                else if (c == open)
                {
                    quote = null;
                }
            }
            else if (c is '\'' or '"' or '`')
            {
                quote = c;
            }
            else if (c is '(' or '[' or '{')
            {
                deepest = Math.Max(deepest, ++depth);
            }
            else if (c is ')' or ']' or '}')
            {
                depth--;
            }
        }

        return deepest;
    }

    /// <summary>Compiles an expression known to be valid (validation has already run).</summary>
    public static JmesExpression Compile(string text) =>
        TryCompile(text, out var expression, out var error)
            ? expression!
            : throw new ArgumentException($"invalid JMESPath expression '{text}': {error}", nameof(text));

    /// <summary>Evaluates the expression under <see cref="ExpressionLimits.Default"/>; a missing value comes back as JSON null.</summary>
    public JToken Evaluate(JToken context) => Evaluate(context, ExpressionLimits.Default);

    /// <summary>Evaluates the expression; a missing value comes back as JSON null.</summary>
    /// <exception cref="ExpressionLimitExceededException">It ran longer or built more than <paramref name="limits"/> allow.</exception>
    public JToken Evaluate(JToken context, ExpressionLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        var tree = _idle.TryTake(out var idle) ? idle : Parse(Text);
        try
        {
            using var budget = EvaluationBudget.Start(limits);
            var result = tree.Transform(context);
            // A projection becomes an array here, which copies what it projected: charged like a multi-select's items.
            if (result.IsProjection)
            {
                budget.ChargeCopy(result);
            }

            return result.AsJToken() ?? JValue.CreateNull();
        }
        finally
        {
            // Whatever happened, the tree holds nothing of this evaluation that the next one would read: it sets the
            // root again, and let scopes are popped in finally blocks.
            _idle.Add(tree);
        }
    }

    /// <summary>Parses <paramref name="text"/> into a tree whose every node checks the evaluation's budget.</summary>
    private static JmesPathExpression Parse(string text)
    {
        var tree = Parser.Parse(text);
        MeteredExpression.Instrument(tree);
        return tree;
    }

    /// <summary>JMESPath truthiness: false, null, empty string, empty array and empty object are false.</summary>
    public static bool IsTruthy(JToken value) => value.Type switch
    {
        JTokenType.Null or JTokenType.Undefined => false,
        JTokenType.Boolean => value.Value<bool>(),
        JTokenType.String => value.Value<string>()!.Length > 0,
        JTokenType.Array => ((JArray)value).Count > 0,
        JTokenType.Object => ((JObject)value).Count > 0,
        _ => true,
    };

    public override string ToString() => Text;
}
