using System.Diagnostics;

namespace MeshHook.Grains.Runs;

/// <summary>
/// The engine's spans (<see cref="SourceName"/>): one per step, carrying the run, the node, its type and its outcome.
/// An activity exists only while a tracer listens (the programs add one when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is
/// set); then an http_call's request carries the step's W3C <c>traceparent</c>. No payload, header value or secret is
/// ever an attribute.
/// </summary>
public static class RunTracing
{
    public const string SourceName = "MeshHook.Runs";

    public static readonly ActivitySource Source = new(SourceName);

    /// <summary>A span for one step; null when nothing listens.</summary>
    public static Activity? StartStep(Guid runId, Definitions.WorkflowNode node)
    {
        var activity = Source.StartActivity($"step {node.Type}");
        activity?.SetTag("meshhook.run_id", runId.ToString());
        activity?.SetTag("meshhook.node_id", node.Id);
        activity?.SetTag("meshhook.node_type", node.Type);
        return activity;
    }
}
