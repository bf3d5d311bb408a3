using System.Text.Json;

namespace MeshHook.Grains.Definitions;

/// <summary>Reads the fields of one node's data object, recording a problem for each missing or malformed field.</summary>
/// <remarks>
/// Readers never stop at a bad field, so one pass reports them all; a caller tells whether a node was
/// valid by whether the problem list grew. JSON null counts as absent, as editors write null for an unset field.
/// </remarks>
internal sealed class NodeDataReader(string nodeId, JsonElement? data, string path, List<DefinitionProblem> problems)
{
    /// <summary>A reader over a nested object field (e.g. data.retry), sharing this reader's node and problems.</summary>
    public NodeDataReader? Object(string name)
    {
        if (!TryGet(name, out var value))
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            Problem($"{Field(name)} must be an object");
            return null;
        }

        return new NodeDataReader(nodeId, value, Field(name), problems);
    }

    /// <summary>The field as a JSON object's properties, in definition order; null when absent or not an object.</summary>
    public IReadOnlyList<JsonProperty>? Properties(string name)
    {
        if (!TryGet(name, out var value))
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            Problem($"{Field(name)} must be an object");
            return null;
        }

        return [.. value.EnumerateObject()];
    }

    public string? String(string name, bool required)
    {
        if (!TryGet(name, out var value))
        {
            if (required)
            {
                Problem($"{Field(name)} is required");
            }

            return null;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            Problem($"{Field(name)} must be a string");
            return null;
        }

        return value.GetString();
    }

    public JmesExpression? Expression(string name, bool required)
    {
        var text = String(name, required);
        return text is null ? null : CompileExpression(Field(name), text);
    }

    /// <summary>Compiles <paramref name="text"/> as JMESPath, naming <paramref name="field"/> in any problem.</summary>
    public JmesExpression? CompileExpression(string field, string text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            Problem($"{field} must not be empty");
            return null;
        }

        if (!JmesExpression.TryCompile(text, out var expression, out var error))
        {
            Problem($"{field} is not valid JMESPath: {error}");
            return null;
        }

        return expression;
    }

    /// <summary>An integer field within [min, max]; <paramref name="fallback"/> null makes it required.</summary>
    /// <returns>The value, the fallback when absent, or null when the field is wrong (a problem was recorded).</returns>
    public long? Integer(string name, long min, long max, long? fallback)
    {
        if (!TryGet(name, out var value))
        {
            if (fallback is null)
            {
                Problem($"{Field(name)} is required");
            }

            return fallback;
        }

        // TryGetInt64 refuses fractions and exponents, so 1.5 and 1e3 are refused rather than rounded.
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var number) || number < min || number > max)
        {
            Problem($"{Field(name)} must be an integer from {min} to {max}");
            return null;
        }

        return number;
    }

    /// <summary>How many problems the definition has so far (this node's and others').</summary>
    public int ProblemCount => problems.Count;

    public void Problem(string message) => problems.Add(new DefinitionProblem(nodeId, message));

    public string Field(string name) => $"{path}.{name}";

    private bool TryGet(string name, out JsonElement value)
    {
        if (data is { } element && element.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null)
        {
            return true;
        }

        value = default;
        return false;
    }
}
