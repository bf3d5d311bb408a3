namespace MeshHook.Grains.Definitions;

/// <summary>A definition's graph as far as it could be read; checks the rules that need the whole graph.</summary>
/// <remarks>
/// Nodes with an unknown type or bad data are still part of the graph, so their edges, cycles and reachability
/// are judged like any other's. Edges into a trigger are left out of cycles and reachability: they are reported
/// once on their own, not again as the cycle they usually close.
/// </remarks>
internal sealed class DefinitionGraph
{
    private readonly IReadOnlyList<GraphNode> _nodes;
    private readonly Dictionary<string, int> _index;
    private readonly List<WorkflowEdge>[] _outgoing;
    private readonly List<int>[] _successors;

    public DefinitionGraph(IReadOnlyList<GraphNode> nodes, IReadOnlyList<WorkflowEdge> edges)
    {
        _nodes = nodes;
        _index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < nodes.Count; i++)
        {
            _index.Add(nodes[i].Id, i);
        }

        _outgoing = [.. nodes.Select(_ => new List<WorkflowEdge>())];
        _successors = [.. nodes.Select(_ => new List<int>())];
        foreach (var edge in edges)
        {
            var source = _index[edge.Source];
            var target = _index[edge.Target];
            _outgoing[source].Add(edge);
            if (nodes[target].Type != WebhookNode.TypeName)
            {
                _successors[source].Add(target);
            }
        }
    }

    /// <summary>Adds, in this order: outgoing-edge problems per node, cycles, unreachable nodes.</summary>
    public void Check(List<DefinitionProblem> problems)
    {
        CheckOutgoing(problems);
        CheckCycles(problems);
        CheckReachability(problems);
    }

    private void CheckOutgoing(List<DefinitionProblem> problems)
    {
        for (var i = 0; i < _nodes.Count; i++)
        {
            var node = _nodes[i];
            var outgoing = _outgoing[i];
            switch (node.Type)
            {
                case BranchNode.TypeName when outgoing.Count == 0:
                    problems.Add(new(node.Id, "branch has no outgoing edges"));
                    break;
                case BranchNode.TypeName:
                    foreach (var label in (string[])[BranchNode.TrueLabel, BranchNode.FalseLabel])
                    {
                        if (outgoing.Count(e => e.Label == label) > 1)
                        {
                            problems.Add(new(node.Id, $"branch has more than one edge labelled '{label}'"));
                        }
                    }

                    break;
                case TerminateNode.TypeName when outgoing.Count > 0:
                    problems.Add(new(node.Id, "terminate node cannot have outgoing edges"));
                    break;
            }
        }
    }

    private void CheckCycles(List<DefinitionProblem> problems)
    {
        foreach (var component in StronglyConnectedComponents())
        {
            var start = component.Min();
            if (component.Count == 1 && !_successors[start].Contains(start))
            {
                continue;
            }

            var cycle = ShortestCycleThrough(start, component);
            problems.Add(new(_nodes[start].Id, "cycle: " + string.Join(" -> ", cycle.Select(n => _nodes[n].Id))));
        }
    }

    private void CheckReachability(List<DefinitionProblem> problems)
    {
        var roots = Enumerable.Range(0, _nodes.Count).Where(i => _nodes[i].Type == WebhookNode.TypeName).ToList();
        if (roots.Count == 0)
        {
            // Without a trigger every node would be "unreachable"; the missing trigger is already reported.
            return;
        }

        var reached = new bool[_nodes.Count];
        var queue = new Queue<int>(roots);
        foreach (var root in roots)
        {
            reached[root] = true;
        }

        while (queue.TryDequeue(out var current))
        {
            foreach (var next in _successors[current].Where(next => !reached[next]))
            {
                reached[next] = true;
                queue.Enqueue(next);
            }
        }

        for (var i = 0; i < _nodes.Count; i++)
        {
            if (!reached[i])
            {
                problems.Add(new(_nodes[i].Id, "node is not reachable from the trigger"));
            }
        }
    }

    /// <summary>Tarjan's algorithm; components come back ordered by their earliest node in definition order.</summary>
    private List<HashSet<int>> StronglyConnectedComponents()
    {
        var order = new int[_nodes.Count];
        var low = new int[_nodes.Count];
        var onStack = new bool[_nodes.Count];
        var stack = new Stack<int>();
        var components = new List<HashSet<int>>();
        var counter = 0;
        Array.Fill(order, -1);

        // Recursion depth is bounded by the node limit the validator enforces before building the graph.
        void Visit(int node)
        {
            order[node] = low[node] = counter++;
            stack.Push(node);
            onStack[node] = true;
            foreach (var next in _successors[node])
            {
                if (order[next] < 0)
                {
                    Visit(next);
                    low[node] = Math.Min(low[node], low[next]);
                }
                else if (onStack[next])
                {
                    low[node] = Math.Min(low[node], order[next]);
                }
            }

            if (low[node] == order[node])
            {
                var component = new HashSet<int>();
                int member;
                do
                {
                    member = stack.Pop();
                    onStack[member] = false;
                    component.Add(member);
                }
                while (member != node);
                components.Add(component);
            }
        }

        for (var i = 0; i < _nodes.Count; i++)
        {
            if (order[i] < 0)
            {
                Visit(i);
            }
        }

        return [.. components.OrderBy(c => c.Min())];
    }

    /// <summary>The shortest path from <paramref name="start"/> back to itself inside its component, start repeated at the end.</summary>
    private List<int> ShortestCycleThrough(int start, HashSet<int> component)
    {
        var previous = new Dictionary<int, int>();
        var queue = new Queue<int>();
        queue.Enqueue(start);
        while (queue.TryDequeue(out var current))
        {
            foreach (var next in _successors[current].Where(component.Contains))
            {
                if (next == start)
                {
                    var path = new List<int> { start };
                    for (var n = current; n != start; n = previous[n])
                    {
                        path.Add(n);
                    }

                    path.Add(start);
                    path.Reverse();
                    return path;
                }

                if (previous.TryAdd(next, current))
                {
                    queue.Enqueue(next);
                }
            }
        }

        throw new InvalidOperationException("a strongly connected component has no cycle through its members");
    }
}

/// <summary>A node as the graph sees it: its id and its type when the type is known.</summary>
internal sealed record GraphNode(string Id, string? Type);
