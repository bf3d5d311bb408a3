using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using MeshHook.Grains.Runs;

namespace MeshHook.Silo.Hosting;

/// <summary>What the silo traces when tracing is on (docs/tracing.md); the exporter is added by the caller.</summary>
public static class SiloTracing
{
    /// <summary>The engine's spans, Orleans' grain call spans, outgoing HTTP attempts and the silo's own HTTP endpoints.</summary>
    public static TracerProviderBuilder AddMeshHookSiloTracing(this TracerProviderBuilder tracing) => tracing
        .AddMeshHookEngineTracing()
        .AddAspNetCoreInstrumentation();

    /// <summary>The engine's spans (<see cref="RunTracing"/>), Orleans' grain call spans and outgoing HTTP attempts.</summary>
    public static TracerProviderBuilder AddMeshHookEngineTracing(this TracerProviderBuilder tracing) => tracing
        .AddSource(RunTracing.SourceName, "Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application")
        // An http_call URL can carry a credential in its path (Slack- and Discord-style webhook URLs): the span keeps
        // its scheme, host and port only, as the logs do.
        .AddHttpClientInstrumentation(http => http.EnrichWithHttpRequestMessage = (activity, request) =>
            activity.SetTag("url.full", request.RequestUri?.GetLeftPart(UriPartial.Authority)));
}

/// <summary>
/// The silo's Orleans name (<c>meshhook.silo.name</c>) and address (<c>meshhook.silo.address</c>) on every span and metric
/// it exports: the name is what meshhook_shutdowns, the run events and the logs call the silo.
/// </summary>
public sealed class SiloResourceDetector(ILocalSiloDetails silo) : IResourceDetector
{
    public Resource Detect() => new([
        new KeyValuePair<string, object>("meshhook.silo.name", silo.Name),
        new KeyValuePair<string, object>("meshhook.silo.address", silo.SiloAddress.ToString()),
    ]);
}
