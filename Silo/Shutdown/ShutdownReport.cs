namespace MeshHook.Silo.Shutdown;

/// <summary>What one silo stop did; logged, recorded as metrics and stored in meshhook_shutdowns. Holds no payload, header or secret.</summary>
public sealed record ShutdownReport(
    string SiloName,
    string SiloAddress,
    DateTimeOffset StartedAt,
    DateTimeOffset FinishedAt,
    TimeSpan Duration,
    TimeSpan Drain,
    TimeSpan HandOff,
    TimeSpan Hooks,
    int StepsCompleted,
    int StepsInterrupted,
    int RunsHandedOff,
    int HooksFailed,
    bool Forced);
