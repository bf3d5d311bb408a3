using System.Diagnostics;
using System.Reflection;
using DevLab.JmesPath.Expressions;
using Newtonsoft.Json.Linq;

namespace MeshHook.Grains.Definitions;

/// <summary>What one JMESPath evaluation may spend: wall-clock time, and bytes of data built or copied.</summary>
/// <param name="Timeout">How long one evaluation may run.</param>
/// <param name="MaxBytes">How many bytes one evaluation may allocate, counting each copy a multi-select or a function is about to make.</param>
public sealed record ExpressionLimits(TimeSpan Timeout, long MaxBytes)
{
    /// <summary>1 second and 256 MiB.</summary>
    public static readonly ExpressionLimits Default = new(TimeSpan.FromSeconds(1), 256L * 1024 * 1024);
}

/// <summary>An evaluation went over <see cref="ExpressionLimits"/> and was stopped; its step fails with this message.</summary>
public sealed class ExpressionLimitExceededException(string message) : Exception(message);

/// <summary>
/// The limits of the evaluation running on this thread. Evaluation is synchronous, so the budget is thread-static: every
/// node of the tree checks it when it starts (<see cref="MeteredExpression"/>), however deep it is.
/// </summary>
internal sealed class EvaluationBudget : IDisposable
{
    [ThreadStatic]
    private static EvaluationBudget? _current;

    private readonly ExpressionLimits _limits;
    private readonly long _deadline;
    private readonly long _allocatedAtStart;
    private readonly EvaluationBudget? _outer;
    private readonly Dictionary<JToken, long> _sizes = new(ReferenceEqualityComparer.Instance);
    private long _charged;

    private EvaluationBudget(ExpressionLimits limits)
    {
        _limits = limits;
        _deadline = Stopwatch.GetTimestamp() + (long)(limits.Timeout.TotalSeconds * Stopwatch.Frequency);
        _allocatedAtStart = GC.GetAllocatedBytesForCurrentThread();
        _outer = _current;
        _current = this;
    }

    public static EvaluationBudget? Current => _current;

    public static EvaluationBudget Start(ExpressionLimits limits) => new(limits);

    public void Dispose() => _current = _outer;

    /// <summary>Throws when the evaluation is past its time or has built more than it may.</summary>
    public void Check()
    {
        if (Stopwatch.GetTimestamp() > _deadline)
        {
            throw new ExpressionLimitExceededException(
                $"evaluation ran longer than {_limits.Timeout.TotalMilliseconds:0} ms (MeshHook:Expressions:Timeout) and was stopped");
        }

        var spent = GC.GetAllocatedBytesForCurrentThread() - _allocatedAtStart + _charged;
        if (spent > _limits.MaxBytes)
        {
            throw new ExpressionLimitExceededException(
                $"evaluation built more than {_limits.MaxBytes / (1024 * 1024)} MiB of data (MeshHook:Expressions:MaxBytes) and was stopped");
        }
    }

    /// <summary>
    /// Counts a result its parent is about to copy (a multi-select clones each item that is already in a tree; a
    /// function's arguments likewise), before the copy is made: one call can copy a large token hundreds of times.
    /// </summary>
    public void ChargeCopy(JmesPathArgument result)
    {
        if (result.IsProjection)
        {
            foreach (var item in result.Projection)
            {
                ChargeCopy(item);
            }
        }
        else if (result.Token is { } token)
        {
            _charged += SizeOf(token);
        }

        Check();
    }

    /// <summary>An estimate of a token's size in memory, each distinct token walked once per evaluation.</summary>
    private long SizeOf(JToken token)
    {
        if (_sizes.TryGetValue(token, out var known))
        {
            return known;
        }

        long size = 0;
        var pending = new Stack<JToken>();
        pending.Push(token);
        while (pending.Count > 0)
        {
            var next = pending.Pop();
            size += next switch
            {
                JValue { Value: string text } => 56 + (2L * text.Length),
                JProperty property => 64 + (2L * property.Name.Length),
                _ => 56,
            };
            if (next is JContainer container)
            {
                foreach (var child in container.Children())
                {
                    pending.Push(child);
                }
            }
        }

        _sizes[token] = size;
        return size;
    }
}

