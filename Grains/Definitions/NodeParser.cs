using System.Text.Json;
using MeshHook.Grains.Security;
using MeshHook.Grains.Steps;

namespace MeshHook.Grains.Definitions;

/// <summary>Turns one node's type and data into its typed <see cref="WorkflowNode"/>, recording every problem with the data.</summary>
internal static class NodeParser
{
    public const int MaxTimeoutMs = HttpCallNode.MaxTimeoutMs;
    public const int DefaultTimeoutMs = HttpCallNode.DefaultTimeoutMs;
    public const long MaxDelayMs = DelayNode.MaxMs;

    private static readonly HashSet<string> KnownTypes = new(StringComparer.Ordinal)
    {
        WebhookNode.TypeName,
        TransformNode.TypeName,
        HttpCallNode.TypeName,
        BranchNode.TypeName,
        DelayNode.TypeName,
        TerminateNode.TypeName,
    };

    private static readonly Dictionary<string, HttpMethod> Methods = new(StringComparer.OrdinalIgnoreCase)
    {
        ["GET"] = HttpMethod.Get,
        ["POST"] = HttpMethod.Post,
        ["PUT"] = HttpMethod.Put,
        ["PATCH"] = HttpMethod.Patch,
        ["DELETE"] = HttpMethod.Delete,
        ["HEAD"] = HttpMethod.Head,
        ["OPTIONS"] = HttpMethod.Options,
    };

