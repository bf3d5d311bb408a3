using System.Text.Json;
using System.Text.Json.Serialization;

namespace MeshHook.Gateway.Api;

/// <summary>
/// Body of <c>PUT /api/workflows/{slug}</c>. <paramref name="TimestampedSignature"/> (needs a secret): webhooks must carry
/// <c>X-Signature-Timestamp</c> and sign <c>"&lt;timestamp&gt;.&lt;body&gt;"</c>; a timestamp over 5 minutes off is refused.
/// </summary>
public sealed record PublishWorkflowRequest(string Name, JsonElement Definition, string? Secret, bool? TimestampedSignature);

/// <summary>Body of <c>PUT /api/secrets/{name}</c>: the secret, 1 to 8192 printable ASCII characters.</summary>
public sealed record PutSecretRequest(string Value);

/// <summary>Answer of a publish: the new version.</summary>
public sealed record WorkflowPublished(string Slug, int Version);

/// <summary>The latest version of a workflow (never its secret); whether its webhooks must carry a timestamped signature.</summary>
public sealed record WorkflowResponse(string Slug, int Version, string Name, JsonElement Definition, bool TimestampedSignature);

/// <summary>Answer of webhook intake: the stored run.</summary>
public sealed record RunAccepted(Guid RunId);

/// <summary>A run with its steps; status texts are lower case (queued, running, succeeded, …).</summary>
public sealed record RunResponse(
    Guid RunId,
    string Slug,
    int Version,
    string Status,
    IReadOnlyList<StepResponse> Steps,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] JsonElement? Output,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Error);

/// <summary>One step of a run.</summary>
public sealed record StepResponse(string NodeId, string Status, int Attempts);

/// <summary>One entry of a run's history.</summary>
public sealed record RunEventResponse(int Seq, DateTimeOffset Ts, string Type, JsonElement Payload);

/// <summary>One problem in a 4xx/5xx answer's <c>errors</c> list; <see cref="NodeId"/> names the workflow node it concerns.</summary>
public sealed record ApiError(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? NodeId,
    string Message);
