using System.Diagnostics;

namespace MeshHook.Grains.Runs;

/// <summary>
/// The engine's spans (<see cref="SourceName"/>): the run's creation, one span per step (run, node, type, outcome), the
/// checkpoint writes, the hand-off on a draining silo and the resume on another. An activity exists only while a tracer
/// listens (the programs add one when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set); then an http_call's request carries
/// the step's W3C <c>traceparent</c>. No payload, header value or secret is ever an attribute.
/// </summary>
/// <remarks>
/// A run keeps the trace context it was created in (<see cref="RunRecord.TraceParent"/>, workflow_runs.trace_parent).
/// Wherever the run is activated again (after a hand-off, a crash, a reminder tick), the activation's work is parented
/// on it, so a run reads as one trace from its webhook to its last step.
/// </remarks>
public static class RunTracing
{
    public const string SourceName = "MeshHook.Runs";

    public static readonly ActivitySource Source = new(SourceName);

    /// <summary>
    /// A span for the run's creation in Postgres; null when nothing listens. <paramref name="traceParent"/> is the
    /// context the run is to keep: the caller's span (the intake request), or this span when there is none.
    /// </summary>
    public static Activity? StartCreate(string slug, out string? traceParent)
    {
        var caller = Activity.Current;
        var activity = Source.StartActivity("run create", ActivityKind.Internal);
        activity?.SetTag("meshhook.slug", slug);
        traceParent = activity is null ? null : (caller ?? activity).Id;
        return activity;
    }

    /// <summary>A span for one step (its <paramref name="execution"/>-th start: a step cut off runs again); null when nothing listens.</summary>
    public static Activity? StartStep(Guid runId, Definitions.WorkflowNode node, int execution = 1)
    {
        var activity = Source.StartActivity($"step {node.Type}");
        activity?.SetTag("meshhook.run_id", runId.ToString());
        activity?.SetTag("meshhook.node_id", node.Id);
        activity?.SetTag("meshhook.node_type", node.Type);
        activity?.SetTag("meshhook.execution", execution);
        return activity;
    }

    /// <summary>A span for one checkpoint write with its retries; null when nothing listens.</summary>
    public static Activity? StartCheckpoint(Guid runId)
    {
        var activity = Source.StartActivity("run checkpoint");
        activity?.SetTag("meshhook.run_id", runId.ToString());
        return activity;
    }

    /// <summary>
    /// A span for the hand-off of a run by the draining silo <paramref name="silo"/>, in the run's trace (see remarks)
    /// and linked to the span current on the silo, if any; null when nothing listens.
    /// </summary>
    public static Activity? StartHandOff(RunRecord run, string silo) => StartInRunTrace("run hand-off", run, silo);

    /// <summary>
    /// A span for the run's resumption on <paramref name="silo"/>, in the run's trace, when the activation's current
    /// span (a grain call, a reminder tick, none) is not; null when nothing listens or none is needed. The steps of this
    /// pass are its children.
    /// </summary>
    public static Activity? StartResume(RunRecord run, string silo)
    {
        var current = Activity.Current;
        if (current is not null && TryParse(run.TraceParent, out var context) && current.TraceId == context.TraceId)
        {
            // Already inside the run's trace (the gateway's start call): its steps nest there.
            return null;
        }

        return StartInRunTrace("run resume", run, silo);
    }

    private static Activity? StartInRunTrace(string name, RunRecord run, string silo)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var current = Activity.Current;
        ActivityLink[]? links = current is null ? null : [new ActivityLink(current.Context)];
        var activity = TryParse(run.TraceParent, out var parent)
            ? Source.StartActivity(name, ActivityKind.Internal, parent, links: links)
            // A run created while tracing was off: its later work goes where the silo's current span is, if any.
            : Source.StartActivity(name);
        activity?.SetTag("meshhook.run_id", run.RunId.ToString());
        activity?.SetTag("meshhook.silo", silo);
        return activity;
    }

    private static bool TryParse(string? traceParent, out ActivityContext context)
    {
        context = default;
        return traceParent is not null && ActivityContext.TryParse(traceParent, traceState: null, isRemote: true, out context);
    }
}