    // The HTTP client owns message framing and the connection; a user value here would break the request
    // or smuggle a second one. Idempotency-Key is the engine's promise to receivers and must stay the same.
    private static readonly Dictionary<string, string> ReservedHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        [IdempotencyKey.HeaderName] = "the engine",
        ["Host"] = "the HTTP client",
        ["Content-Length"] = "the HTTP client",
        ["Transfer-Encoding"] = "the HTTP client",
        ["Connection"] = "the HTTP client",
        ["Keep-Alive"] = "the HTTP client",
        ["Upgrade"] = "the HTTP client",
        ["TE"] = "the HTTP client",
        ["Trailer"] = "the HTTP client",
    };

    public static bool IsKnownType(string type) => KnownTypes.Contains(type);

    /// <summary>
    /// Parses a node of a known <paramref name="type"/>. <paramref name="data"/> is null when the node has no
    /// data (or JSON null); a present but non-object data has been refused by the caller.
    /// </summary>
    /// <returns>The typed node, or null when a problem was recorded.</returns>
    public static WorkflowNode? Parse(string id, string type, JsonElement? data, List<DefinitionProblem> problems)
    {
        var before = problems.Count;
        var reader = new NodeDataReader(id, data, "data", problems);
        WorkflowNode? node = type switch
        {
            WebhookNode.TypeName => new WebhookNode(id),
            TransformNode.TypeName => ParseTransform(id, reader),
            HttpCallNode.TypeName => ParseHttpCall(id, reader),
            BranchNode.TypeName => ParseBranch(id, reader),
            DelayNode.TypeName => ParseDelay(id, reader),
            TerminateNode.TypeName => ParseTerminate(id, reader),
            _ => throw new ArgumentOutOfRangeException(nameof(type), type, "not a known node type"),
        };
        return problems.Count == before ? node : null;
    }

    private static TransformNode? ParseTransform(string id, NodeDataReader data) =>
        data.Expression("expression", required: true) is { } expression ? new TransformNode(id, expression) : null;

    private static BranchNode? ParseBranch(string id, NodeDataReader data) =>
        data.Expression("condition", required: true) is { } condition ? new BranchNode(id, condition) : null;

    private static DelayNode? ParseDelay(string id, NodeDataReader data) =>
        data.Integer("ms", 0, MaxDelayMs, fallback: null) is { } ms ? new DelayNode(id, TimeSpan.FromMilliseconds(ms)) : null;

    private static TerminateNode? ParseTerminate(string id, NodeDataReader data)
    {
        var status = data.String("status", required: false);
        switch (status)
        {
            case null or "succeeded":
                return new TerminateNode(id, RunStatus.Succeeded);
            case "failed":
                return new TerminateNode(id, RunStatus.Failed);
            default:
                data.Problem($"{data.Field("status")} must be 'succeeded' or 'failed'");
                return null;
        }
    }

    private static HttpCallNode? ParseHttpCall(string id, NodeDataReader data)
    {
        var method = ParseMethod(data);
        var url = ParseUrl(data);
        var headers = ParseHeaders(data);
        var body = data.Expression("body", required: false);
        var timeoutMs = data.Integer("timeoutMs", 1, MaxTimeoutMs, DefaultTimeoutMs);
        var retry = ParseRetry(data);

        return method is null || url is null || headers is null || timeoutMs is null || retry is null
            ? null
            : new HttpCallNode(id, method, url, headers, body, TimeSpan.FromMilliseconds(timeoutMs.Value), retry);
    }

    private static HttpMethod? ParseMethod(NodeDataReader data)
    {
        var text = data.String("method", required: true);
        if (text is null)
        {
            return null;
        }

        if (!Methods.TryGetValue(text, out var method))
        {
            data.Problem($"{data.Field("method")} must be one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS");
            return null;
        }

        return method;
    }

    private static Uri? ParseUrl(NodeDataReader data)
    {
        var text = data.String("url", required: true);
        if (text is null)
        {
            return null;
        }

        // An absolute-path string parses as file:// on Unix, and "http:x" has no host: check scheme and host.
        if (!Uri.TryCreate(text, UriKind.Absolute, out var url)
            || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps)
            || string.IsNullOrEmpty(url.Host))
        {
            data.Problem($"{data.Field("url")} must be an absolute http or https URL");
            return null;
        }

        return url;
    }

    private static List<KeyValuePair<string, HeaderValue>>? ParseHeaders(NodeDataReader data)
    {
        var headers = new List<KeyValuePair<string, HeaderValue>>();
        var properties = data.Properties("headers");
        if (properties is null)
        {
            // Absent headers are fine; a wrong type has been recorded and fails the node through the problem count.
            return headers;
        }

        var field = data.Field("headers");
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var property in properties)
        {
            var name = property.Name;
            if (!IsToken(name))
            {
                data.Problem($"{field}: '{name}' is not a valid header name");
                continue;
            }

            if (ReservedHeaders.TryGetValue(name, out var owner))
            {
                data.Problem($"{field}: {name} is set by {owner} and cannot be set here");
                continue;
            }

            // Header names are case-insensitive, so "Accept" and "accept" would silently fight.
            if (!seen.Add(name))
            {
                data.Problem($"{field}: duplicate header '{name}'");
                continue;
            }

            if (property.Value.ValueKind == JsonValueKind.Object)
            {
                if (ParseSecretHeader(data, $"{field}.{name}", property.Value) is { } secret)
                {
                    headers.Add(new(name, secret));
                }

                continue;
            }

            if (property.Value.ValueKind != JsonValueKind.String)
            {
                data.Problem($"{field}.{name} must be a string (JMESPath) or {{\"secret\": \"NAME\", \"prefix\"?: \"...\"}}");
                continue;
            }

            if (data.CompileExpression($"{field}.{name}", property.Value.GetString()!) is { } expression)
            {
                headers.Add(new(name, new ExpressionHeaderValue(expression)));
            }
        }

        return headers;
    }

    /// <summary>A header value <c>{"secret": "NAME", "prefix"?: "Bearer "}</c>; whether the secret exists is checked at publish.</summary>
    private static SecretHeaderValue? ParseSecretHeader(NodeDataReader data, string field, JsonElement value)
    {
        var before = data.ProblemCount;
        string? name = null;
        var prefix = "";
        foreach (var property in value.EnumerateObject())
        {
            switch (property.Name)
            {
                case "secret" when property.Value.ValueKind == JsonValueKind.String && SecretNames.IsValid(property.Value.GetString()):
                    name = property.Value.GetString();
                    break;
                case "secret":
                    data.Problem($"{field}.secret must be a secret's name: {SecretNames.Rule}");
                    break;
                case "prefix" when property.Value.ValueKind == JsonValueKind.String && SecretNames.IsValidPrefix(property.Value.GetString()!):
                    prefix = property.Value.GetString()!;
                    break;
                case "prefix":
                    data.Problem($"{field}.prefix must be a string of at most {SecretNames.MaxPrefixLength} printable ASCII characters");
                    break;
                default:
                    data.Problem($"{field}: unknown field '{property.Name}' (a secret header has \"secret\" and optionally \"prefix\")");
                    break;
            }
        }

        if (name is null && data.ProblemCount == before)
        {
            data.Problem($"{field}.secret is required");
        }

        return data.ProblemCount == before ? new SecretHeaderValue(name!, prefix) : null;
    }

    private static RetryPolicy? ParseRetry(NodeDataReader data)
    {
        var defaults = RetryPolicy.Default;
        var retry = data.Object("retry");
        if (retry is null)
        {
            return defaults;
        }

        var maxAttempts = retry.Integer("maxAttempts", 1, 10, defaults.MaxAttempts);
        var baseDelayMs = retry.Integer("baseDelayMs", 0, 60_000, (long)defaults.BaseDelay.TotalMilliseconds);

        // A base delay above the default cap raises the default cap rather than making the retry invalid.
        var defaultMaxDelayMs = Math.Max((long)defaults.MaxDelay.TotalMilliseconds, baseDelayMs ?? 0);
        var maxDelayMs = retry.Integer("maxDelayMs", 0, 300_000, defaultMaxDelayMs);
        if (baseDelayMs is { } low && maxDelayMs is { } high && high < low)
        {
            retry.Problem($"{retry.Field("maxDelayMs")} must not be less than {retry.Field("baseDelayMs")}");
            return null;
        }

        return maxAttempts is null || baseDelayMs is null || maxDelayMs is null
            ? null
            : new RetryPolicy(
                (int)maxAttempts.Value,
                TimeSpan.FromMilliseconds(baseDelayMs.Value),
                TimeSpan.FromMilliseconds(maxDelayMs.Value));
    }

    /// <summary>An RFC 9110 token: what a header field name may be.</summary>
    private static bool IsToken(string name)
    {
        if (name.Length == 0)
        {
            return false;
        }

        foreach (var c in name)
        {
            if (!char.IsAsciiLetterOrDigit(c) && !"!#$%&'*+-.^_`|~".Contains(c))
            {
                return false;
            }
        }

        return true;
    }
}
