namespace MeshHook.Gateway;

/// <summary>The gateway's log messages. Bodies, signatures, secrets and header values are never logged.</summary>
internal static partial class GatewayLog
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} of '{Slug}' stored (new: {Created})")]
    public static partial void RunStored(ILogger logger, Guid runId, string slug, bool created);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId} stays queued: no silo started it now ({Reason}); the recovery sweep will")]
    public static partial void StartDeferred(ILogger logger, Guid runId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook for '{Slug}' refused: missing or invalid signature")]
    public static partial void SignatureRejected(ILogger logger, string slug);

    [LoggerMessage(Level = LogLevel.Error, Message = "Postgres is unavailable during {Operation} ({ExceptionType}: {Reason})")]
    public static partial void StoreUnavailable(ILogger logger, string operation, string exceptionType, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The cluster is unavailable during {Operation} ({Reason})")]
    public static partial void ClusterUnavailable(ILogger logger, string operation, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Secret '{Name}' stored (new: {Created})")]
    public static partial void SecretStored(ILogger logger, string name, bool created);

    [LoggerMessage(Level = LogLevel.Information, Message = "Secret '{Name}' deleted")]
    public static partial void SecretDeleted(ILogger logger, string name);

    [LoggerMessage(Level = LogLevel.Information, Message = "Workflow '{Slug}' version {Version} published")]
    public static partial void WorkflowPublished(ILogger logger, string slug, int version);
}
