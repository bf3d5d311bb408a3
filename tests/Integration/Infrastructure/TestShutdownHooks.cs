using System.Collections.Concurrent;
using MeshHook.Silo.Shutdown;
using Microsoft.Extensions.DependencyInjection;

namespace MeshHook.Tests.Integration.Infrastructure;

/// <summary>Shutdown hooks for the tests: one that records, one that throws, one that hangs past its limit.</summary>
public static class TestShutdownHooks
{
    public const string EnableKey = "MeshHookTests:ShutdownHooks";

    /// <summary>Hook names in the order they ran, across all silos of the test process.</summary>
    public static ConcurrentQueue<string> Ran { get; } = new();

    public static void Register(IServiceCollection services)
    {
        // Registered out of order on purpose: Order decides, not registration.
        services.AddSingleton<IShutdownHook>(new Hook("last", 30, TimeSpan.FromSeconds(1), _ => Task.CompletedTask));
        services.AddSingleton<IShutdownHook>(new Hook("throws", 10, TimeSpan.FromSeconds(1), _ => throw new InvalidOperationException("hook failure")));
        services.AddSingleton<IShutdownHook>(new Hook("first", 0, TimeSpan.FromSeconds(1), _ => Task.CompletedTask));
        // Ignores its token: only the coordinator's own limit stops the wait.
        services.AddSingleton<IShutdownHook>(new Hook("hangs", 20, TimeSpan.FromMilliseconds(300), _ => Task.Delay(Timeout.Infinite, CancellationToken.None)));
    }

    private sealed class Hook(string name, int order, TimeSpan timeout, Func<CancellationToken, Task> body) : IShutdownHook
    {
        public string Name => name;

        public int Order => order;

        public TimeSpan Timeout => timeout;

        public Task RunAsync(CancellationToken cancellationToken)
        {
            Ran.Enqueue(name);
            return body(cancellationToken);
        }
    }
}
