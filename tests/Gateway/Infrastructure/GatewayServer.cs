using MeshHook.Gateway.Hosting;
using MeshHook.Tests.Integration.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MeshHook.Tests.Gateway.Infrastructure;

/// <summary>
/// The real gateway (the same AddMeshHookGateway/MapMeshHookGateway as the program) on Kestrel, 127.0.0.1 and a free
/// port, in the test process. Its Orleans client finds the silos through the Postgres membership table.
/// </summary>
public sealed class GatewayServer : IAsyncDisposable
{
    private GatewayServer(WebApplication app, Uri baseAddress)
    {
        App = app;
        BaseAddress = baseAddress;
        Http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    public WebApplication App { get; }

    public Uri BaseAddress { get; }

    public HttpClient Http { get; }

    public static async Task<GatewayServer> StartAsync(string connectionString, string clusterId, string serviceId, IDictionary<string, string?>? settings = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var configuration = new Dictionary<string, string?>
        {
            ["Orleans:ClusterId"] = clusterId,
            ["Orleans:ServiceId"] = serviceId,
            ["MeshHook:Gateway:GatewayListRefreshPeriod"] = "00:00:01",
            // Tests stop many gateways; the stop delay has tests of its own (GatewayShutdownTests).
            ["MeshHook:Gateway:StopDelay"] = "00:00:00",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            configuration[key] = value;
        }

        builder.Configuration.AddInMemoryCollection(configuration);
        // MESHHOOK_GATEWAY_TEST_LOGS=1 shows the gateway's own log on the console when a test needs explaining.
        if (Environment.GetEnvironmentVariable("MESHHOOK_GATEWAY_TEST_LOGS") != "1")
        {
            builder.Logging.ClearProviders();
        }

        builder.Logging.SetMinimumLevel(LogLevel.Information);
        builder.AddMeshHookGateway(connectionString);
        var app = builder.Build();
        app.MapMeshHookGateway();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new GatewayServer(app, new Uri(address));
    }

    /// <summary>Waits until /health/ready answers 200 (Postgres reachable and a silo gateway connected).</summary>
    public Task WaitReadyAsync(TimeSpan? timeout = null) =>
        Poll.UntilAsync(
            async () => (await Http.GetAsync("/health/ready")).IsSuccessStatusCode,
            "the gateway's /health/ready to answer 200 (connected to a silo)",
            timeout ?? TimeSpan.FromSeconds(30));

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
