using System.Diagnostics;
using Npgsql;

namespace MeshHook.Tests.Integration.Infrastructure;

/// <summary>
/// The Postgres server the tests use: <c>ConnectionStrings__MeshHook</c> when set, otherwise a throwaway
/// server started by <c>scripts/pg.sh</c> once per test process. Never a mock; no server means the tests fail.
/// </summary>
public static partial class PostgresServer
{
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static string? _adminConnectionString;

    /// <summary>A connection string to the server's maintenance database.</summary>
    public static async Task<string> GetAdminConnectionStringAsync()
    {
        await Gate.WaitAsync();
        try
        {
            return _adminConnectionString ??= await ResolveAsync();
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>Creates an empty database with a unique name; returns its connection string.</summary>
    /// <summary>
    /// Refuses (or allows again) every connection to the database of <paramref name="connectionString"/>, ending the open
    /// ones: Postgres down, for that database only, while the server and the other tests' databases go on.
    /// </summary>
    public static async Task SetDatabaseReachableAsync(string connectionString, bool reachable)
    {
        var database = new NpgsqlConnectionStringBuilder(connectionString).Database!;
        await using var admin = new NpgsqlConnection(await GetAdminConnectionStringAsync());
        await admin.OpenAsync();
        await using (var alter = new NpgsqlCommand($"ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS {(reachable ? "true" : "false")}", admin))
        {
            await alter.ExecuteNonQueryAsync();
        }

        if (!reachable)
        {
            await using var terminate = new NpgsqlCommand("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = @db AND pid <> pg_backend_pid()", admin);
            terminate.Parameters.AddWithValue("db", database);
            await terminate.ExecuteNonQueryAsync();
        }
    }

    public static async Task<string> CreateEmptyDatabaseAsync(string prefix)
    {
        var admin = await GetAdminConnectionStringAsync();
        var name = $"{prefix}_{Guid.NewGuid():N}"[..Math.Min(prefix.Length + 33, 63)].ToLowerInvariant();
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await create.ExecuteNonQueryAsync();
        }

        return new NpgsqlConnectionStringBuilder(admin) { Database = name }.ConnectionString;
    }

    private static async Task<string> ResolveAsync()
    {
        var configured = Environment.GetEnvironmentVariable("ConnectionStrings__MeshHook");
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return configured;
        }

        var root = RepositoryRoot.Find();
        var port = 56000 + (Environment.ProcessId % 1000);
        var dataDir = Path.Combine(Path.GetTempPath(), $"meshhook-test-pg-{port}");
        var start = new ProcessStartInfo("bash", [Path.Combine(root, "scripts", "pg.sh"), "start", dataDir, port.ToString()])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment = { ["PG_EXTRA_OPTS"] = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off" },
        };
        using var process = System.Diagnostics.Process.Start(start) ?? throw new InvalidOperationException("could not start scripts/pg.sh");
        var stdout = await process.StandardOutput.ReadToEndAsync();
        var stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"no Postgres for the tests: ConnectionStrings__MeshHook is not set and scripts/pg.sh start failed ({process.ExitCode}): {stderr}");
        }

        var stopCommand = $"{Quote(Path.Combine(root, "scripts", "pg.sh"))} stop {Quote(dataDir)}";
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            using var stop = System.Diagnostics.Process.Start("bash", ["-c", stopCommand]);
            stop?.WaitForExit(30_000);
        };

        // The exit handler does not run when the test process is killed (a runner's timeout, Ctrl-C twice): a watcher in
        // its own session, so that killing the test process tree does not take it along, stops the server then.
        using var watcher = System.Diagnostics.Process.Start(new ProcessStartInfo(
            "setsid", ["bash", "-c", $"exec >/dev/null 2>&1 </dev/null; while kill -0 {Environment.ProcessId}; do sleep 2; done; {stopCommand}"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        });
        return stdout.Trim().Split('\n').Last();
    }

    private static string Quote(string text) => "'" + text.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
