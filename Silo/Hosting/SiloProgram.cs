using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using System.Net;
using MeshHook.Grains.Runs;
using MeshHook.Ops;
using MeshHook.Silo.Ops;
using MeshHook.Silo.Shutdown;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Npgsql;
using OpenTelemetry.Metrics;

namespace MeshHook.Silo.Hosting;

/// <summary>The silo's entry point: configuration checks, migrations, then the host.</summary>
public static class SiloProgram
{
    /// <summary>Exit code for a configuration the silo cannot start with.</summary>
    public const int ConfigurationError = 2;

    /// <summary>Exit code when Postgres cannot be reached or the schema cannot be applied.</summary>
    public const int DatabaseError = 3;

    public static async Task<int> RunAsync(string[] args)
    {
        using var startup = new StartupSignals();
        var migrateOnly = args.Contains("--migrate");
        var builder = WebApplication.CreateBuilder(args.Where(a => a != "--migrate").ToArray());
        if (!TryGetConnectionString(builder.Configuration, out var connectionString, out var problem))
        {
            await Console.Error.WriteLineAsync($"MeshHook.Silo: {problem}");
            return ConfigurationError;
        }

        using (var loggerFactory = LoggerFactory.Create(l => l.AddSimpleConsole(o => o.SingleLine = true)))
        {
            var logger = loggerFactory.CreateLogger("MeshHook.Silo.Migrations");
            try
            {
                logger.LogInformation("Starting: preparing the database schema");
                var applied = await SchemaMigrator.MigrateAsync(connectionString, logger, startup.Token);
                logger.LogInformation("Schema up to date ({Applied} script(s) applied now)", applied.Count);
            }
            catch (OperationCanceledException) when (startup.StopRequested)
            {
                logger.LogInformation("Stop requested while starting (preparing the schema): exiting; this silo held no run");
                return 0;
            }
            catch (Exception e) when (e is NpgsqlException or SchemaMigrationException or TimeoutException)
            {
                var target = new NpgsqlConnectionStringBuilder(connectionString);
                await Console.Error.WriteLineAsync(
                    $"MeshHook.Silo: cannot prepare the database at {target.Host}:{target.Port}/{target.Database}: {e.Message}");
                return DatabaseError;
            }
        }

        if (migrateOnly)
        {
            return 0;
        }

        builder.AddMeshHookSilo(connectionString);
        try
        {
            // Building the host already reads the validated ShutdownOptions (HostOptions.ShutdownTimeout is computed from them).
            var app = builder.Build();
            app.MapMeshHookOps();
            try
            {
                await app.StartAsync(startup.Token);
            }
            catch (Exception cancelled) when (startup.StopRequested && cancelled is OperationCanceledException or Orleans.Runtime.OrleansLifecycleCanceledException)
            {
                // Stopped while joining the cluster: stop what started, the ordinary way (the shutdown sequence runs
                // for the stages that started), then exit 0. Orleans reports a start cancelled between two of its
                // stages with its own exception, not an OperationCanceledException (soak bug 17).
                // Under MeshHook.Silo.Hosting, not the application's category, so a Warning default level still shows it.
                var startupLog = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("MeshHook.Silo.Hosting.Startup");
                startupLog.LogInformation("Stop requested while starting (joining the cluster): stopping what started ({Signal})", cancelled.GetType().Name);
                try
                {
                    await app.StopAsync(CancellationToken.None);
                }
                catch (Exception e) when (e is InvalidOperationException or AggregateException)
                {
                    // Orleans refuses to stop a silo whose start did not get far enough to run ("not in the Running
                    // state"): it never joined, so it holds nothing and there is nothing more to stop.
                    startupLog.LogInformation("Stopped while starting: the silo had not joined the cluster ({Message})", e.Message);
                }

                // Disposing flushes the log (the console logger writes from a queue): the lines above must reach it.
                try
                {
                    await app.DisposeAsync();
                }
                catch (Exception e) when (e is InvalidOperationException or AggregateException or ObjectDisposedException)
                {
                    await Console.Error.WriteLineAsync($"MeshHook.Silo: stopped while starting; disposing what had started failed: {e.Message}");
                }

                return 0;
            }
            catch (Exception e) when (MeshHook.Grains.ClusterErrors.IsStoreUnavailable(e))
            {
                // Postgres went away between the schema step and joining the cluster: the same one line and exit code
                // as when it cannot be reached at all, instead of an unhandled exception (exit 134) and its stack.
                var target = new NpgsqlConnectionStringBuilder(connectionString);
                await Console.Error.WriteLineAsync(
                    $"MeshHook.Silo: lost the database at {target.Host}:{target.Port}/{target.Database} while joining the cluster: {e.Message}");
                return DatabaseError;
            }

            // From here on the host's own signal handling (and ShutdownSignals, for a second signal) takes over.
            startup.Dispose();
            var shutdown = app.Services.GetRequiredService<IOptions<ShutdownOptions>>().Value;
            if (shutdown.FastExit && FastExit.IsSupported)
            {
                var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
                var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                lifetime.ApplicationStopped.Register(() => stopped.TrySetResult());
                _ = AfterReportWatchdog.WatchAsync(
                    app.Services.GetRequiredService<ShutdownCoordinator>().Report,
                    stopped.Task,
                    shutdown.AfterReportTimeout,
                    () => FastExit.CloseAndExitAsync(app.Services, exitCode: 0),
                    TimeProvider.System,
                    app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("MeshHook.Silo.Shutdown.AfterReportWatchdog"));
            }

            // Returns once the host has stopped: the silo drained, handed its runs off and wrote its report.
            await app.WaitForShutdownAsync();
            if (shutdown.FastExit && FastExit.IsSupported)
            {
                await FastExit.CloseAndExitAsync(app.Services, exitCode: 0);
            }

            await app.DisposeAsync();
        }
        catch (OptionsValidationException e)
        {
            await Console.Error.WriteLineAsync($"MeshHook.Silo: invalid configuration: {string.Join(" ", e.Failures)}");
            return ConfigurationError;
        }

        return 0;
    }

