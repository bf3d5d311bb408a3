using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Net.Http.Headers;
using System.Text;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace MeshHook.Grains.Steps;

/// <summary>Reads an http_call's response into the step's output: a capped buffered body, its headers, its JSON or text.</summary>
internal static class HttpResponses
{
    /// <summary>Reads the body within the attempt (so the per-attempt timeout covers it) into a capped, buffered content.</summary>
    public static async Task BufferContentAsync(HttpResponseMessage response, int maxBytes, CancellationToken cancellationToken)
    {
        var original = response.Content;
        if (original.Headers.ContentLength > maxBytes)
        {
            throw new ResponseBodyTooLargeException(maxBytes);
        }

        byte[] body;
        try
        {
            await using var stream = await original.ReadAsStreamAsync(cancellationToken);
            using var buffer = new MemoryStream();
            var chunk = ArrayPool<byte>.Shared.Rent(16 * 1024);
            try
            {
                int read;
                while ((read = await stream.ReadAsync(chunk, cancellationToken)) > 0)
                {
                    if (buffer.Length + read > maxBytes)
                    {
                        throw new ResponseBodyTooLargeException(maxBytes);
                    }

                    buffer.Write(chunk, 0, read);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(chunk);
            }

            body = buffer.ToArray();
        }
        catch (HttpIOException e)
        {
            // A connection lost mid-body is a network error like any other: retryable.
            throw new HttpRequestException(e.HttpRequestError, "reading the response body failed", e);
        }
        catch (IOException e)
        {
            throw new HttpRequestException(HttpRequestError.Unknown, "reading the response body failed", e);
        }

        var buffered = new ByteArrayContent(body);
        foreach (var header in original.Headers)
        {
            buffered.Headers.TryAddWithoutValidation(header.Key, header.Value);
        }

        response.Content = buffered;
        original.Dispose();
    }

    /// <summary>The response's headers (content headers included), names lower-cased, repeated ones joined with ", ".</summary>
    public static JObject Headers(HttpResponseMessage response)
    {
        var headers = new JObject();
        foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
        {
            var key = name.ToLowerInvariant();
            var value = string.Join(", ", values);
            headers[key] = headers[key] is JValue { Type: JTokenType.String } existing ? $"{existing.Value<string>()}, {value}" : value;
        }

        return headers;
    }

    /// <summary>The body as JSON when it says it is JSON and parses, else as text; null when empty.</summary>
    public static async Task<JToken> BodyAsync(HttpContent content)
    {
        var bytes = await content.ReadAsByteArrayAsync();
        if (bytes.Length == 0)
        {
            return JValue.CreateNull();
        }

        var contentType = content.Headers.ContentType;
        string text;
        using (var reader = new StreamReader(new MemoryStream(bytes), EncodingOf(contentType), detectEncodingFromByteOrderMarks: true))
        {
            text = await reader.ReadToEndAsync();
        }

        return IsJson(contentType) && TryParseJson(text, out var json) ? json : new JValue(text);
    }

    private static Encoding EncodingOf(MediaTypeHeaderValue? contentType)
    {
        var charset = contentType?.CharSet?.Trim('"');
        if (string.IsNullOrEmpty(charset))
        {
            return Encoding.UTF8;
        }

        try
        {
            return Encoding.GetEncoding(charset);
        }
        catch (ArgumentException)
        {
            return Encoding.UTF8;
        }
    }

    private static bool IsJson(MediaTypeHeaderValue? contentType) =>
        contentType?.MediaType is { } mediaType
        && (mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || mediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase));

    private static bool TryParseJson(string text, [NotNullWhen(true)] out JToken? json)
    {
        try
        {
            // DateParseHandling.None: a peer's "2024-01-01T00:00:00Z" stays the string it sent.
            using var reader = new JsonTextReader(new StringReader(text)) { DateParseHandling = DateParseHandling.None, MaxDepth = 128 };
            json = JToken.ReadFrom(reader);
            if (reader.Read())
            {
                json = null;
                return false;
            }

            return true;
        }
        catch (JsonException)
        {
            json = null;
            return false;
        }
    }
}

/// <summary>A response body over the step's limit; the step fails with its message.</summary>
internal sealed class ResponseBodyTooLargeException(int maxBytes) : Exception($"response body exceeds the {maxBytes} byte limit");