/// <summary>
/// Stands between a node of a parsed tree and one of its children: checks the evaluation's budget before the child
/// runs, and charges what the parent will copy of the child's result (for multi-selects and function arguments).
/// Everything else is the child's own behaviour, passed through.
/// </summary>
internal sealed class MeteredExpression : JmesPathExpression
{
    private readonly JmesPathExpression _inner;
    private readonly bool _chargeResult;

    public MeteredExpression(JmesPathExpression inner, bool chargeResult)
    {
        _inner = inner;
        _chargeResult = chargeResult;
        if (inner.IsExpressionType)
        {
            // A function's &expression argument: the function evaluates it per item, through this node.
            MakeExpressionType(this);
        }
    }

    public override JmesPathArgument Transform(JmesPathArgument argument)
    {
        var budget = EvaluationBudget.Current;
        budget?.Check();
        var result = _inner.Transform(argument);
        if (_chargeResult)
        {
            budget?.ChargeCopy(result);
        }

        return result;
    }

    public override Task<JmesPathArgument> TransformAsync(JmesPathArgument argument) =>
        throw new NotSupportedException("MeshHook evaluates JMESPath synchronously, under a budget");

    protected override JmesPathArgument Transform(JToken json) => Transform(new JmesPathArgument(json));

    public override void Accept(DevLab.JmesPath.Interop.IVisitor visitor) => _inner.Accept(visitor);

    protected override string Format() => _inner.ToString();

    /// <summary>
    /// Puts a <see cref="MeteredExpression"/> between every node of a parsed tree and each of its children, in place.
    /// JMESPath.Net offers no hook for this, so its nodes' fields are rewritten by reflection: a child is held in a
    /// field of an expression type, in an array, list or dictionary of them, or in a <c>let</c> binding.
    /// </summary>
    public static void Instrument(JmesPathExpression root)
    {
        var pending = new Stack<object>();
        pending.Push(root);
        var seen = new HashSet<object>(ReferenceEqualityComparer.Instance);
        while (pending.Count > 0)
        {
            var node = pending.Pop();
            if (node is MeteredExpression || !seen.Add(node))
            {
                continue;
            }

            var copies = node is JmesPathMultiSelectList or JmesPathMultiSelectHash or JmesPathFunctionExpression;
            for (var type = node.GetType(); type is not null && type != typeof(JmesPathExpression) && type != typeof(object); type = type.BaseType)
            {
                foreach (var field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                {
                    switch (field.GetValue(node))
                    {
                        case MeteredExpression:
                            break;
                        case JmesPathExpression child:
                            pending.Push(child);
                            field.SetValue(node, new MeteredExpression(child, copies));
                            break;
                        case JmesPathExpression[] children:
                            for (var i = 0; i < children.Length; i++)
                            {
                                pending.Push(children[i]);
                                children[i] = new MeteredExpression(children[i], copies);
                            }

                            break;
                        case IList<JmesPathExpression> children:
                            for (var i = 0; i < children.Count; i++)
                            {
                                pending.Push(children[i]);
                                children[i] = new MeteredExpression(children[i], copies);
                            }

                            break;
                        case IDictionary<string, JmesPathExpression> children:
                            foreach (var key in children.Keys.ToList())
                            {
                                pending.Push(children[key]);
                                children[key] = new MeteredExpression(children[key], copies);
                            }

                            break;
                        case IEnumerable<JmesPathBinding> bindings:
                            foreach (var binding in bindings)
                            {
                                pending.Push(binding);
                            }

                            break;
                        case JmesPathBinding binding:
                            pending.Push(binding);
                            break;
                    }
                }
            }
        }
    }
}
