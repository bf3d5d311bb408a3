using System.Text.Json;
using MeshHook.Gateway.Cluster;
using MeshHook.Gateway.Hosting;
using MeshHook.Gateway.Security;
using MeshHook.Grains;
using MeshHook.Grains.Runs;
using Microsoft.Extensions.Options;

namespace MeshHook.Gateway.Api;

/// <summary>
/// A run's view (from its grain), its history (from Postgres) and cancel. A malformed or unknown id answers 404;
/// 503 with Retry-After when no silo (or Postgres, for the history) can answer now.
/// </summary>
public static class RunsApi
{
    public static IEndpointRouteBuilder MapRunsApi(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/api/runs/{runId}", GetAsync)
            .WithName("GetRun")
            .RequireApiKey()
            .WithTags("Runs")
            .WithSummary("A run's status, its steps, and its output or error")
            .Produces<RunResponse>()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        routes.MapGet("/api/runs/{runId}/events", GetEventsAsync)
            .WithName("GetRunEvents")
            .RequireApiKey()
            .WithTags("Runs")
            .WithSummary("A run's history in order")
            .Produces<IReadOnlyList<RunEventResponse>>()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        routes.MapPost("/api/runs/{runId}/cancel", CancelAsync)
            .WithName("CancelRun")
            .RequireApiKey()
            .WithTags("Runs")
            .WithSummary("Cancels a run; a finished run is left as it is")
            .Produces<RunResponse>(StatusCodes.Status202Accepted)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        return routes;
    }

    private static Task<IResult> GetAsync(string runId, HttpContext context, GrainCalls grains, IOptions<GatewayOptions> options, ILoggerFactory loggers, CancellationToken cancellationToken) =>
        CallRunAsync(runId, context, grains, options, loggers, "read run", g => g.GetViewAsync(), view => TypedResults.Ok(ToResponse(view)), cancellationToken);

    private static Task<IResult> CancelAsync(string runId, HttpContext context, GrainCalls grains, IOptions<GatewayOptions> options, ILoggerFactory loggers, CancellationToken cancellationToken) =>
        CallRunAsync(runId, context, grains, options, loggers, "cancel run", g => g.CancelAsync(), view => TypedResults.Accepted($"/api/runs/{view.RunId}", ToResponse(view)), cancellationToken);

    private static async Task<IResult> CallRunAsync(
        string runId,
        HttpContext context,
        GrainCalls grains,
        IOptions<GatewayOptions> options,
        ILoggerFactory loggers,
        string operation,
        Func<IWorkflowRunGrain, Task<RunView>> call,
        Func<RunView, IResult> answer,
        CancellationToken cancellationToken)
    {
        if (!TryParseRunId(runId, out var id))
        {
            return NotFound(runId);
        }

        try
        {
            return answer(await grains.CallAsync(g => call(g.GetGrain<IWorkflowRunGrain>(id)), cancellationToken));
        }
        catch (RunNotFoundException)
        {
            return NotFound(runId);
        }
        catch (ClusterUnavailableException e)
        {
            GatewayLog.ClusterUnavailable(loggers.CreateLogger(typeof(RunsApi).FullName!), operation, e.Message);
            return ApiProblems.Unavailable(context, options.Value.RetryAfterSeconds, "no silo can answer for the run now; retry later");
        }
    }

    private static async Task<IResult> GetEventsAsync(string runId, HttpContext context, RunStore store, IOptions<GatewayOptions> options, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        if (!TryParseRunId(runId, out var id))
        {
            return NotFound(runId);
        }

        IReadOnlyList<RunEvent> events;
        try
        {
            events = await store.ReadEventsAsync(id, cancellationToken);
        }
        catch (Exception e) when (HooksApi.IsStoreUnavailable(e, cancellationToken))
        {
            return ApiProblems.StoreUnavailable(context, options.Value.RetryAfterSeconds, loggers.CreateLogger(typeof(RunsApi).FullName!), "read events", e, "the history cannot be read now; retry later");
        }

        // Every stored run has its run_created event (written with the row), so no events means no run.
        if (events.Count == 0)
        {
            return NotFound(runId);
        }

        return TypedResults.Ok(events.Select(e => new RunEventResponse(e.Seq, e.Timestamp, e.Type, ParseJson(e.PayloadJson)!.Value)).ToList());
    }

    private static bool TryParseRunId(string text, out Guid id) =>
        Guid.TryParseExact(text, "D", out id) && id != Guid.Empty;

    private static IResult NotFound(string runId) => ApiProblems.NotFound("no run with this id");

    internal static RunResponse ToResponse(RunView view) => new(
        view.RunId,
        view.Slug,
        view.Version,
        view.Status.ToText(),
        [.. view.Steps.Select(s => new StepResponse(s.NodeId, s.Status.ToText(), s.Attempts))],
        ParseJson(view.OutputJson),
        view.Error);

    private static JsonElement? ParseJson(string? json)
    {
        if (json is null)
        {
            return null;
        }

        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }
}
