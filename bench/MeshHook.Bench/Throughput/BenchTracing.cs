using MeshHook.Bench.Infrastructure;
using MeshHook.Silo.Hosting;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace MeshHook.Bench.Throughput;

/// <summary>How the engine is traced during a window (<c>--tracing off,spans,otlp</c>).</summary>
public enum TracingMode
{
    /// <summary>No tracer: what the programs run when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is unset (no span is created).</summary>
    Off,

    /// <summary>The silo's sources and instrumentation listen and every span is recorded, but exported nowhere: the cost of making spans.</summary>
    Spans,

    /// <summary>As the silo traces with an endpoint set: spans batched and exported over OTLP (HTTP/protobuf) to a receiver in the bench.</summary>
    Otlp,
}

/// <summary>Starts and stops the tracer of one measurement window.</summary>
public static class BenchTracing
{
    public static TracingMode Parse(string text) => text switch
    {
        "off" => TracingMode.Off,
        "spans" => TracingMode.Spans,
        "otlp" => TracingMode.Otlp,
        _ => throw new ArgumentException($"--tracing takes off, spans and otlp, not '{text}'"),
    };

    public static string Name(TracingMode mode) => mode.ToString().ToLowerInvariant();

    /// <summary>
    /// The tracer for <paramref name="mode"/> (null for <see cref="TracingMode.Off"/>): the engine's spans as the silo
    /// traces them (<see cref="SiloTracing.AddMeshHookEngineTracing"/>), the silo's own HTTP endpoints left out (the bench
    /// serves only its sink and the OTLP receiver, which a real silo does not).
    /// </summary>
    public static TracerProvider? Start(TracingMode mode, Uri receiver)
    {
        if (mode == TracingMode.Off)
        {
            return null;
        }

        var builder = Sdk.CreateTracerProviderBuilder()
            .ConfigureResource(resource => resource.AddService("meshhook-silo", serviceInstanceId: Environment.MachineName))
            .AddMeshHookEngineTracing();
        if (mode == TracingMode.Otlp)
        {
            builder.AddOtlpExporter(otlp =>
            {
                otlp.Protocol = OtlpExportProtocol.HttpProtobuf;
                otlp.Endpoint = new Uri(receiver, BenchSink.OtlpTracesPath);
            });
        }

        return builder.Build();
    }
}
