using Microsoft.Extensions.DependencyInjection;
using MeshHook.Grains.Steps.Egress;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace MeshHook.Grains.Steps;

/// <summary>Registers the step executors, their registry and the HTTP client of http_call.</summary>
public static class StepsServiceCollectionExtensions
{
    /// <summary>
    /// Adds every <see cref="IStepExecutor"/>, <see cref="StepExecutors"/>, <see cref="TimeProvider.System"/> (unless a
    /// <see cref="TimeProvider"/> is already registered) and the named client <see cref="HttpCallExecutor.HttpClientName"/>.
    /// </summary>
    public static IServiceCollection AddMeshHookSteps(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);

        services.AddLogging();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddEnumerable(
        [
            ServiceDescriptor.Singleton<IStepExecutor, WebhookExecutor>(),
            ServiceDescriptor.Singleton<IStepExecutor, TransformExecutor>(),
            ServiceDescriptor.Singleton<IStepExecutor, HttpCallExecutor>(),
            ServiceDescriptor.Singleton<IStepExecutor, BranchExecutor>(),
            ServiceDescriptor.Singleton<IStepExecutor, DelayExecutor>(),
            ServiceDescriptor.Singleton<IStepExecutor, TerminateExecutor>(),
        ]);
        services.TryAddSingleton<StepExecutors>();
        // Bound from MeshHook:Expressions by the silo (AddMeshHookEngine); unbound, ExpressionLimits.Default.
        services.AddOptions<ExpressionOptions>();
        // Bound from MeshHook:Http by the silo (AddMeshHookEngine); unbound, only public addresses are reachable.
        services.AddOptions<EgressOptions>();
        services.TryAddSingleton<EgressPolicy>();

        services
            .AddHttpClient(HttpCallExecutor.HttpClientName, client =>
            {
                // The executor's pipeline owns timeouts, per attempt.
                client.Timeout = Timeout.InfiniteTimeSpan;
            })
            .ConfigurePrimaryHttpMessageHandler(services => new SocketsHttpHandler
            {
                // One handler serves every run: a cookie one peer sets must never travel with another run's request.
                UseCookies = false,
                // Every connection goes through the egress check, which a proxy would make on the workflow's behalf
                // without it: http_call ignores HTTP_PROXY/HTTPS_PROXY.
                UseProxy = false,
                ConnectCallback = services.GetRequiredService<EgressPolicy>().ConnectAsync,
            })
            // IHttpClientFactory's default logging writes each request's URL, path and all, and a Slack- or Discord-style
            // webhook URL carries its credential in its path. The executor logs its own lines, naming the run and the
            // node, never the URL.
            .RemoveAllLoggers();

        return services;
    }
}
