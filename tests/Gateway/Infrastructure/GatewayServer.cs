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
        Http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", ApiKey);
        Anonymous = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>The API key the test gateways accept (<c>MeshHook:Gateway:ApiKeys:0</c>); <see cref="Http"/> sends it.</summary>
    public const string ApiKey = "gateway-tests-api-key-0001";

    public WebApplication App { get; }

    public Uri BaseAddress { get; }

    /// <summary>A client that sends the API key on every request.</summary>
    public HttpClient Http { get; }

    /// <summary>A client that sends no key.</summary>
    public HttpClient Anonymous { get; }

    /// <param name="connectionString">The database.</param>
    /// <param name="clusterId">The Orleans cluster id.</param>
    /// <param name="serviceId">The Orleans service id.</param>
    /// <param name="settings">Configuration on top of the defaults; a null value removes a default (e.g. the API key).</param>
    /// <param name="logging">Adds log providers (the gateway logs nowhere otherwise).</param>
    public static async Task<GatewayServer> StartAsync(
        string connectionString, string clusterId, string serviceId, IDictionary<string, string?>? settings = null, Action<ILoggingBuilder>? logging = null)
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
            ["MeshHook:Gateway:ApiKeys:0"] = ApiKey,
            // The tests' HTTP peers listen on 127.0.0.1: publishing refuses literal addresses no run could reach.
            ["MeshHook:Http:AllowedNetworks:0"] = "127.0.0.0/8",
            // A fixed, public test key for secrets at rest.
            ["MeshHook:Secrets:Key"] = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                configuration.Remove(key);
            }
            else
            {
                configuration[key] = value;
            }
        }

        builder.Configuration.AddInMemoryCollection(configuration);
        // MESHHOOK_GATEWAY_TEST_LOGS=1 shows the gateway's own log on the console when a test needs explaining.
        if (Environment.GetEnvironmentVariable("MESHHOOK_GATEWAY_TEST_LOGS") != "1")
        {
            builder.Logging.ClearProviders();
        }

        builder.Logging.SetMinimumLevel(LogLevel.Information);
        logging?.Invoke(builder.Logging);
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
        Anonymous.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
