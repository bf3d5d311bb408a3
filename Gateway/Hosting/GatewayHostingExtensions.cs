using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using MeshHook.Gateway.Api;
using MeshHook.Gateway.Cluster;
using MeshHook.Gateway.Ops;
using MeshHook.Gateway.Security;
using MeshHook.Grains.Runs;
using MeshHook.Grains.Security;
using MeshHook.Grains.Steps.Egress;
using MeshHook.Ops;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Npgsql;
using OpenTelemetry.Metrics;
using Orleans.Configuration;

namespace MeshHook.Gateway.Hosting;

/// <summary>Wires the gateway: Orleans client (connected in the background), Postgres, API, health, metrics, OpenAPI.</summary>
public static class GatewayHostingExtensions
{
    /// <summary>The ADO.NET invariant of Npgsql; Orleans maps it to NpgsqlFactory itself.</summary>
    public const string Invariant = "Npgsql";

    /// <summary>Adds everything the gateway needs; the Orleans endpoints come from the <c>Orleans</c> section.</summary>
    public static WebApplicationBuilder AddMeshHookGateway(this WebApplicationBuilder builder, string connectionString)
    {
        connectionString = PostgresConnectionDefaults.Apply(connectionString);
        var configuration = builder.Configuration;
        var urls = configuration["urls"];
        urls = string.IsNullOrEmpty(urls) ? configuration["ASPNETCORE_URLS"] : urls;
        urls = string.IsNullOrEmpty(urls) ? "http://127.0.0.1:8080" : urls;
        var management = configuration.GetSection(GatewayOptions.Section).Get<GatewayOptions>()?.ManagementUrls ?? [];
        builder.WebHost.UseUrls([.. urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), .. management]);

