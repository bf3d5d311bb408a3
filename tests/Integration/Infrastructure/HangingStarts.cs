using System.Collections.Concurrent;
using MeshHook.Grains;
using Microsoft.Extensions.DependencyInjection;

namespace MeshHook.Tests.Integration.Infrastructure;

/// <summary>
/// An outgoing call filter that, once switched on in a silo, holds every <c>IWorkflowRunGrain.StartAsync</c> that silo
/// makes and never lets it through, whatever cancellation says: a start stuck as one is while Orleans' placement retries
/// a dead silo's directory partition. The grain never gets the call, so nothing of it lives on the silo.
/// </summary>
public sealed class HangingStarts : IOutgoingGrainCallFilter
{
    public const string EnableKey = "MeshHookTests:HangingStarts";

    private volatile bool _on;

    /// <summary>Runs whose start is being held.</summary>
    public ConcurrentBag<GrainId> Held { get; } = [];

    public static void Register(IServiceCollection services)
    {
        services.AddSingleton<HangingStarts>();
        services.AddSingleton<IOutgoingGrainCallFilter>(sp => sp.GetRequiredService<HangingStarts>());
    }

    public void SwitchOn() => _on = true;

    public Task Invoke(IOutgoingGrainCallContext context)
    {
        if (_on && context.InterfaceMethod?.Name == nameof(IWorkflowRunGrain.StartAsync))
        {
            Held.Add(context.TargetId);
            return Task.Delay(Timeout.Infinite, CancellationToken.None);
        }

        return context.Invoke();
    }
}
