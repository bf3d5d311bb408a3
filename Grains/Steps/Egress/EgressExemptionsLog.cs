using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MeshHook.Grains.Steps.Egress;

/// <summary>Says at start which networks http_call may reach although they are in a blocked class (<see cref="EgressPolicy"/>).</summary>
public sealed partial class EgressExemptionsLog(EgressPolicy policy, ILogger<EgressExemptionsLog> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (policy.Allowed.Count > 0)
        {
            LogExempted(logger, string.Join(", ", policy.Allowed));
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "http_call may reach {Networks} although they are loopback, private, link-local or otherwise blocked addresses (MeshHook:Http:AllowedNetworks)")]
    private static partial void LogExempted(ILogger logger, string networks);
}