        var services = builder.Services;
        services.AddOptions<GatewayOptions>().BindConfiguration(GatewayOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<KestrelServerOptions>().Configure<IOptions<GatewayOptions>>((kestrel, gateway) =>
            kestrel.Limits.MaxRequestBodySize = gateway.Value.MaxBodyBytes);
        services.AddOptions<HostOptions>().Configure<IOptions<GatewayOptions>>((host, gateway) =>
            host.ShutdownTimeout = gateway.Value.ShutdownTimeout);

        services.AddSingleton(_ => new NpgsqlDataSourceBuilder(connectionString) { Name = "meshhook-gateway" }.Build());
        services.AddSecretBox(configuration);
        services.AddSingleton<RunStore>();
        services.AddSingleton<NamedSecretStore>();
        // Publishing refuses http_call URLs that are literal addresses no run could reach: same setting as the silos'.
        services.AddEgressPolicy(configuration);
        services.AddHostedService<GatewayStopDelay>();

        AddOrleansClient(builder, connectionString);

        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<ApiKeys>();
        // No default scheme: only the routes whose policy names it authenticate, so a webhook that carries its own
        // Authorization header is not judged (or logged) as a failed API key.
        services.AddAuthentication()
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        services.AddAuthorizationBuilder().AddPolicy(ApiKeyAuthenticationHandler.Policy, policy => policy
            .AddAuthenticationSchemes(ApiKeyAuthenticationHandler.SchemeName)
            .RequireAuthenticatedUser());
        services.AddProblemDetails();
        // Integers are integers in the document (ASP.NET Core's default number handling would also admit strings).
        services.ConfigureHttpJsonOptions(json => json.SerializerOptions.NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.Strict);
        services.AddOpenApi(options => options
            .AddDocumentTransformer(ApiSchemas.DescribeDocumentAsync)
            .AddSchemaTransformer(ApiSchemas.DescribeSchemaAsync)
            .AddOperationTransformer(JsonRequestBody.DescribeAsync)
            .AddDocumentTransformer(DefinitionSchema.DescribeAsync)
            .AddDocumentTransformer(ApiKeyOpenApi.DescribeSchemeAsync)
            .AddOperationTransformer(ApiKeyOpenApi.DescribeRequirementAsync));
        services.AddSingleton<GatewayMetrics>();
        services.AddHealthChecks()
            .AddCheck<StoppingHealthCheck>("stopping", tags: ["ready"])
            .AddCheck<PostgresHealthCheck>("postgres", tags: ["ready"])
            .AddCheck<ClusterHealthCheck>("cluster", tags: ["ready"]);
        var telemetry = services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("meshhook-gateway", serviceInstanceId: Environment.MachineName))
            .WithMetrics(metrics => metrics
                .AddMeter(GatewayMetrics.MeterName, "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel")
                .AddRuntimeInstrumentation()
                .AddPrometheusExporter());
        // Traces only when an OTLP endpoint is configured (the standard variable); otherwise nothing listens.
        if (!string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            telemetry.WithTracing(tracing => tracing
                // MeshHook.Runs: the run's creation in Postgres.
                .AddSource(RunTracing.SourceName, "Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application")
                .AddAspNetCoreInstrumentation()
                .AddOtlpExporter());
        }
        return builder;
    }

    /// <summary>Maps the API (/api/…), /health/live, /health/ready, /metrics and /openapi/v1.json.</summary>
    public static WebApplication MapMeshHookGateway(this WebApplication app)
    {
        app.UseCloseConnectionsWhileStopping();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseManagementAddress();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapWorkflowsApi();
        app.MapHooksApi();
        app.MapRunsApi();
        app.MapSecretsApi();
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains("ready") });
        app.MapPrometheusScrapingEndpoint("/metrics");
        app.MapOpenApi();
        return app;
    }

    /// <summary>
    /// The Orleans client, found through the Postgres membership table. Its start is taken out of the host's
    /// start-up and done by <see cref="ClusterConnector"/> in the background, retrying until a silo gateway answers:
    /// the gateway serves (and intake stores runs) while no silo is up.
    /// </summary>
    private static void AddOrleansClient(WebApplicationBuilder builder, string connectionString)
    {
        var services = builder.Services;
        var hostedBefore = services.Where(d => d.ServiceType == typeof(IHostedService)).ToHashSet();
        builder.UseOrleansClient(client =>
        {
            client.AddActivityPropagation();
            client.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = builder.Configuration["Orleans:ClusterId"] ?? "meshhook";
                o.ServiceId = builder.Configuration["Orleans:ServiceId"] ?? "meshhook";
            });
            client.UseAdoNetClustering(o =>
            {
                o.Invariant = Invariant;
                o.ConnectionString = connectionString;
            });
            if (OrleansTls.From(builder.Configuration) is { } tls)
            {
                var certificate = tls.LoadCertificate();
                client.UseTls(certificate, options => tls.Apply(options, certificate));
            }

            // A run that cannot reach Postgres answers with the Npgsql exception: decoded, it maps to 503 (GrainCalls).
            client.Services.Configure<Orleans.Serialization.ExceptionSerializationOptions>(MeshHook.Grains.ClusterErrors.AllowStoreExceptions);
            client.Services.AddOptions<Orleans.Configuration.GatewayOptions>().Configure<IOptions<GatewayOptions>>((orleans, gateway) =>
                orleans.GatewayListRefreshPeriod = gateway.Value.GatewayListRefreshPeriod);
        });

        // UseOrleansClient registers the client as a hosted service whose start blocks the host until it is
        // connected (and fails it after a few attempts). The connector starts it instead.
        foreach (var descriptor in services.Where(d => d.ServiceType == typeof(IHostedService) && !hostedBefore.Contains(d)).ToList())
        {
            services.Remove(descriptor);
        }

        services.AddSingleton<ClusterConnectionStatus>();
        services.AddSingleton<IClusterConnectionStatusObserver>(sp => sp.GetRequiredService<ClusterConnectionStatus>());
        services.AddSingleton<IClientConnectionRetryFilter, KeepTryingRetryFilter>();
        services.AddHostedService<ClusterConnector>();
        services.AddSingleton<GrainCalls>();
    }
}
