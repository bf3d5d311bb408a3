using System.Text.Json;

namespace MeshHook.Grains.Definitions;

/// <summary>Turns a workflow definition's JSON into a <see cref="Workflow"/>, or reports every problem with it at once.</summary>
/// <remarks>
/// Problems come in a fixed order, each group in definition order: the document's shape, then each node
/// (id, type, data), the trigger count, each edge, then graph rules (branch and terminate edges, cycles,
/// reachability). Unknown properties are ignored, because the editor stores its own (positions, styles) beside ours.
/// </remarks>
public static class DefinitionValidator
{
    /// <summary>The most nodes a definition may have; bounds the work and the size of a problem list.</summary>
    public const int MaxNodes = 500;

    /// <summary>The most edges a definition may have.</summary>
    public const int MaxEdges = 2000;

    /// <summary>The longest node id; ids are part of the Idempotency-Key header and of run history.</summary>
    public const int MaxNodeIdLength = 128;

    private const string BranchTrue = BranchNode.TrueLabel;
    private const string BranchFalse = BranchNode.FalseLabel;

    /// <summary>Validates a definition given as JSON text.</summary>
    public static DefinitionResult Validate(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            // The parser's own wording changes between runtimes; the position is what helps and stays stable.
            var line = (e.LineNumber ?? 0) + 1;
            var position = (e.BytePositionInLine ?? 0) + 1;
            return Invalid([new(null, $"definition is not valid JSON (line {line}, position {position})")]);
        }

