using MeshHook.Grains.Definitions;
using MeshHook.Grains.Steps;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace MeshHook.Grains.Runs;

/// <summary>An event about to be appended to a run's history: its type and its payload, before it gets a seq.</summary>
public readonly record struct NewRunEvent(string Type, string PayloadJson);

/// <summary>
/// The one place the payloads of the events a run writes are shaped. Their fields are read by the app and by the
/// soak's audit (docs/README "History"), so a field renamed here is a contract change.
/// </summary>
public static class RunEvents
{
    public static NewRunEvent StepStarted(WorkflowNode node, int execution) =>
        Make(RunEventTypes.StepStarted, new JObject { ["nodeId"] = node.Id, ["type"] = node.Type, ["execution"] = execution });

    public static NewRunEvent HttpAttempted(string nodeId, HttpAttempt attempt)
    {
        var payload = new JObject
        {
            ["nodeId"] = nodeId,
            ["attempt"] = attempt.Attempt,
            ["elapsedMs"] = (long)attempt.Elapsed.TotalMilliseconds,
        };
        if (attempt.StatusCode is { } status)
        {
            payload["status"] = status;
        }

        if (attempt.Error is { } error)
        {
            payload["error"] = error;
        }

        return Make(RunEventTypes.HttpAttempted, payload);
    }

    public static NewRunEvent StepSucceeded(string nodeId, JToken output, string? branchLabel)
    {
        var payload = new JObject { ["nodeId"] = nodeId, ["output"] = output };
        if (branchLabel is not null)
        {
            payload["branch"] = branchLabel;
        }

        return Make(RunEventTypes.StepSucceeded, payload);
    }

    public static NewRunEvent StepFailed(string nodeId, string error) =>
        Make(RunEventTypes.StepFailed, new JObject { ["nodeId"] = nodeId, ["error"] = error });

    public static NewRunEvent RunCompleted(RunStatus status, string? error)
    {
        var payload = new JObject { ["status"] = status.ToText() };
        if (error is not null)
        {
            payload["error"] = error;
        }

        return Make(RunEventTypes.RunCompleted, payload);
    }

    /// <param name="nodeId">The step the cancel cut short, if one was running.</param>
    public static NewRunEvent RunCanceled(string? nodeId)
    {
        var payload = new JObject();
        if (nodeId is not null)
        {
            payload["nodeId"] = nodeId;
        }

        return Make(RunEventTypes.RunCanceled, payload);
    }

    public static NewRunEvent RunInterrupted(string nodeId, string reason, string silo) =>
        Make(RunEventTypes.RunInterrupted, new JObject { ["nodeId"] = nodeId, ["reason"] = reason, ["silo"] = silo });

    /// <param name="silo">The draining silo.</param>
    /// <param name="toSurvivor">True when the run moves to another active silo, false when it is only saved.</param>
    /// <param name="suspendedStep">
    /// A step whose start was saved but which never began on this silo: it explains that node's second step_started.
    /// </param>
    public static NewRunEvent RunHandedOff(string silo, bool toSurvivor, string? suspendedStep)
    {
        var payload = new JObject { ["silo"] = silo, ["to"] = toSurvivor ? "survivor" : "storage" };
        if (suspendedStep is not null)
        {
            payload["suspendedStep"] = suspendedStep;
        }

        return Make(RunEventTypes.RunHandedOff, payload);
    }

    /// <param name="silo">The silo the run resumes on.</param>
    /// <param name="address">That silo's Orleans address.</param>
    /// <param name="suspended">How long the run waited since a drain suspended it, when one did.</param>
    public static NewRunEvent RunResumed(string silo, string address, TimeSpan? suspended)
    {
        var payload = new JObject { ["silo"] = silo, ["address"] = address };
        if (suspended is { } waited)
        {
            payload["suspendedMs"] = (long)waited.TotalMilliseconds;
        }

        return Make(RunEventTypes.RunResumed, payload);
    }

    private static NewRunEvent Make(string type, JObject payload) => new(type, payload.ToString(Formatting.None));
}
