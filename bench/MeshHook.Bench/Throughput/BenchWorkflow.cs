using System.Text;

namespace MeshHook.Bench.Throughput;

/// <summary>A workflow the throughput benchmark can run (<c>--workflow</c>).</summary>
/// <param name="Name">Its name on the command line.</param>
/// <param name="Description">What the report says it is.</param>
/// <param name="Steps">Nodes a run executes; every one is a step (the webhook and terminate included).</param>
/// <param name="Definition">The definition, with its calls pointed at the bench's sink.</param>
public sealed record BenchWorkflow(string Name, string Description, int Steps, Func<Uri, string> Definition)
{
    /// <summary>How many calls <see cref="Chain20"/> makes in a row.</summary>
    public const int ChainLength = 20;

    /// <summary>The sink answers requests under this path with a body of about 2 KB (<see cref="ChainAnswer"/>).</summary>
    public const string ChainPath = "/chain";

    public static readonly BenchWorkflow Linear = new(
        "linear", "webhook → transform → http_call (local sink) → terminate", LinearWorkflow.Steps, LinearWorkflow.Definition);

    /// <summary>
    /// A long run: 20 http_calls in a chain, each sending the previous answer's body and getting about 2 KB back, so a
    /// run's outputs grow to about 45 KB. The cost per step must not grow with the run's length.
    /// </summary>
    public static readonly BenchWorkflow Chain20 = new(
        "chain20", $"webhook → {ChainLength} × http_call (local sink, ~2 KB answers) → terminate", ChainLength + 2, ChainDefinition);

    /// <summary>The body the sink answers on <see cref="ChainPath"/>: about 2 KB of JSON.</summary>
    public static readonly string ChainAnswer = $$"""{"ok":true,"data":"{{new string('x', 2000)}}"}""";

    public static BenchWorkflow Parse(string name) => name switch
    {
        "linear" => Linear,
        "chain20" => Chain20,
        _ => throw new ArgumentException($"unknown workflow '{name}' (linear, chain20)"),
    };

    private static string ChainDefinition(Uri sink)
    {
        var nodes = new StringBuilder("""{"id": "hook", "type": "webhook"}""");
        var edges = new StringBuilder();
        var previous = "hook";
        for (var i = 1; i <= ChainLength; i++)
        {
            var id = $"c{i}";
            var body = i == 1 ? "trigger.body" : $"steps.{previous}.body";
            nodes.Append($$$""", {"id": "{{{id}}}", "type": "http_call", "data": {"method": "POST", "url": "{{{new Uri(sink, ChainPath)}}}", "body": "{{{body}}}"}}""");
            edges.Append($$"""{"source": "{{previous}}", "target": "{{id}}"}, """);
            previous = id;
        }

        nodes.Append(""", {"id": "end", "type": "terminate", "data": {"status": "succeeded"}}""");
        edges.Append($$"""{"source": "{{previous}}", "target": "end"}""");
        return $$"""{"nodes": [{{nodes}}], "edges": [{{edges}}]}""";
    }
}
