using MeshHook.Grains.Runs;
using MeshHook.Grains.Steps;
using MeshHook.Silo.Ops;
using MeshHook.Silo.Recovery;
using Npgsql;
using Orleans.Configuration;

namespace MeshHook.Silo.Hosting;

/// <summary>Wires a silo to Postgres (clustering, grain storage, reminders) and adds the run engine's services.</summary>
public static class MeshHookSiloBuilderExtensions
{
    /// <summary>The ADO.NET invariant of Npgsql; Orleans maps it to NpgsqlFactory itself.</summary>
    public const string Invariant = "Npgsql";

    /// <summary>
    /// Everything a MeshHook silo needs besides its endpoints: used by the silo program and by the
    /// in-process test clusters, so both run the same wiring.
    /// </summary>
    public static ISiloBuilder AddMeshHookEngine(this ISiloBuilder silo, string connectionString, IConfiguration configuration, bool useAdoNetClustering = true)
    {
        if (useAdoNetClustering)
        {
            silo.UseAdoNetClustering(o =>
            {
                o.Invariant = Invariant;
                o.ConnectionString = connectionString;
            });
        }

        silo.AddAdoNetGrainStorage(WorkflowRunGrain.StorageName, o =>
        {
            o.Invariant = Invariant;
            o.ConnectionString = connectionString;
        });
        silo.UseAdoNetReminderService(o =>
        {
            o.Invariant = Invariant;
            o.ConnectionString = connectionString;
        });

        var services = silo.Services;
        services.AddOptions<RunOptions>().Bind(configuration.GetSection(RunOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<RecoveryOptions>().Bind(configuration.GetSection(RecoveryOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<ReminderOptions>().Configure<Microsoft.Extensions.Options.IOptions<RunOptions>>((reminders, runs) =>
        {
            // Let a shorter configured run reminder period through (tests, tight recovery targets).
            if (runs.Value.ReminderPeriod < reminders.MinimumReminderPeriod)
            {
                reminders.MinimumReminderPeriod = runs.Value.ReminderPeriod;
            }
        });

        services.AddSingleton(_ => new NpgsqlDataSourceBuilder(connectionString) { Name = "meshhook" }.Build());
        services.AddSingleton<RunStore>();
        services.AddSingleton<WorkflowCache>();
        services.AddSingleton<RunMetrics>();
        services.AddSingleton<RunWakeUps>();
        services.AddMeshHookSteps();
        services.AddSingleton<SiloActivity>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<SiloActivity>());
        services.AddSingleton<RunRecoverySweep>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<RunRecoverySweep>());
        return silo;
    }
}