    /// <summary>Adds the Orleans silo (endpoints from the <c>Orleans</c> section), health checks and metrics.</summary>
    public static WebApplicationBuilder AddMeshHookSilo(this WebApplicationBuilder builder, string connectionString)
    {
        if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["ASPNETCORE_URLS"]))
        {
            builder.WebHost.UseUrls("http://127.0.0.1:8081");
        }

        var endpoints = builder.Configuration.GetSection(OrleansEndpointOptions.Section).Get<OrleansEndpointOptions>() ?? new OrleansEndpointOptions();
        var advertisedIP = KubernetesHosting.AdvertisedIP(builder.Configuration, endpoints);
        if (!IPAddress.TryParse(advertisedIP, out var advertised))
        {
            throw new InvalidOperationException($"Orleans:AdvertisedIP '{advertisedIP}' is not an IP address");
        }

        builder.UseOrleans(silo =>
        {
            silo.Configure<Orleans.Configuration.ClusterOptions>(o =>
            {
                o.ClusterId = endpoints.ClusterId;
                o.ServiceId = endpoints.ServiceId;
            });
            silo.ConfigureEndpoints(advertised, endpoints.SiloPort, endpoints.GatewayPort, listenOnAnyHostAddress: true);
            silo.AddMeshHookEngine(connectionString, builder.Configuration);
            silo.UseKubernetesHostingIfEnabled(builder.Configuration);
        });

        builder.Services.AddHostedService<ShutdownSignals>();
        builder.Services.AddHostedService<SiloStopsBeforeWebServer>();
        builder.Services.AddHealthChecks()
            .AddCheck<PostgresHealthCheck>("postgres", tags: ["ready"])
            .AddCheck<SiloActiveHealthCheck>("silo", tags: ["ready"])
            .AddCheck<ReminderServiceHealthCheck>("reminders", tags: ["ready"]);
        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource
                .AddService("meshhook-silo", serviceInstanceId: Environment.MachineName)
                .AddDetector(services => new SiloResourceDetector(services.GetRequiredService<ILocalSiloDetails>())))
            .WithMetrics(metrics => metrics
                .AddMeter(RunMetrics.MeterName, ShutdownMetrics.MeterName)
                .AddRuntimeInstrumentation()
                .AddPrometheusExporter());
        // Traces only when an OTLP endpoint is configured (the standard variable): otherwise no listener exists and
        // no span is even created.
        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            telemetry.WithTracing(tracing => tracing.AddMeshHookSiloTracing()
                .AddOtlpExporter());
        }

        return builder;
    }

    /// <summary>Maps /health/live, /health/ready and /metrics.</summary>
    public static WebApplication MapMeshHookOps(this WebApplication app)
    {
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains("ready"), ResponseWriter = HealthReportWriter.WriteAsync });
        app.MapPrometheusScrapingEndpoint("/metrics");
        return app;
    }

    /// <summary>Reads <c>ConnectionStrings:MeshHook</c>; on failure <paramref name="problem"/> is one line for the operator.</summary>
    public static bool TryGetConnectionString(IConfiguration configuration, out string connectionString, out string problem)
    {
        connectionString = configuration.GetConnectionString("MeshHook") ?? "";
        return MeshHook.Grains.Runs.ConnectionStringCheck.TryValidate(connectionString, out problem);
    }
}
