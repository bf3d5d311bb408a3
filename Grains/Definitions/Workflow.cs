namespace MeshHook.Grains.Definitions;

/// <summary>A validated workflow: its nodes in definition order, its edges, and adjacency look-ups.</summary>
public sealed class Workflow
{
    private readonly Dictionary<string, WorkflowNode> _byId;
    private readonly ILookup<string, WorkflowEdge> _outgoing;
    private readonly ILookup<string, WorkflowEdge> _incoming;

    public Workflow(IReadOnlyList<WorkflowNode> nodes, IReadOnlyList<WorkflowEdge> edges)
    {
        Nodes = nodes;
        Edges = edges;
        _byId = nodes.ToDictionary(n => n.Id, StringComparer.Ordinal);
        _outgoing = edges.ToLookup(e => e.Source, StringComparer.Ordinal);
        _incoming = edges.ToLookup(e => e.Target, StringComparer.Ordinal);
        Trigger = nodes.OfType<WebhookNode>().Single();
    }

    public IReadOnlyList<WorkflowNode> Nodes { get; }

    public IReadOnlyList<WorkflowEdge> Edges { get; }

    public WebhookNode Trigger { get; }

    public WorkflowNode this[string id] => _byId[id];

    public IEnumerable<WorkflowEdge> Outgoing(string nodeId) => _outgoing[nodeId];

    public IEnumerable<WorkflowEdge> Incoming(string nodeId) => _incoming[nodeId];
}
