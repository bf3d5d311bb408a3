using System.Diagnostics;
using MeshHook.Testing.Processes;
using Npgsql;

namespace MeshHook.Bench.Infrastructure;

/// <summary>
/// The Postgres server the benchmark measures: <c>ConnectionStrings__MeshHook</c> when set, otherwise a throwaway
/// server started by <c>scripts/pg.sh</c> with the default durability settings (fsync and synchronous_commit on).
/// </summary>
public sealed class BenchPostgres : IAsyncDisposable
{
    private readonly string? _dataDir;
    private readonly string _repositoryRoot;
    private int _port;
    private int _stopped;

    private BenchPostgres(string adminConnectionString, string? dataDir, string repositoryRoot)
    {
        AdminConnectionString = adminConnectionString;
        _dataDir = dataDir;
        _repositoryRoot = repositoryRoot;
    }

    /// <summary>A connection string to the server's maintenance database.</summary>
    public string AdminConnectionString { get; private set; }

    /// <summary>The server's postmaster when the benchmark started it (its CPU time is then measured), else null.</summary>
    public int? PostmasterPid
    {
        get
        {
            var file = _dataDir is null ? null : Path.Combine(_dataDir, "postmaster.pid");
            return file is not null && File.Exists(file) && int.TryParse(File.ReadLines(file).First(), out var pid) ? pid : null;
        }
    }

    /// <summary>Where the server came from, for the report.</summary>
    public string Origin => _dataDir is null ? "ConnectionStrings__MeshHook" : $"throwaway (scripts/pg.sh, data in {_dataDir})";

    /// <param name="cancellationToken">Stops the start.</param>
    /// <param name="throwaway">Always start a server of its own, even when <c>ConnectionStrings__MeshHook</c> is set (the chaos soak restarts it).</param>
    public static async Task<BenchPostgres> StartAsync(CancellationToken cancellationToken, bool throwaway = false)
    {
        var root = BenchMachine.RepositoryRoot();
        var configured = Environment.GetEnvironmentVariable("ConnectionStrings__MeshHook");
        if (!throwaway && !string.IsNullOrWhiteSpace(configured))
        {
            return new BenchPostgres(configured, dataDir: null, root);
        }

        var port = FreePorts.Take();
        var dataDir = Path.Combine(Path.GetTempPath(), $"meshhook-bench-pg-{Environment.ProcessId}");
        // The instance exists from here on, so a failure or Ctrl-C below still stops whatever pg.sh managed to start.
        var postgres = new BenchPostgres("", dataDir, root) { _port = port };
        try
        {
            var (exitCode, stdout, stderr) = await RunScriptAsync(root, ["start", dataDir, port.ToString()], cancellationToken);
            if (exitCode != 0)
            {
                throw new InvalidOperationException($"scripts/pg.sh start failed ({exitCode}): {stderr}");
            }

            postgres.AdminConnectionString = stdout.Trim().Split('\n').Last();
            return postgres;
        }
        catch
        {
            await postgres.DisposeAsync();
            throw;
        }
    }

    /// <summary>Creates an empty database with a unique name; returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string prefix, CancellationToken cancellationToken)
    {
        var name = $"{prefix}_{Guid.NewGuid():N}"[..Math.Min(prefix.Length + 13, 63)].ToLowerInvariant();
        await using (var connection = new NpgsqlConnection(AdminConnectionString))
        {
            await connection.OpenAsync(cancellationToken);
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        return new NpgsqlConnectionStringBuilder(AdminConnectionString) { Database = name }.ConnectionString;
    }

    /// <summary>Restarts the throwaway server (<c>pg_ctl</c> fast stop, then start): every connection is dropped.</summary>
    public Task RestartServerAsync(CancellationToken cancellationToken) => StartServerAsync(cancellationToken);

    /// <summary>Stops the throwaway server (fast shutdown) until <see cref="StartServerAsync"/>.</summary>
    public async Task StopServerAsync(CancellationToken cancellationToken)
    {
        var dataDir = _dataDir ?? throw new InvalidOperationException("only a throwaway server can be stopped");
        var (exitCode, _, stderr) = await RunScriptAsync(_repositoryRoot, ["stop", dataDir], cancellationToken);
        // Npgsql does not check a pooled connection before handing it out: one left idle across the stop would fail
        // its next command with a broken pipe (as the soak's settle loop did in CI).
        NpgsqlConnection.ClearAllPools();
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"scripts/pg.sh stop failed ({exitCode}): {stderr}");
        }
    }

    /// <summary>Starts the throwaway server again on its port and data (stopping it first if it runs).</summary>
    public async Task StartServerAsync(CancellationToken cancellationToken)
    {
        var dataDir = _dataDir ?? throw new InvalidOperationException("only a throwaway server can be restarted");
        var (exitCode, _, stderr) = await RunScriptAsync(_repositoryRoot, ["start", dataDir, _port.ToString(System.Globalization.CultureInfo.InvariantCulture)], cancellationToken);
        NpgsqlConnection.ClearAllPools();
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"scripts/pg.sh start failed ({exitCode}): {stderr}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_dataDir is null || Interlocked.Exchange(ref _stopped, 1) == 1)
        {
            return;
        }

        NpgsqlConnection.ClearAllPools();
        await RunScriptAsync(_repositoryRoot, ["stop", _dataDir], CancellationToken.None);
        try
        {
            Directory.Delete(_dataDir, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left for the OS to clean up with the rest of the temp folder.
        }
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunScriptAsync(string root, string[] args, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("bash", [Path.Combine(root, "scripts", "pg.sh"), .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        // Whatever the caller's environment says, the benchmark measures a durable server.
        start.Environment.Remove("PG_EXTRA_OPTS");
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start scripts/pg.sh");
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        // pg.sh is not cut short on Ctrl-C: a half-started server would be left behind.
        await process.WaitForExitAsync(CancellationToken.None);
        cancellationToken.ThrowIfCancellationRequested();
        return (process.ExitCode, await stdout, await stderr);
    }
}
