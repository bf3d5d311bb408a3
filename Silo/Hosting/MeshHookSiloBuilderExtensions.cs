using MeshHook.Grains.Draining;
using MeshHook.Grains.Runs;
using MeshHook.Grains.Security;
using MeshHook.Grains.Steps;
using MeshHook.Grains.Steps.Egress;
using MeshHook.Silo.Ops;
using MeshHook.Silo.Recovery;
using MeshHook.Silo.Shutdown;
using Microsoft.Extensions.Options;
using Npgsql;
using Orleans.Configuration;
using Orleans.Runtime.Hosting;

namespace MeshHook.Silo.Hosting;

/// <summary>Wires a silo to Postgres (clustering, grain storage, reminders) and adds the run engine's services.</summary>
public static class MeshHookSiloBuilderExtensions
{
    /// <summary>The ADO.NET invariant of Npgsql; Orleans maps it to NpgsqlFactory itself.</summary>
    public const string Invariant = "Npgsql";

    /// <summary>Configuration section bound to Orleans' <see cref="ClusterMembershipOptions"/> (failure detection).</summary>
    public const string MembershipSection = "Orleans:Membership";

    /// <summary>Configuration section bound onto Orleans' <see cref="GrainDirectoryOptions"/>.</summary>
    public const string GrainDirectorySection = "Orleans:GrainDirectoryOptions";

    /// <summary>
    /// Configuration section bound onto Orleans' <see cref="ReminderOptions"/>. Not <c>Orleans:Reminders</c>: Orleans
    /// reads that section itself, as the configuration of a reminder provider (<c>ProviderType</c>), and refuses to start
    /// when it holds anything else.
    /// </summary>
    public const string ReminderServiceSection = "Orleans:ReminderService";

