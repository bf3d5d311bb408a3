namespace MeshHook.Grains.Definitions;

/// <summary>A validated node of a workflow; one subtype per node type of DESIGN.md.</summary>
public abstract record WorkflowNode(string Id)
{
    /// <summary>The node's type as written in the definition ("transform", "http_call", ...).</summary>
    public abstract string Type { get; }
}

/// <summary>The trigger: the webhook that started the run. Exactly one per workflow.</summary>
public sealed record WebhookNode(string Id) : WorkflowNode(Id)
{
    public const string TypeName = "webhook";
    public override string Type => TypeName;
}

/// <summary>Output = a JMESPath expression over the run context.</summary>
public sealed record TransformNode(string Id, JmesExpression Expression) : WorkflowNode(Id)
{
    public const string TypeName = "transform";
    public override string Type => TypeName;
}

/// <summary>
/// One HTTP request with retries; the body and each header's value are JMESPath over the context, except header values
/// that name a secret (<see cref="SecretHeaderValue"/>).
/// </summary>
public sealed record HttpCallNode(
    string Id,
    HttpMethod Method,
    Uri Url,
    IReadOnlyList<KeyValuePair<string, HeaderValue>> Headers,
    JmesExpression? Body,
    TimeSpan Timeout,
    RetryPolicy Retry) : WorkflowNode(Id)
{
    public const string TypeName = "http_call";
    public override string Type => TypeName;

    /// <summary>The longest per-attempt timeout a definition may set, and the one it gets without <c>timeoutMs</c>.</summary>
    public const int MaxTimeoutMs = 300_000, DefaultTimeoutMs = 10_000;

    /// <summary>The named secrets this call's headers use, each once.</summary>
    public IEnumerable<string> SecretNames => Headers.Select(h => h.Value).OfType<SecretHeaderValue>().Select(s => s.Name).Distinct(StringComparer.Ordinal);
}

/// <summary>How an http_call header gets its value.</summary>
public abstract record HeaderValue;

/// <summary>A header value computed from the run context (a string in the definition).</summary>
public sealed record ExpressionHeaderValue(JmesExpression Expression) : HeaderValue
{
    public override string ToString() => Expression.Text;
}

/// <summary>
/// A header value that is a named secret, read when the request is prepared: <c>{"secret": "NAME", "prefix": "Bearer "}</c>
/// in the definition. Its value never enters the run context, an output, an event or a log.
/// </summary>
public sealed record SecretHeaderValue(string Name, string Prefix) : HeaderValue
{
    /// <summary>The definition's form, naming the secret; there is no value here to show.</summary>
    public override string ToString() => Prefix.Length == 0 ? $"{{secret: {Name}}}" : $"{{secret: {Name}, prefix: '{Prefix}'}}";
}

/// <summary>Retry settings of an http_call: attempts in all (1 = no retry) and the backoff bounds.</summary>
public sealed record RetryPolicy(int MaxAttempts, TimeSpan BaseDelay, TimeSpan MaxDelay)
{
    public static readonly RetryPolicy Default = new(3, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(10));
}

/// <summary>Follows the edge labelled "true" or "false" depending on the condition's truthiness.</summary>
public sealed record BranchNode(string Id, JmesExpression Condition) : WorkflowNode(Id)
{
    public const string TypeName = "branch";

    /// <summary>The label of the edge taken when the condition is truthy.</summary>
    public const string TrueLabel = "true";

    /// <summary>The label of the edge taken when the condition is falsy.</summary>
    public const string FalseLabel = "false";
    public override string Type => TypeName;
}

/// <summary>A durable wait: the due time is fixed when the step first starts and survives restarts.</summary>
public sealed record DelayNode(string Id, TimeSpan Duration) : WorkflowNode(Id)
{
    /// <summary>The longest delay a definition may ask for: 30 days.</summary>
    public const long MaxMs = 30L * 24 * 60 * 60 * 1000;

    public const string TypeName = "delay";
    public override string Type => TypeName;
}

/// <summary>Ends the run with the given status.</summary>
public sealed record TerminateNode(string Id, RunStatus Status) : WorkflowNode(Id)
{
    public const string TypeName = "terminate";
    public override string Type => TypeName;
}

/// <summary>An edge; <see cref="Label"/> is "true" or "false" on a branch's outgoing edges.</summary>
public sealed record WorkflowEdge(string Source, string Target, string? Label);
