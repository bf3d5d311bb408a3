using System.Diagnostics.CodeAnalysis;
using System.Text;
using MeshHook.Grains.Definitions;
using MeshHook.Grains.Security;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace MeshHook.Grains.Steps;

/// <summary>Turns an http_call node and the run context into the request every attempt sends.</summary>
internal static class HttpRequests
{
    /// <param name="node">The call.</param>
    /// <param name="invocation">The step, with the run context.</param>
    /// <param name="secrets">The values of the named secrets the node's headers use; a name missing here fails the step.</param>
    /// <param name="limits">What each evaluation of a header or the body may spend.</param>
    /// <param name="request">The request, when it could be prepared.</param>
    /// <param name="error">Why not; never quotes a header's value.</param>
    public static bool TryPrepare(
        HttpCallNode node,
        StepInvocation invocation,
        IReadOnlyDictionary<string, string> secrets,
        ExpressionLimits limits,
        [NotNullWhen(true)] out PreparedRequest? request,
        [NotNullWhen(false)] out string? error)
    {
        request = null;
        if (!node.Url.IsAbsoluteUri || (node.Url.Scheme != Uri.UriSchemeHttp && node.Url.Scheme != Uri.UriSchemeHttps))
        {
            error = "url must be an absolute http or https URL";
            return false;
        }

        var headers = new List<KeyValuePair<string, string>>(node.Headers.Count);
        foreach (var (name, source) in node.Headers)
        {
            if (string.Equals(name, IdempotencyKey.HeaderName, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (source is SecretHeaderValue secret)
            {
                if (!secrets.TryGetValue(secret.Name, out var secretValue))
                {
                    error = $"header '{name}': secret '{secret.Name}' does not exist (store it with PUT /api/secrets/{secret.Name})";
                    return false;
                }

                // Names, values and prefixes were checked when stored and published: printable ASCII, no line breaks.
                headers.Add(new(name, secret.Prefix + secretValue));
                continue;
            }

            var expression = ((ExpressionHeaderValue)source).Expression;
            if (!TryEvaluate(expression, invocation.Context, limits, out var value, out error))
            {
                error = $"header '{name}': {error}";
                return false;
            }

            if (value.Type is JTokenType.Null or JTokenType.Undefined)
            {
                continue;
            }

            var text = value.Type == JTokenType.String ? value.Value<string>()! : value.ToString(Formatting.None);
            if (text.AsSpan().IndexOfAny('\r', '\n', '\0') >= 0)
            {
                error = $"header '{name}': the value of '{expression.Text}' contains a line break or NUL character";
                return false;
            }

            headers.Add(new(name, text));
        }

        string? body = null;
        if (node.Body is { } bodyExpression)
        {
            if (!TryEvaluate(bodyExpression, invocation.Context, limits, out var value, out error))
            {
                error = $"body: {error}";
                return false;
            }

            body = value.ToString(Formatting.None);
        }

        var prepared = new PreparedRequest(node.Method, node.Url, headers, body, IdempotencyKey.For(invocation.RunId, node.Id));
        try
        {
            // Building one up front turns a header the HTTP stack refuses into a step failure, not an attempt error.
            using var probe = prepared.Create();
        }
        catch (InvalidHeaderException e)
        {
            error = e.Message;
            return false;
        }

        request = prepared;
        error = null;
        return true;
    }

    /// <summary>
    /// The node's named secrets, read now, at the moment of the request. A store that cannot answer is the engine's
    /// problem, not the step's: it is thrown as <see cref="StepStoreException"/>, and the run tries the step again later.
    /// </summary>
    public static async Task<IReadOnlyDictionary<string, string>> ResolveSecretsAsync(HttpCallNode node, INamedSecrets? namedSecrets, CancellationToken cancellationToken)
    {
        var names = node.SecretNames.ToList();
        if (names.Count == 0 || namedSecrets is null)
        {
            return EmptySecrets;
        }

        try
        {
            return await namedSecrets.ResolveAsync(names, cancellationToken);
        }
        catch (System.Security.Cryptography.CryptographicException e)
        {
            // A key this silo lacks, or a value tampered with: no later try would read it either, so the step fails.
            throw new InvalidOperationException($"the call's named secrets cannot be decrypted: {e.Message}", e);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new StepStoreException("reading the call's named secrets failed", e);
        }
    }

    private static readonly IReadOnlyDictionary<string, string> EmptySecrets = new Dictionary<string, string>();

    private static bool TryEvaluate(JmesExpression expression, JToken context, ExpressionLimits limits, [NotNullWhen(true)] out JToken? value, [NotNullWhen(false)] out string? error)
    {
        try
        {
            value = expression.Evaluate(context, limits);
            error = null;
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            value = null;
            error = $"expression '{expression.Text}' failed: {e.Message}";
            return false;
        }
    }
}

/// <summary>
/// The evaluated request; <see cref="Create"/> makes a fresh message for each attempt. Its headers may hold secrets:
/// <see cref="ToString"/> leaves them out.
/// </summary>
internal sealed record PreparedRequest(
    HttpMethod Method,
    Uri Url,
    IReadOnlyList<KeyValuePair<string, string>> Headers,
    string? Body,
    string IdempotencyKeyValue)
{
    public override string ToString() => $"{Method} {Url.GetLeftPart(UriPartial.Authority)} ({Headers.Count} header(s))";

    public HttpRequestMessage Create()
    {
        var request = new HttpRequestMessage(Method, Url);
        try
        {
            if (Body is not null)
            {
                request.Content = new StringContent(Body, Encoding.UTF8, "application/json");
            }

            foreach (var (name, value) in Headers)
            {
                AddHeader(request, name, value);
            }

            request.Headers.TryAddWithoutValidation(IdempotencyKey.HeaderName, IdempotencyKeyValue);
            return request;
        }
        catch
        {
            request.Dispose();
            throw;
        }
    }

    private static void AddHeader(HttpRequestMessage request, string name, string value)
    {
        if (request.Headers.TryAddWithoutValidation(name, value))
        {
            return;
        }

        // Refused as a request header: either a content header (Content-Type...) or not a valid name at all.
        using var probe = new ByteArrayContent([]);
        if (!probe.Headers.TryAddWithoutValidation(name, value))
        {
            throw new InvalidHeaderException($"header '{name}' cannot be sent: not a valid header name");
        }

        if (request.Content is { } content)
        {
            content.Headers.Remove(name);
            content.Headers.TryAddWithoutValidation(name, value);
        }

        // A content header without a body has nothing to describe: it is left out.
    }
}

/// <summary>A header the HTTP stack refuses; the step fails with its message.</summary>
internal sealed class InvalidHeaderException(string message) : Exception(message);
