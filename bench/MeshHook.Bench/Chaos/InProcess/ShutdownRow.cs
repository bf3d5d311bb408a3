namespace MeshHook.Bench.Chaos.InProcess;

/// <summary>A row of meshhook_shutdowns, as the soak compares it with the coordinator's report.</summary>
public sealed record ShutdownRow(string SiloAddress, bool Forced, int RunsHandedOff, int StepsInterrupted);