    /// <summary>
    /// <c>ReminderOptions.RefreshReminderListPeriod</c> unless configured (Orleans: 5 minutes). It is also how often a
    /// reminder service whose first load of its range failed tries again, and until one succeeds the silo is not ready.
    /// </summary>
    public static readonly TimeSpan DefaultReminderRefreshPeriod = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Everything a MeshHook silo needs besides its endpoints: used by the silo program and by the
    /// in-process test clusters, so both run the same wiring.
    /// </summary>
    public static ISiloBuilder AddMeshHookEngine(this ISiloBuilder silo, string connectionString, IConfiguration configuration, bool useAdoNetClustering = true)
    {
        connectionString = PostgresConnectionDefaults.Apply(connectionString);
        // Orleans' default directory deactivates grains on other silos whose entry lived on a silo that leaves;
        // the distributed directory hands its partitions over instead, so runs elsewhere keep running.
#pragma warning disable ORLEANSEXP003
        silo.AddDistributedGrainDirectory();
        // A grain call carries the caller's trace (W3C), so a run's spans join the intake's trace.
        silo.AddActivityPropagation();
#pragma warning restore ORLEANSEXP003

        if (useAdoNetClustering)
        {
            silo.UseAdoNetClustering(o =>
            {
                o.Invariant = Invariant;
                o.ConnectionString = connectionString;
            });
        }

        // Runs are stored as their row and history (RunStorage); Orleans' ADO.NET storage stays the default provider
        // for any other grain state (README, "Storage").
        silo.AddAdoNetGrainStorageAsDefault(o =>
        {
            o.Invariant = Invariant;
            o.ConnectionString = connectionString;
        });
        silo.Services.AddGrainStorage(WorkflowRunGrain.StorageName, (sp, _) => ActivatorUtilities.CreateInstance<RunStorage>(sp));
        silo.UseAdoNetReminderService(o =>
        {
            o.Invariant = Invariant;
            o.ConnectionString = connectionString;
        });

        var services = silo.Services;
        // A run that cannot reach Postgres answers its caller with the Npgsql exception, which the gateway maps to 503.
        services.Configure<Orleans.Serialization.ExceptionSerializationOptions>(MeshHook.Grains.ClusterErrors.AllowStoreExceptions);

        services.AddFailureDetection(configuration);
        services.AddOptions<RunOptions>().Bind(configuration.GetSection(RunOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<ExpressionOptions>().Bind(configuration.GetSection(ExpressionOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<RecoveryOptions>().Bind(configuration.GetSection(RecoveryOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddReminderService(configuration);

        services.AddSingleton(_ => new NpgsqlDataSourceBuilder(connectionString) { Name = "meshhook" }.Build());
        services.AddSecretBox(configuration);
        services.AddSingleton<INamedSecrets, NamedSecretStore>();
        services.AddSingleton<RunStore>();
        services.AddSingleton<WorkflowCache>();
        services.AddSingleton<RunMetrics>();
        services.AddSingleton<StepRunner>();
        services.AddSingleton<RunCheckpointer>();
        services.AddSingleton<RunWakeUps>();
        services.AddSingleton<SiloDrain>();
        if (OrleansTls.From(configuration) is { } tls)
        {
            var certificate = tls.LoadCertificate();
            silo.UseTls(certificate, options => tls.Apply(options, certificate));
        }

        services.AddMeshHookSteps();
        services.AddEgressPolicy(configuration);
        services.AddHostedService<EgressExemptionsLog>();
        services.AddSingleton<SiloActivity>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<SiloActivity>());
        services.AddSingleton<ReminderServiceStatus>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<ReminderServiceStatus>());
        services.AddOptions<ShutdownOptions>().Bind(configuration.GetSection(ShutdownOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<IValidateOptions<ShutdownOptions>, ShutdownOptionsValidator>();
        services.AddOptions<HostOptions>().Configure<IOptions<ShutdownOptions>, IEnumerable<IShutdownHook>>(
            (host, shutdown, hooks) => host.ShutdownTimeout = shutdown.Value.HostShutdownTimeout(hooks));
        // A run's deactivation waits for its step (at most until the drain limit) and then saves and migrates:
        // give it what the host gives the whole stop.
        services.AddOptions<GrainCollectionOptions>().Configure<IOptions<ShutdownOptions>, IEnumerable<IShutdownHook>>(
            (collection, shutdown, hooks) => collection.DeactivationTimeout = shutdown.Value.HostShutdownTimeout(hooks));
        services.AddSingleton<ShutdownMetrics>();
        services.AddSingleton<DeadPeerCheck>();
        services.AddSingleton<ShutdownCoordinator>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<ShutdownCoordinator>());
        services.AddSingleton<RunRecoverySweep>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<RunRecoverySweep>());
        return silo;
    }

    /// <summary>
    /// Failure detection, tunable without code: <c>Orleans:Membership</c> binds onto Orleans' ClusterMembershipOptions
    /// (ProbeTimeout, NumMissedProbesLimit, NumVotesForDeathDeclaration, ...) and <c>Orleans:GrainDirectoryOptions</c> onto its
    /// GrainDirectoryOptions. Absent keys keep Orleans' defaults, except the directory's RangeLeaseDuration (see below).
    /// </summary>
    public static IServiceCollection AddFailureDetection(this IServiceCollection services, IConfiguration configuration)
    {
        // Faster detection brings a crashed silo's runs back sooner but risks declaring a slow silo dead
        // (see docs/benchmarks.md, "Scale-in").
        services.AddOptions<ClusterMembershipOptions>().Bind(configuration.GetSection(MembershipSection));

        // After a crash the distributed directory holds the dead silo's range under a lease of RangeLeaseDuration minus
        // the failure-detection window (MaxProbeTimeout × NumMissedProbesLimit); no grain of that range can be activated
        // elsewhere until it ends. With Orleans' default detection (a 60 s window) the 30 s default leaves no lease, but
        // tuned detection (ProbeTimeout 2 s, 2 missed probes: a 16 s window) would hold every crashed run 14 s longer.
        // Unless set explicitly, RangeLeaseDuration is capped at the window, so the lease stays zero as with Orleans'
        // defaults. A run tolerates the brief double activation the lease guards against: its state writes carry an
        // ETag, so a stale activation's checkpoint is refused and it deactivates (WorkflowRunGrain, "stale activation");
        // a step it had in flight runs again with the same Idempotency-Key, as after any crash.
        var directory = configuration.GetSection(GrainDirectorySection);
        services.AddOptions<GrainDirectoryOptions>()
            .Bind(directory)
            .Configure<IOptions<ClusterMembershipOptions>>((options, membership) =>
            {
                var window = FailureDetectionWindow(membership.Value);
                if (directory[nameof(GrainDirectoryOptions.RangeLeaseDuration)] is null && window < options.RangeLeaseDuration)
                {
                    options.RangeLeaseDuration = window;
                }
            });
        return services;
    }

    /// <summary>
    /// Orleans' reminder service, tunable without code: <c>Orleans:ReminderService</c> binds onto its ReminderOptions.
    /// Two changes unless set: the refresh period is capped at <see cref="DefaultReminderRefreshPeriod"/>, and the
    /// minimum reminder period is lowered to a shorter <see cref="RunOptions.ReminderPeriod"/>.
    /// </summary>
    public static IServiceCollection AddReminderService(this IServiceCollection services, IConfiguration configuration)
    {
        var section = configuration.GetSection(ReminderServiceSection);
        services.AddOptions<ReminderOptions>().Bind(section).Configure<IOptions<RunOptions>>((reminders, runs) =>
        {
            // A reminder service whose first load failed (Postgres refused connections while the silo started) tries
            // again only at this period, and registers nothing meanwhile: 5 minutes is long for a silo to stay unready.
            // The price is one read of the silo's reminder range per period.
            if (section[nameof(ReminderOptions.RefreshReminderListPeriod)] is null && reminders.RefreshReminderListPeriod > DefaultReminderRefreshPeriod)
            {
                reminders.RefreshReminderListPeriod = DefaultReminderRefreshPeriod;
            }

            // Let a shorter configured run reminder period through (tests, tight recovery targets).
            if (runs.Value.ReminderPeriod < reminders.MinimumReminderPeriod)
            {
                reminders.MinimumReminderPeriod = runs.Value.ReminderPeriod;
            }
        });
        return services;
    }

    /// <summary>How long Orleans takes at most to declare a silo dead: its MaxProbeTimeout × NumMissedProbesLimit.</summary>
    public static TimeSpan FailureDetectionWindow(ClusterMembershipOptions membership) =>
        membership.MaxProbeTimeout * membership.NumMissedProbesLimit;
}
