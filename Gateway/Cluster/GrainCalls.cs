using MeshHook.Gateway.Hosting;
using MeshHook.Grains;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace MeshHook.Gateway.Cluster;

/// <summary>
/// Grain calls with a bounded, jittered retry of transient Orleans failures (a silo leaving, a gateway rejecting
/// or too busy, a lost connection, a timeout). What outlasts the retries, or a client not yet connected, surfaces
/// as <see cref="ClusterUnavailableException"/>; everything else (such as RunNotFoundException) passes through.
/// </summary>
public sealed partial class GrainCalls
{
    private readonly IClusterClient _client;
    private readonly ClusterConnectionStatus _status;
    private readonly ResiliencePipeline _pipeline;

    public GrainCalls(IClusterClient client, ClusterConnectionStatus status, IOptions<GatewayOptions> options, ILogger<GrainCalls> logger)
    {
        _client = client;
        _status = status;
        var retries = options.Value.GrainCallRetries;
        // The overall budget comes first (outermost), so retries of timeouts cannot add up to minutes.
        var builder = new ResiliencePipelineBuilder().AddTimeout(options.Value.GrainCallTimeout);
        if (retries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<Exception>(ClusterErrors.IsTransient),
                MaxRetryAttempts = retries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(100),
                MaxDelay = TimeSpan.FromSeconds(2),
                OnRetry = args =>
                {
                    LogRetry(logger, args.AttemptNumber + 1, args.Outcome.Exception?.GetType().Name ?? "none");
                    return ValueTask.CompletedTask;
                },
            });
        }

        _pipeline = builder.Build();
    }

    /// <summary>Calls a grain through the pipeline.</summary>
    public async Task<T> CallAsync<T>(Func<IGrainFactory, Task<T>> call, CancellationToken cancellationToken)
    {
        if (!_status.IsStarted)
        {
            throw new ClusterUnavailableException("the gateway is not connected to the cluster yet");
        }

        try
        {
            return await _pipeline.ExecuteAsync(async token => await call(_client).WaitAsync(token), cancellationToken);
        }
        catch (Exception e) when (ClusterErrors.IsTransient(e))
        {
            throw new ClusterUnavailableException("no silo could take the call", e);
        }
        catch (TimeoutRejectedException e)
        {
            throw new ClusterUnavailableException("no silo answered within the call's time budget", e);
        }
    }

    /// <summary>Calls a grain through the pipeline.</summary>
    public Task CallAsync(Func<IGrainFactory, Task> call, CancellationToken cancellationToken) =>
        CallAsync<bool>(async grains =>
        {
            await call(grains);
            return true;
        }, cancellationToken);

    [LoggerMessage(Level = LogLevel.Information, Message = "Transient cluster failure ({ExceptionType}); retry {Attempt}")]
    private static partial void LogRetry(ILogger logger, int attempt, string exceptionType);
}
