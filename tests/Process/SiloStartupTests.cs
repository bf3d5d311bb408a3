using System.Net;
using AwesomeAssertions;
using MeshHook.Testing.Processes;
using MeshHook.Tests.Integration.Infrastructure;
using MeshHook.Tests.Process.Infrastructure;

namespace MeshHook.Tests.Process;

[Collection(SiloProcessesCollection.Name)]
public sealed class SiloStartupTests
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Silo_WithoutConnectionString_ExitsNonZeroWithOneClearLine()
    {
        await using var silo = StartSilo(new Dictionary<string, string?>());

        var exitCode = await silo.WaitForExitAsync(ExitTimeout);

        exitCode.Should().Be(2);
        silo.Output.Trim().Should().Be(
            "MeshHook.Silo: ConnectionStrings:MeshHook is not set. Set it, e.g. ConnectionStrings__MeshHook=\"Host=127.0.0.1;Username=postgres;Database=meshhook\".");
    }

    [Fact]
    public async Task Silo_WithMalformedConnectionString_ExitsNonZeroWithOneClearLine()
    {
        await using var silo = StartSilo(new Dictionary<string, string?> { ["ConnectionStrings__MeshHook"] = "Host=x;Bogus Key=1" });

        var exitCode = await silo.WaitForExitAsync(ExitTimeout);

        exitCode.Should().Be(2);
        var lines = silo.Output.Trim().Split('\n');
        lines.Should().ContainSingle();
        lines[0].Should().StartWith("MeshHook.Silo: ConnectionStrings:MeshHook is not a valid Npgsql connection string:");
    }

    [Fact]
    public async Task Silo_WithUnreachablePostgres_ExitsNonZeroNamingTheServer()
    {
        // Nothing listens on port 1 of the loopback address.
        await using var silo = StartSilo(new Dictionary<string, string?>
        {
            ["ConnectionStrings__MeshHook"] = "Host=127.0.0.1;Port=1;Username=postgres;Database=meshhook;Timeout=3",
        });

        var exitCode = await silo.WaitForExitAsync(ExitTimeout);

        exitCode.Should().Be(3);
        silo.Output.Should().Contain("MeshHook.Silo: cannot prepare the database at 127.0.0.1:1/meshhook:");
        silo.Output.Should().NotContain("   at ", "an operator gets one line, not a stack trace");
    }

    [Fact]
    public async Task Silo_Migrate_AppliesTheSchemaAndExitsZero()
    {
        var connectionString = await PostgresServer.CreateEmptyDatabaseAsync("proc_migrate");
        await using var silo = StartSilo(new Dictionary<string, string?> { ["ConnectionStrings__MeshHook"] = connectionString }, "--migrate");

        var exitCode = await silo.WaitForExitAsync(ExitTimeout);

        exitCode.Should().Be(0, silo.Output);
        await using var connection = new Npgsql.NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand("SELECT to_regclass('workflow_runs') IS NOT NULL AND to_regclass('orleans_membership') IS NOT NULL", connection);
        ((bool)(await command.ExecuteScalarAsync())!).Should().BeTrue();
    }

    [Fact]
    public async Task Silo_Started_IsLiveReadyAndServesMetrics()
    {
        var connectionString = await PostgresServer.CreateEmptyDatabaseAsync("proc_ready");
        await using var silo = ProgramProcess.Start(new ProgramStart("silo", BuildOutput.Silo)
        {
            Ports = ProgramPorts.Silo,
            Environment = new Dictionary<string, string?>
            {
                ["ConnectionStrings__MeshHook"] = connectionString,
                ["Orleans__ClusterId"] = $"proc-{Guid.NewGuid():N}",
            },
        });
        using var http = new HttpClient { BaseAddress = silo.HttpAddress, Timeout = TimeSpan.FromSeconds(5) };

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        HttpStatusCode? ready = null;
        while (DateTime.UtcNow < deadline && ready != HttpStatusCode.OK)
        {
            silo.HasExited.Should().BeFalse(silo.Output);
            try
            {
                ready = (await http.GetAsync("/health/ready")).StatusCode;
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(200);
        }

        ready.Should().Be(HttpStatusCode.OK, "the silo becomes ready once active; output:\n" + silo.Output);
        (await http.GetAsync("/health/live")).StatusCode.Should().Be(HttpStatusCode.OK);
        var metrics = await http.GetStringAsync("/metrics");
        metrics.Should().Contain("# TYPE", "Prometheus text format");
    }

    /// <summary>
    /// A pod scaled in or rolled while it starts gets SIGTERM mid-start. The chaos soak saw such a silo exit 143 (the
    /// runtime's default for SIGTERM): the signal came before the host listened for it. Here the silo is held at a known
    /// point of its start (waiting for the schema's advisory lock, which the test holds) and gets SIGTERM there.
    /// </summary>
    [Fact]
    public async Task Silo_SigtermWhileWaitingForTheSchemaLock_ExitsZeroAtOnce()
    {
        var connectionString = await PostgresServer.CreateEmptyDatabaseAsync("proc_startsig");
        await using var holder = new Npgsql.NpgsqlConnection(connectionString);
        await holder.OpenAsync();
        await using (var take = new Npgsql.NpgsqlCommand("SELECT pg_advisory_lock(x'4D657368486F6F6B'::bigint)", holder))
        {
            await take.ExecuteNonQueryAsync();
        }

        await using var silo = ProgramProcess.Start(new ProgramStart("silo", BuildOutput.Silo)
        {
            Ports = ProgramPorts.Silo,
            Environment = new Dictionary<string, string?>
            {
                ["ConnectionStrings__MeshHook"] = connectionString,
                ["Orleans__ClusterId"] = $"proc-{Guid.NewGuid():N}",
            },
        });

        // The silo's session waits on the lock the test holds: the start is parked exactly there.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            silo.HasExited.Should().BeFalse("the silo waits for the schema lock; output:\n" + silo.Output);
            await using var waiting = new Npgsql.NpgsqlCommand(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND pid <> pg_backend_pid()", holder);
            if ((long)(await waiting.ExecuteScalarAsync())! > 0)
            {
                break;
            }

            DateTime.UtcNow.Should().BeBefore(deadline, "the silo should be waiting for the schema lock by now; output:\n" + silo.Output);
            await Task.Delay(100);
        }

        var signalled = silo.Terminate();
        var exitCode = await silo.WaitForExitAsync(TimeSpan.FromSeconds(20));
        var exited = await silo.Exited;

        exitCode.Should().Be(0, "a SIGTERM while starting is a clean stop, not the runtime's 143; output:\n" + silo.Output);
        (exited - signalled).Should().BeLessThan(TimeSpan.FromSeconds(10), "the wait for the lock is cancelled, not sat out");
        silo.Output.Should().Contain("Stop requested while starting (preparing the schema)");
    }

    /// <summary>
    /// The chaos soak restarted Postgres while a silo started: the schema step had passed, Orleans' start then failed
    /// on the database, and the silo died of the unhandled exception (exit 134, a page of stack trace). It now exits
    /// with the database error code and one line, as when Postgres cannot be reached at all.
    /// </summary>
    [Fact]
    public async Task Silo_WithoutAKeyForSecretsAtRest_ExitsWithCode2AndOneLineNamingTheSetting()
    {
        var connectionString = await PostgresServer.CreateEmptyDatabaseAsync("proc_nokey");
        await using var silo = ProgramProcess.Start(new ProgramStart("silo", BuildOutput.Silo)
        {
            Ports = ProgramPorts.Silo,
            Environment = new Dictionary<string, string?>
            {
                ["ConnectionStrings__MeshHook"] = connectionString,
                ["Orleans__ClusterId"] = $"proc-{Guid.NewGuid():N}",
                [ProgramProcess.SecretsKeyName] = null,
            },
        });

        var exitCode = await silo.WaitForExitAsync(ExitTimeout);

        exitCode.Should().Be(2, silo.Output);
        silo.Output.Should().Contain("MeshHook.Silo: invalid configuration: no MeshHook:Secrets:Key is configured");
        silo.Output.Should().NotContain("Unhandled exception");
    }

    [Fact]
    public async Task Silo_PostgresGoesAwayAfterTheSchemaStep_ExitsWithTheDatabaseErrorAndOneLine()
    {
        var connectionString = await PostgresServer.CreateEmptyDatabaseAsync("proc_lostdb");
        await using var silo = ProgramProcess.Start(new ProgramStart("silo", BuildOutput.Silo)
        {
            Ports = ProgramPorts.Silo,
            Environment = new Dictionary<string, string?>
            {
                ["ConnectionStrings__MeshHook"] = connectionString,
                ["Orleans__ClusterId"] = $"proc-{Guid.NewGuid():N}",
            },
        });
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!silo.Output.Contains("Schema up to date", StringComparison.Ordinal))
        {
            silo.HasExited.Should().BeFalse("the silo prepares the schema first; output:\n" + silo.Output);
            DateTime.UtcNow.Should().BeBefore(deadline, "the schema step should be done by now; output:\n" + silo.Output);
            await Task.Delay(20);
        }

        int exitCode;
        await PostgresServer.SetDatabaseReachableAsync(connectionString, reachable: false);
        try
        {
            exitCode = await silo.WaitForExitAsync(ExitTimeout);
        }
        finally
        {
            await PostgresServer.SetDatabaseReachableAsync(connectionString, reachable: true);
        }

        exitCode.Should().Be(3, silo.Output);
        silo.Output.Should().Contain("MeshHook.Silo: lost the database at 127.0.0.1:");
        silo.Output.Should().NotContain("Unhandled exception");
    }

    /// <summary>
    /// SIGTERM while the silo joins the cluster. The chaos soak saw such a silo die of an unhandled exception (exit 134):
    /// Orleans refuses to stop a silo whose start did not run far enough. Here the join is parked on the membership
    /// table, which the test holds locked, and the silo gets SIGTERM there.
    /// </summary>
    [Fact]
    public async Task Silo_SigtermWhileJoiningTheCluster_ExitsZero()
    {
        await using var silo = await SigtermWhileParkedOnLockAsync("proc_joinsig", "orleans_membership", "ACCESS EXCLUSIVE");
        var exitCode = await silo.WaitForExitAsync(ExitTimeout);
        exitCode.Should().Be(0, "a SIGTERM while joining is a clean stop; output:\n" + silo.Output);
        silo.Output.Should().Contain("Stop requested while starting (joining the cluster)");
        silo.Output.Should().NotContain("Unhandled exception");
    }

    /// <summary>
    /// Soak bug 13: the soak (like an operator who keeps MeshHook's hosting lines and little else) runs its silos at
    /// Warning with MeshHook.Silo.Hosting at Information. The line saying a stop came while starting was logged under the
    /// application's category and filtered out, so such a stop looked ungraceful. It is logged under
    /// MeshHook.Silo.Hosting.Startup now, and shows with those levels.
    /// </summary>
    [Fact]
    public async Task Silo_SigtermWhileJoining_WithTheSoaksLogLevels_StillSaysItStoppedWhileStarting()
    {
        await using var silo = await SigtermWhileParkedOnLockAsync("proc_joinlevels", "orleans_membership", "ACCESS EXCLUSIVE", new Dictionary<string, string?>
        {
            ["Logging__LogLevel__Default"] = "Warning",
            ["Logging__LogLevel__MeshHook.Silo.Hosting"] = "Information",
        });
        (await silo.WaitForExitAsync(ExitTimeout)).Should().Be(0, silo.Output);
        silo.Output.Should().Contain("Stop requested while starting (joining the cluster)");
    }

    /// <summary>
    /// A later point of the join than the test above: the membership table is locked against writes only, so the silo
    /// reads it (stage RuntimeGrainServices) and parks on its first write, the status Joining (stage
    /// AfterRuntimeGrainServices). Orleans cancels that write when the stop is requested; the silo exits 0 and says why.
    /// (Soak bug 17, a stop reported at the boundary between two stages, is the next test: here the stage itself fails
    /// with an OperationCanceledException.)
    /// </summary>
    [Fact]
    public async Task Silo_SigtermWhileItsJoinWriteWaits_ExitsZero_NamingTheCancellation()
    {
        await using var silo = await SigtermWhileParkedOnLockAsync("proc_stagesig", "orleans_membership", "EXCLUSIVE");
        var exitCode = await silo.WaitForExitAsync(ExitTimeout);
        exitCode.Should().Be(0, "a SIGTERM while starting is a clean stop; output:\n" + silo.Output);
        silo.Output.Should().Contain("Stop requested while starting (joining the cluster): stopping what started (OperationCanceledException)");
        silo.Output.Should().Contain("stage 'AfterRuntimeGrainServices (8100)'", "the silo had read the table and was writing its status");
        silo.Output.Should().NotContain("Unhandled exception");
    }

    /// <summary>
    /// Soak bug 17: a stop requested while one of Orleans' start stages is running, by a participant that ends normally
    /// once cancelled, makes Orleans throw its own OrleansLifecycleCanceledException at the next stage boundary, not an
    /// OperationCanceledException; the silo died of it (exit 134). MeshHook's report participant opens the data source's
    /// first connection at start (stage 18999, after the join) and gives up quietly when the start is cancelled. Here
    /// that first open loads Postgres' types and parks on pg_enum, which the test holds locked; SIGTERM cancels it, the
    /// participant ends normally, and Orleans cancels the start at the boundary. The silo exits 0 and names the exception.
    /// </summary>
    [Fact]
    public async Task Silo_SigtermBetweenTwoStartStages_ExitsZero_OnOrleansLifecycleCanceledException()
    {
        var connectionString = await MigratedDatabaseAsync("proc_bug17");

        // The membership table first, so that the silo gets past its schema step (which loads the types of its own pool
        // from Postgres) and parks at the join; then pg_enum, which only a pool still loading its types reads; then
        // the join goes on, and the first open of MeshHook's data source parks on pg_enum.
        await using var membership = await LockAsync(connectionString, "orleans_membership", "EXCLUSIVE");
        await using var silo = StartJoiningSilo(connectionString);
        await WaitUntilAWaiterAsync(membership, silo, "orleans_membership");
        await using var types = await LockAsync(connectionString, "pg_catalog.pg_enum", "ACCESS EXCLUSIVE");
        await membership.DisposeAsync();
        await WaitUntilAWaiterAsync(types, silo, "pg_enum");
        silo.Terminate();
        await Task.WhenAny(silo.Exited, Task.Delay(TimeSpan.FromSeconds(3)));
        await types.DisposeAsync();
        var exitCode = await silo.WaitForExitAsync(ExitTimeout);
        exitCode.Should().Be(0, "a SIGTERM between two start stages is a clean stop; output:\n" + silo.Output);
        silo.Output.Should().Contain("Stop requested while starting (joining the cluster): stopping what started (OrleansLifecycleCanceledException)");
        silo.Output.Should().NotContain("Unhandled exception");
    }

    private static Task<TableLock> LockAsync(string connectionString, string table, string lockMode) =>
        TableLock.TakeAsync(connectionString, table, lockMode);

    /// <summary>Until another session waits for <paramref name="held"/> (the silo, which must not exit meanwhile).</summary>
    private static async Task WaitUntilAWaiterAsync(TableLock held, ProgramProcess silo, string table)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!await held.HasWaiterAsync())
        {
            silo.HasExited.Should().BeFalse($"the silo waits for {table}; output:\n" + silo.Output);
            DateTime.UtcNow.Should().BeBefore(deadline, $"the silo should wait for {table} by now; output:\n" + silo.Output);
            await Task.Delay(100);
        }
    }

    /// <summary>
    /// Starts a silo on a fresh, migrated database where <paramref name="table"/> is locked in <paramref name="lockMode"/>,
    /// waits until the silo waits for that lock, sends SIGTERM, gives the silo up to 3 s to exit (Orleans' membership
    /// calls may not heed the cancellation), then releases the lock. Returns the silo, exited or exiting.
    /// </summary>
    private static async Task<ProgramProcess> SigtermWhileParkedOnLockAsync(
        string database, string table, string lockMode, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var connectionString = await MigratedDatabaseAsync(database);
        await using var held = await LockAsync(connectionString, table, lockMode);
        var silo = StartJoiningSilo(connectionString, settings);
        try
        {
            await WaitUntilAWaiterAsync(held, silo, table);
            silo.Terminate();
            await Task.WhenAny(silo.Exited, Task.Delay(TimeSpan.FromSeconds(3)));
            return silo;
        }
        catch
        {
            await silo.DisposeAsync();
            throw;
        }
    }

    /// <summary>A fresh database with the schema applied by the silo's own <c>--migrate</c>.</summary>
    private static async Task<string> MigratedDatabaseAsync(string database)
    {
        var connectionString = await PostgresServer.CreateEmptyDatabaseAsync(database);
        await using var migrate = StartSilo(new Dictionary<string, string?> { ["ConnectionStrings__MeshHook"] = connectionString }, "--migrate");
        (await migrate.WaitForExitAsync(ExitTimeout)).Should().Be(0, migrate.Output);
        return connectionString;
    }

    /// <summary>A silo of a cluster of its own on <paramref name="connectionString"/>, started without waiting for it.</summary>
    private static ProgramProcess StartJoiningSilo(string connectionString, IReadOnlyDictionary<string, string?>? settings = null) =>
        ProgramProcess.Start(new ProgramStart("silo", BuildOutput.Silo)
        {
            Ports = ProgramPorts.Silo,
            Environment = new Dictionary<string, string?>
            {
                ["ConnectionStrings__MeshHook"] = connectionString,
                ["Orleans__ClusterId"] = $"proc-{Guid.NewGuid():N}",
            }.Concat(settings ?? new Dictionary<string, string?>()).ToDictionary(),
        });

    /// <summary>
    /// The silo's web server starts after Orleans, so a silo whose HTTP port is taken has already joined the cluster when
    /// the bind fails (seen in the container test: a port held by another process's outgoing connection). It used to die of
    /// the unhandled exception, still listed active. It now says why on one line, leaves the cluster the ordinary way, and
    /// exits 4.
    /// </summary>
    [Fact]
    public async Task Silo_WhoseHttpPortIsTaken_SaysSo_LeavesTheCluster_AndExitsFour()
    {
        var connectionString = await PostgresServer.CreateEmptyDatabaseAsync("proc_httpport");
        using var taken = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var clusterId = $"proc-{Guid.NewGuid():N}";
        await using var silo = ProgramProcess.Start(new ProgramStart("silo", BuildOutput.Silo)
        {
            Ports = ProgramPorts.Silo,
            HttpPort = port,
            Environment = new Dictionary<string, string?>
            {
                ["ConnectionStrings__MeshHook"] = connectionString,
                ["Orleans__ClusterId"] = clusterId,
            },
        });

        var exitCode = await silo.WaitForExitAsync(ExitTimeout);
        exitCode.Should().Be(4, silo.Output);
        silo.Output.Should().Contain($"MeshHook.Silo: cannot listen for HTTP (health and metrics): Failed to bind to address http://127.0.0.1:{port}");
        silo.Output.Should().NotContain("Unhandled exception");
        var statuses = await new MeshHookDatabase(connectionString).MembershipStatusesAsync(clusterId, silo.SiloPort);
        statuses.Should().Equal([6], "the silo joined, then left: its membership row says Dead, not Active");
    }

    [Fact]
    public async Task Silo_ReminderServiceCannotLoadItsRange_AnswersNotReadyWithTheReasonUntilItLoads()
    {
        var connectionString = await PostgresServer.CreateEmptyDatabaseAsync("proc_reminders");
        await using (var migrate = StartSilo(new Dictionary<string, string?> { ["ConnectionStrings__MeshHook"] = connectionString }, "--migrate"))
        {
            (await migrate.WaitForExitAsync(ExitTimeout)).Should().Be(0, migrate.Output);
        }

        // Every range read of the reminder service fails, as when Postgres refuses its connections.
        var gate = new ReminderRangeGate(connectionString);
        await gate.InstallAsync(ReminderRangeGate.Fail);
        await using var silo = ProgramProcess.Start(new ProgramStart("silo", BuildOutput.Silo)
        {
            Ports = ProgramPorts.Silo,
            Environment = new Dictionary<string, string?>
            {
                ["ConnectionStrings__MeshHook"] = connectionString,
                ["Orleans__ClusterId"] = $"proc-{Guid.NewGuid():N}",
                // Orleans retries a failed first load at this period (5 minutes by default).
                ["Orleans__ReminderService__RefreshReminderListPeriod"] = "00:00:01",
            },
        });
        using var http = new HttpClient { BaseAddress = silo.HttpAddress, Timeout = TimeSpan.FromSeconds(5) };

        // Orleans gives up after its third failed load: from then on registrations fail at once.
        await Poll.UntilAsync(
            () => Task.FromResult(silo.HasExited || silo.Output.Contains("ReminderService failed initial load of reminders and cannot guarantee", StringComparison.Ordinal)),
            "Orleans' reminder service to give up its first load",
            TimeSpan.FromSeconds(60));
        silo.HasExited.Should().BeFalse(silo.Output);
        using (var response = await http.GetAsync("/health/ready"))
        {
            var body = await response.Content.ReadAsStringAsync();
            response.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable, body);
            body.Should().StartWith("Unhealthy\n");
            body.Should().Contain("reminders: Orleans' reminder service has not loaded this silo's reminder range");
            body.Should().NotContain("silo:", "the silo itself is active; only its reminder service is not");
        }

        await gate.SetAsync(ReminderRangeGate.Open);

        HttpStatusCode? ready = null;
        await Poll.UntilAsync(
            async () =>
            {
                using var response = await http.GetAsync("/health/ready");
                ready = response.StatusCode;
                return ready == HttpStatusCode.OK;
            },
            "/health/ready to answer 200 once Orleans' next load of the range succeeded (it does not wait for a restart)",
            TimeSpan.FromSeconds(60));
        (await http.GetStringAsync("/health/ready")).Should().Be("Healthy\n");
    }

    /// <summary>A silo expected to exit before it listens, so it gets no ports.</summary>
    private static ProgramProcess StartSilo(IReadOnlyDictionary<string, string?> environment, params string[] arguments) =>
        ProgramProcess.Start(new ProgramStart("silo", BuildOutput.Silo) { Arguments = arguments, Environment = environment });
}