        using (document)
        {
            return Validate(document.RootElement);
        }
    }

    /// <summary>Validates a definition already parsed; the result holds nothing of <paramref name="definition"/>.</summary>
    public static DefinitionResult Validate(JsonElement definition)
    {
        if (definition.ValueKind != JsonValueKind.Object)
        {
            return Invalid([new(null, "definition must be a JSON object")]);
        }

        var problems = new List<DefinitionProblem>();
        var nodesJson = ReadArray(definition, "nodes", problems);
        var edgesJson = ReadArray(definition, "edges", problems);

        var nodeCount = nodesJson?.GetArrayLength() ?? 0;
        var edgeCount = edgesJson?.GetArrayLength() ?? 0;
        if (nodeCount > MaxNodes)
        {
            problems.Add(new(null, $"workflow has {nodeCount} nodes; at most {MaxNodes} are allowed"));
        }

        if (edgeCount > MaxEdges)
        {
            problems.Add(new(null, $"workflow has {edgeCount} edges; at most {MaxEdges} are allowed"));
        }

        if (nodeCount > MaxNodes || edgeCount > MaxEdges)
        {
            // The limit exists to bound the work: looking further would do the work it refuses.
            return Invalid(problems);
        }

        var nodes = nodesJson is { } nodeArray ? ReadNodes(nodeArray, problems) : null;
        if (nodes is not null)
        {
            CheckTriggerCount(nodes, problems);
        }

        var edges = edgesJson is { } edgeArray ? ReadEdges(edgeArray, nodes, problems) : null;

        // Graph rules judged on half a graph would only add noise (every node "unreachable" without edges).
        if (nodes is not null && edges is not null)
        {
            new DefinitionGraph([.. nodes.Select(n => new GraphNode(n.Id, n.Type))], edges).Check(problems);
        }

        if (problems.Count > 0)
        {
            return Invalid(problems);
        }

        return new DefinitionResult(new Workflow([.. nodes!.Select(n => n.Node!)], edges!), []);
    }

    private static DefinitionResult Invalid(List<DefinitionProblem> problems) => new(null, problems.AsReadOnly());

    private static JsonElement? ReadArray(JsonElement definition, string name, List<DefinitionProblem> problems)
    {
        if (!definition.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            problems.Add(new(null, $"{name} is required"));
            return null;
        }

        if (value.ValueKind != JsonValueKind.Array)
        {
            problems.Add(new(null, $"{name} must be an array"));
            return null;
        }

        return value;
    }

    private static List<ReadNode> ReadNodes(JsonElement array, List<DefinitionProblem> problems)
    {
        var nodes = new List<ReadNode>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var index = 0;
        foreach (var element in array.EnumerateArray())
        {
            var at = $"nodes[{index++}]";
            if (element.ValueKind != JsonValueKind.Object)
            {
                problems.Add(new(null, $"{at} must be an object"));
                continue;
            }

            var id = ReadNodeId(element, at, problems);
            if (id is null)
            {
                continue;
            }

            // The first node with an id keeps it; a later one cannot be told apart by id, so its content is not judged.
            if (!seen.Add(id))
            {
                problems.Add(new(id, $"duplicate node id '{id}'"));
                continue;
            }

            if (!IsWellFormedId(id))
            {
                problems.Add(new(id, $"id must be 1 to {MaxNodeIdLength} printable ASCII characters without spaces (it is part of the Idempotency-Key header)"));
            }

            var type = ReadNodeType(element, id, problems);
            WorkflowNode? node = null;
            if (type is not null)
            {
                var hasData = element.TryGetProperty("data", out var data) && data.ValueKind != JsonValueKind.Null;
                if (hasData && data.ValueKind != JsonValueKind.Object && type != WebhookNode.TypeName)
                {
                    problems.Add(new(id, "data must be an object"));
                }
                else
                {
                    node = NodeParser.Parse(id, type, hasData ? data : null, problems);
                }
            }

            nodes.Add(new ReadNode(id, type, node));
        }

        return nodes;
    }

    private static string? ReadNodeId(JsonElement node, string at, List<DefinitionProblem> problems)
    {
        if (!node.TryGetProperty("id", out var id) || id.ValueKind == JsonValueKind.Null)
        {
            problems.Add(new(null, $"{at}.id is required"));
            return null;
        }

        if (id.ValueKind != JsonValueKind.String)
        {
            problems.Add(new(null, $"{at}.id must be a string"));
            return null;
        }

        var text = id.GetString()!;
        if (text.Length == 0)
        {
            problems.Add(new(null, $"{at}.id must not be empty"));
            return null;
        }

        return text;
    }

    /// <summary>The node's type when it is a known one; otherwise records why not and returns null.</summary>
    private static string? ReadNodeType(JsonElement node, string id, List<DefinitionProblem> problems)
    {
        if (!node.TryGetProperty("type", out var type) || type.ValueKind == JsonValueKind.Null)
        {
            problems.Add(new(id, "type is required"));
            return null;
        }

        if (type.ValueKind != JsonValueKind.String)
        {
            problems.Add(new(id, "type must be a string"));
            return null;
        }

        var text = type.GetString()!;
        if (!NodeParser.IsKnownType(text))
        {
            problems.Add(new(id, $"unknown node type '{text}'"));
            return null;
        }

        return text;
    }

    private static bool IsWellFormedId(string id) =>
        id.Length <= MaxNodeIdLength && id.All(c => c is > ' ' and < '\u007f');

    private static void CheckTriggerCount(List<ReadNode> nodes, List<DefinitionProblem> problems)
    {
        var triggers = nodes.Count(n => n.Type == WebhookNode.TypeName);
        if (triggers == 0)
        {
            problems.Add(new(null, "workflow has no webhook trigger"));
        }
        else if (triggers > 1)
        {
            problems.Add(new(null, $"workflow has {triggers} webhook triggers; exactly one is required"));
        }
    }

    /// <summary>
    /// Reads the edges; returns those whose ends are known nodes (without duplicates), which is what the graph
    /// rules judge. With <paramref name="nodes"/> unreadable only the edges' own shape is checked.
    /// </summary>
    private static List<WorkflowEdge> ReadEdges(JsonElement array, List<ReadNode>? nodes, List<DefinitionProblem> problems)
    {
        var byId = nodes?.ToDictionary(n => n.Id, StringComparer.Ordinal);
        var edges = new List<WorkflowEdge>();
        var seen = new HashSet<WorkflowEdge>();
        var index = 0;
        foreach (var element in array.EnumerateArray())
        {
            var at = $"edges[{index++}]";
            if (element.ValueKind != JsonValueKind.Object)
            {
                problems.Add(new(null, $"{at} must be an object"));
                continue;
            }

            var sourceId = ReadEdgeEnd(element, at, "source", problems);
            var targetId = ReadEdgeEnd(element, at, "target", problems);
            var labelRead = TryReadLabel(element, at, problems, out var label);
            if (sourceId is null || targetId is null || !labelRead || byId is null)
            {
                continue;
            }

            var source = byId.GetValueOrDefault(sourceId);
            var target = byId.GetValueOrDefault(targetId);
            if (source is null)
            {
                problems.Add(new(null, $"{at}: unknown source node '{sourceId}'"));
            }

            if (target is null)
            {
                problems.Add(new(source?.Id, $"{at}: unknown target node '{targetId}'"));
            }

            if (source is null || target is null)
            {
                continue;
            }

            var edge = new WorkflowEdge(sourceId, targetId, label);
            var name = $"edge {sourceId} -> {targetId}";
            if (!seen.Add(edge))
            {
                problems.Add(new(sourceId, $"duplicate {name}"));
                continue;
            }

            if (target.Type == WebhookNode.TypeName)
            {
                problems.Add(new(targetId, $"the trigger cannot have incoming edges ({name})"));
            }

            if (source.Type == BranchNode.TypeName)
            {
                if (label is null)
                {
                    problems.Add(new(sourceId, $"{name} needs label '{BranchTrue}' or '{BranchFalse}'"));
                }
                else if (label is not (BranchTrue or BranchFalse))
                {
                    problems.Add(new(sourceId, $"{name} has label '{label}'; a branch's edges are labelled '{BranchTrue}' or '{BranchFalse}'"));
                }
            }
            else if (label is not null && source.Type is not null)
            {
                problems.Add(new(sourceId, $"{name} is labelled '{label}', but only a branch's edges carry labels"));
            }

            edges.Add(edge);
        }

        return edges;
    }

    private static string? ReadEdgeEnd(JsonElement edge, string at, string name, List<DefinitionProblem> problems)
    {
        if (!edge.TryGetProperty(name, out var end) || end.ValueKind == JsonValueKind.Null)
        {
            problems.Add(new(null, $"{at}.{name} is required"));
            return null;
        }

        if (end.ValueKind != JsonValueKind.String)
        {
            problems.Add(new(null, $"{at}.{name} must be a string"));
            return null;
        }

        return end.GetString();
    }

    /// <summary>Reads the optional label; null and "" both mean none, as editors write either for a plain edge.</summary>
    private static bool TryReadLabel(JsonElement edge, string at, List<DefinitionProblem> problems, out string? label)
    {
        label = null;
        if (!edge.TryGetProperty("label", out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return true;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            problems.Add(new(null, $"{at}.label must be a string"));
            return false;
        }

        var text = value.GetString()!;
        label = text.Length == 0 ? null : text;
        return true;
    }

    /// <summary>A node as read: its id, its type when known, and its typed form when its data was valid.</summary>
    private sealed record ReadNode(string Id, string? Type, WorkflowNode? Node);
}
