using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MeshHook.Bench.Infrastructure;

/// <summary>The HTTP peer of the benchmark's http_call steps: Kestrel on 127.0.0.1, answers every request with a small JSON body at once.</summary>
public sealed class BenchSink : IAsyncDisposable
{
    /// <summary>Where the OTLP exporter of <c>throughput --tracing otlp</c> sends its batches (HTTP/protobuf).</summary>
    public const string OtlpTracesPath = "/v1/traces";

    private readonly WebApplication _app;
    private long _requests;
    private long _otlpRequests;
    private long _otlpBytes;

    private BenchSink(WebApplication app) => _app = app;

    public Uri BaseAddress { get; private set; } = null!;

    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>OTLP export requests received, and their bytes (they are read and dropped).</summary>
    public (long Requests, long Bytes) Otlp => (Interlocked.Read(ref _otlpRequests), Interlocked.Read(ref _otlpBytes));

    public static async Task<BenchSink> StartAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders().AddConsole().SetMinimumLevel(LogLevel.Warning);
        var app = builder.Build();
        var sink = new BenchSink(app);
        app.MapPost(OtlpTracesPath, async (HttpContext context) =>
        {
            // An OTLP receiver that keeps nothing: an empty ExportTraceServiceResponse is an empty protobuf body.
            var buffer = new byte[16 * 1024];
            long bytes = 0;
            int read;
            while ((read = await context.Request.Body.ReadAsync(buffer, context.RequestAborted)) > 0)
            {
                bytes += read;
            }

            Interlocked.Increment(ref sink._otlpRequests);
            Interlocked.Add(ref sink._otlpBytes, bytes);
            context.Response.ContentType = "application/x-protobuf";
        });
        app.Map("/{**path}", async (HttpContext context) =>
        {
            // Read the body as a real peer would, then answer.
            using var reader = new StreamReader(context.Request.Body);
            await reader.ReadToEndAsync(context.RequestAborted);
            Interlocked.Increment(ref sink._requests);
            context.Response.ContentType = "application/json";
            var answer = context.Request.Path.StartsWithSegments(Throughput.BenchWorkflow.ChainPath) ? Throughput.BenchWorkflow.ChainAnswer : """{"ok":true}""";
            await context.Response.WriteAsync(answer, context.RequestAborted);
        });
        await app.StartAsync(cancellationToken);
        sink.BaseAddress = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        return sink;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
    }
}
