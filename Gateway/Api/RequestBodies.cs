using System.Buffers;
using System.Text.Json;
using Microsoft.Net.Http.Headers;

namespace MeshHook.Gateway.Api;

/// <summary>Reading JSON request bodies within the size limit, and refusing JSON that Postgres' jsonb cannot store.</summary>
public static class RequestBodies
{
    private static readonly JsonDocumentOptions ParseOptions = new() { MaxDepth = 64 };

    /// <summary>
    /// JSON content types: <c>application/json</c> and <c>*/*+json</c>, UTF-8 (no charset or charset=utf-8).
    /// A request without a Content-Type is judged by its body alone.
    /// </summary>
    public static bool IsJsonContentType(string? contentType)
    {
        if (string.IsNullOrEmpty(contentType))
        {
            return true;
        }

        if (!MediaTypeHeaderValue.TryParse(contentType, out var media) || media.MediaType.Value is not { } type)
        {
            return false;
        }

        var json = type.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || (type.EndsWith("+json", StringComparison.OrdinalIgnoreCase) && type.Contains('/', StringComparison.Ordinal));
        var charset = media.Charset.Value;
        return json && (charset is null || charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase) || charset.Equals("utf8", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Reads the whole body, or returns the 413/400 answer when it is over <paramref name="limit"/> or unreadable.</summary>
    public static async Task<(byte[]? Body, IResult? Error)> ReadAsync(HttpRequest request, long limit, CancellationToken cancellationToken)
    {
        if (request.ContentLength > limit)
        {
            return (null, ApiProblems.TooLarge(limit));
        }

        var buffer = new ArrayBufferWriter<byte>(request.ContentLength is > 0 and var length ? (int)length : 4096);
        try
        {
            while (true)
            {
                var memory = buffer.GetMemory(8192);
                var read = await request.Body.ReadAsync(memory, cancellationToken);
                if (read == 0)
                {
                    break;
                }

                buffer.Advance(read);
                if (buffer.WrittenCount > limit)
                {
                    return (null, ApiProblems.TooLarge(limit));
                }
            }
        }
        catch (BadHttpRequestException e)
        {
            // Kestrel's own limit (MaxRequestBodySize, set to the same value) or a malformed chunked body.
            return (null, e.StatusCode == StatusCodes.Status413PayloadTooLarge ? ApiProblems.TooLarge(limit) : ApiProblems.BadRequest("the body could not be read"));
        }

        return (buffer.WrittenSpan.ToArray(), null);
    }

    /// <summary>Parses a JSON body; null and a problem text when it is not JSON that can be stored.</summary>
    public static JsonDocument? Parse(byte[] body, out string? problem)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, ParseOptions);
        }
        catch (JsonException e)
        {
            problem = body.Length == 0
                ? "the body is empty; send a JSON value"
                : $"the body is not valid JSON (line {(e.LineNumber ?? 0) + 1}, position {(e.BytePositionInLine ?? 0) + 1})";
            return null;
        }

        try
        {
            problem = FindUnstorable(document.RootElement);
        }
        catch (InvalidOperationException)
        {
            problem = "the body holds text that is not valid UTF-8";
        }

        if (problem is not null)
        {
            document.Dispose();
            return null;
        }

        return document;
    }

    /// <summary>
    /// Postgres' jsonb refuses the NUL character and broken UTF-16 escapes (lone surrogates) that JSON parsers
    /// accept; finding them here makes them a 400 instead of a failed write.
    /// </summary>
    private static string? FindUnstorable(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    if (!IsStorable(property.Name))
                    {
                        return "the body holds a property name that cannot be stored (NUL character or invalid UTF-16)";
                    }

                    if (FindUnstorable(property.Value) is { } inner)
                    {
                        return inner;
                    }
                }

                return null;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    if (FindUnstorable(item) is { } inner)
                    {
                        return inner;
                    }
                }

                return null;
            case JsonValueKind.String:
                string? text;
                try
                {
                    text = element.GetString();
                }
                catch (InvalidOperationException)
                {
                    return "the body holds a string that is not valid UTF-16/UTF-8";
                }

                return IsStorable(text) ? null : "the body holds a string that cannot be stored (NUL character or invalid UTF-16)";
            default:
                return null;
        }
    }

    private static bool IsStorable(string? text)
    {
        if (text is null)
        {
            return true;
        }

        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\0')
            {
                return false;
            }

            if (char.IsHighSurrogate(c))
            {
                if (i + 1 >= text.Length || !char.IsLowSurrogate(text[i + 1]))
                {
                    return false;
                }

                i++;
            }
            else if (char.IsLowSurrogate(c))
            {
                return false;
            }
        }

        return true;
    }
}
