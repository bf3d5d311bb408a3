using Orleans.Hosting.Kubernetes;

namespace MeshHook.Silo.Hosting;

/// <summary>
/// Orleans' Kubernetes hosting (<c>Microsoft.Orleans.Hosting.Kubernetes</c>), switched on by <see cref="EnabledKey"/>.
/// When on, the silo is named after its pod (<c>POD_NAME</c>), advertises the pod's address (<c>POD_IP</c>) unless
/// <c>Orleans:AdvertisedIP</c> is set, and a few silos watch the pods of the cluster through the Kubernetes API: a silo
/// whose pod is deleted is declared dead at once instead of after failure detection. It needs <c>POD_NAMESPACE</c> (or
/// the service account's namespace file) and a role that may get, list, watch and patch pods (deploy/k8s/kubernetes-hosting/).
/// </summary>
public static class KubernetesHosting
{
    /// <summary>The switch (<c>MeshHook__Kubernetes__Enabled=true</c>); off by default.</summary>
    public const string EnabledKey = "MeshHook:Kubernetes:Enabled";

    /// <summary>Whether the configuration switches Kubernetes hosting on; a value that is not a boolean is refused.</summary>
    public static bool IsEnabled(IConfiguration configuration)
    {
        var value = configuration[EnabledKey];
        if (string.IsNullOrWhiteSpace(value))
        {
            return false;
        }

        return bool.TryParse(value, out var enabled)
            ? enabled
            : throw new InvalidOperationException($"{EnabledKey} '{value}' is not true or false");
    }

    /// <summary>
    /// The address to publish in the membership table: <c>Orleans:AdvertisedIP</c> when set; with Kubernetes hosting on,
    /// otherwise the pod's <c>POD_IP</c> (downward API <c>status.podIP</c>); otherwise the configured default.
    /// </summary>
    public static string AdvertisedIP(IConfiguration configuration, OrleansEndpointOptions endpoints)
    {
        if (!string.IsNullOrWhiteSpace(configuration[$"{OrleansEndpointOptions.Section}:{nameof(OrleansEndpointOptions.AdvertisedIP)}"]) || !IsEnabled(configuration))
        {
            return endpoints.AdvertisedIP;
        }

        var podIp = configuration[KubernetesHostingOptions.PodIPEnvironmentVariable];
        if (string.IsNullOrWhiteSpace(podIp))
        {
            throw new InvalidOperationException(
                $"{EnabledKey} is true but neither Orleans:AdvertisedIP nor {KubernetesHostingOptions.PodIPEnvironmentVariable} is set: " +
                $"give the pod's address through the downward API (env {KubernetesHostingOptions.PodIPEnvironmentVariable} from status.podIP)");
        }

        return System.Net.IPAddress.TryParse(podIp, out _)
            ? podIp
            : throw new InvalidOperationException($"{KubernetesHostingOptions.PodIPEnvironmentVariable} '{podIp}' is not an IP address");
    }

    /// <summary>Adds Orleans' Kubernetes hosting when <see cref="EnabledKey"/> is true.</summary>
    public static ISiloBuilder UseKubernetesHostingIfEnabled(this ISiloBuilder silo, IConfiguration configuration) =>
        IsEnabled(configuration) ? silo.UseKubernetesHosting() : silo;
}
