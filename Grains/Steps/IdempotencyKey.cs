namespace MeshHook.Grains.Steps;

/// <summary>The Idempotency-Key every http_call sends: the same on every attempt, resume and silo.</summary>
public static class IdempotencyKey
{
    public const string HeaderName = "Idempotency-Key";

    public static string For(Guid runId, string nodeId) => $"mh-{runId}-{nodeId}";
}
