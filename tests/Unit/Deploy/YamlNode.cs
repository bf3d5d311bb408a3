using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.Serialization;

namespace MeshHook.Tests.Unit.Deploy;

/// <summary>A read-only view of a parsed YAML node: a missing key or index gives a missing node instead of throwing.</summary>
public readonly record struct YamlNode(object? Value)
{
    public static YamlNode Missing => new(null);

    /// <summary>Every document of a (multi-document) YAML text; an empty document is skipped.</summary>
    public static IReadOnlyList<YamlNode> Documents(string text)
    {
        var deserializer = new DeserializerBuilder().Build();
        var parser = new Parser(new StringReader(text));
        parser.Consume<StreamStart>();
        var documents = new List<YamlNode>();
        while (parser.Accept<DocumentStart>(out _))
        {
            var value = deserializer.Deserialize<object?>(parser);
            if (value is not null)
            {
                documents.Add(new YamlNode(value));
            }
        }

        return documents;
    }

    public bool IsMissing => Value is null;

    public YamlNode this[string key] =>
        Value is IDictionary<object, object?> map && map.TryGetValue(key, out var child) ? new YamlNode(child) : Missing;

    public YamlNode this[int index] =>
        Value is IList<object?> list && index >= 0 && index < list.Count ? new YamlNode(list[index]) : Missing;

    /// <summary>The items of a sequence (none for anything else).</summary>
    public IEnumerable<YamlNode> Items => Value is IList<object?> list ? list.Select(v => new YamlNode(v)) : [];

    /// <summary>The entries of a mapping (none for anything else).</summary>
    public IEnumerable<KeyValuePair<string, YamlNode>> Entries =>
        Value is IDictionary<object, object?> map ? map.Select(e => new KeyValuePair<string, YamlNode>(e.Key.ToString() ?? "", new YamlNode(e.Value))) : [];

    public bool IsSequence => Value is IList<object?>;

    /// <summary>The scalar's text (null for a missing node, a mapping or a sequence).</summary>
    public string? Text => Value as string;

    public int? Int => int.TryParse(Text, out var value) ? value : null;

    public bool? Bool => bool.TryParse(Text, out var value) ? value : null;
}
