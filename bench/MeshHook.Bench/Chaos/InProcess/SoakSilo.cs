using MeshHook.Grains.Draining;
using MeshHook.Grains.Runs;
using MeshHook.Silo.Shutdown;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace MeshHook.Bench.Chaos.InProcess;

/// <summary>One in-process silo of the soak, with the parts of its graceful stop that the soak watches.</summary>
public sealed class SoakSilo
{
    public SoakSilo(InProcessSiloHandle handle)
    {
        Handle = handle;
        var services = handle.SiloHost.Services;
        var details = services.GetRequiredService<ILocalSiloDetails>();
        Name = details.Name;
        Address = details.SiloAddress.ToString();
        Coordinator = services.GetRequiredService<ShutdownCoordinator>();
        Drain = services.GetRequiredService<SiloDrain>();
    }

    public InProcessSiloHandle Handle { get; }

    /// <summary>Its name, as run events name it (unique in a soak).</summary>
    public string Name { get; }

    /// <summary>Its address with generation, as workflow_runs.silo and meshhook_shutdowns name it.</summary>
    public string Address { get; }

    public ShutdownCoordinator Coordinator { get; }

    public SiloDrain Drain { get; }

    public override string ToString() => Name;
}
