using System.Text.RegularExpressions;
using AwesomeAssertions;
using MeshHook.Tests.Integration.Infrastructure;
using MeshHook.Tests.Integration.Runs;
using MeshHook.Tests.Process.Infrastructure;
using Npgsql;

namespace MeshHook.Tests.Process.Shutdown;

/// <summary>
/// Issue 3, item 8: after a graceful stop Postgres must not log a client vanishing mid-connection. The test database
/// gets <c>log_min_messages = debug1</c> (ALTER DATABASE, so only its backends are affected), which makes a backend
/// log "unexpected EOF on client connection" whenever its client closes the socket without Postgres' Terminate
/// message. The backends of the test database are collected from <c>pg_stat_activity</c> while each silo runs, and
/// the server log is read through <c>pg_read_file</c> (the server is the one <c>scripts/pg.sh</c> starts, logging to
/// <c>server.log</c> in its data directory). A SIGKILLed silo is the control: the same check must find its
/// connections vanishing, or the check proves nothing.
/// </summary>
[Collection(SiloProcessesCollection.Name)]
public sealed partial class PostgresDisconnectTests
{
    private const string ServerLog = "server.log";

    private static ITestOutputHelper? Log => TestContext.Current.TestOutputHelper;

    [Fact]
    public async Task Sigterm_PostgresLogsNoClientVanishing_WhileSigkillDoes()
    {
        await using var cluster = await ProcessCluster.CreateAsync("proc_pgclose", new Dictionary<string, string?>());
        var database = new NpgsqlConnectionStringBuilder(cluster.ConnectionString).Database!;
        await ExecuteAsync(cluster.ConnectionString, $"""ALTER DATABASE "{database}" SET log_min_messages = 'debug1'""");

        // A graceful stop of a silo that has done some work (both pools hold connections).
        var gracefulFrom = await LogSizeAsync(cluster.ConnectionString);
        var gracefulPids = BackendWatcher.Start(cluster.ConnectionString, database);
        var graceful = (await cluster.StartSilosAsync("graceful"))[0];
        var slug = await cluster.PublishAsync(Workflows.TwoCalls(cluster.Sink.BaseAddress, 50));
        var runIds = await cluster.Database.CreateRunsAsync(slug, 10);
        await RunChecks.AllSucceedAsync(cluster, runIds, TimeSpan.FromSeconds(60), "the runs finish on the silo");
        graceful.Process.Terminate();
        (await graceful.WaitForExitAsync(TimeSpan.FromSeconds(60), "the SIGTERMed silo exits")).Should().Be(0, graceful.Process.Output);
        var gracefulLog = await VanishedAsync(cluster.ConnectionString, await gracefulPids.StopAsync(), gracefulFrom);

        // The control: the same work, then SIGKILL.
        var killedFrom = await LogSizeAsync(cluster.ConnectionString);
        var killedPids = BackendWatcher.Start(cluster.ConnectionString, database);
        var killed = (await cluster.StartSilosAsync("killed"))[0];
        var moreRunIds = await cluster.Database.CreateRunsAsync(slug, 10);
        await RunChecks.AllSucceedAsync(cluster, moreRunIds, TimeSpan.FromSeconds(60), "the runs finish on the second silo");
        killed.Process.KillHard();
        await killed.WaitForExitAsync(TimeSpan.FromSeconds(30), "the SIGKILLed silo dies");
        var killedLog = await VanishedAsync(cluster.ConnectionString, await killedPids.StopAsync(), killedFrom);

        Log?.WriteLine($"graceful stop: {gracefulLog.Sessions} backend(s) of the test database seen, vanished: {string.Join(" | ", gracefulLog.Vanished)}");
        Log?.WriteLine($"SIGKILL: {killedLog.Sessions} backend(s) seen, vanished: {killedLog.Vanished.Count}");
        gracefulLog.Sessions.Should().BeGreaterThan(2, "the silo held connections to the test database");
        gracefulLog.Vanished.Should().BeEmpty("a graceful stop closes every connection with a Terminate message");
        killedLog.Vanished.Should().NotBeEmpty("the check sees connections vanish when a silo is killed (control)");
    }

    /// <summary>The log lines, since <paramref name="from"/>, of the given backends that say their client went away without saying goodbye.</summary>
    private static async Task<(int Sessions, List<string> Vanished)> VanishedAsync(string connectionString, IReadOnlySet<string> pids, long from)
    {
        // A backend logs the EOF as it exits; give the last ones a moment.
        await Task.Delay(TimeSpan.FromSeconds(1));
        var text = await ReadLogAsync(connectionString, from);
        var vanished = text.Split('\n')
            .Where(l => Pid(l) is { } pid && pids.Contains(pid))
            .Where(l => l.Contains("unexpected EOF on client connection", StringComparison.Ordinal)
                || l.Contains("could not receive data from client", StringComparison.Ordinal)
                || l.Contains("connection reset by peer", StringComparison.OrdinalIgnoreCase))
            .ToList();
        return (pids.Count, vanished);
    }

    private static string? Pid(string line) => PidPattern().Match(line) is { Success: true } match ? match.Groups[1].Value : null;

    // scripts/pg.sh keeps Postgres' default log_line_prefix, '%m [%p] ': a timestamp, then the backend's pid in brackets.
    [GeneratedRegex(@"^\S+ \S+ \S+ \[(\d+)\]")]
    private static partial Regex PidPattern();

    private static async Task<long> LogSizeAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"SELECT size FROM pg_stat_file('{ServerLog}', true)", connection);
        var size = await command.ExecuteScalarAsync();
        size.Should().BeOfType<long>($"the server logs to {ServerLog} in its data directory, as scripts/pg.sh starts it");
        return (long)size!;
    }

    private static async Task<string> ReadLogAsync(string connectionString, long from)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            $"SELECT pg_read_file('{ServerLog}', @from, (SELECT size FROM pg_stat_file('{ServerLog}')) - @from)", connection);
        command.Parameters.AddWithValue("from", from);
        return (string)(await command.ExecuteScalarAsync())!;
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Collects the pids of the test database's backends (other than its own) every 50 ms until stopped.</summary>
    private sealed class BackendWatcher
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly HashSet<string> _pids = [];
        private Task _loop = Task.CompletedTask;

        public static BackendWatcher Start(string connectionString, string database)
        {
            var watcher = new BackendWatcher();
            watcher._loop = Task.Run(() => watcher.LoopAsync(connectionString, database));
            return watcher;
        }

        public async Task<IReadOnlySet<string>> StopAsync()
        {
            await _stop.CancelAsync();
            await _loop;
            return _pids;
        }

        private async Task LoopAsync(string connectionString, string database)
        {
            // Its own connection, not pooled: it ends (with a Terminate) when the watcher stops.
            await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT pid FROM pg_stat_activity WHERE datname = @db AND pid <> pg_backend_pid()", connection);
            command.Parameters.AddWithValue("db", database);
            while (!_stop.IsCancellationRequested)
            {
                await using (var reader = await command.ExecuteReaderAsync())
                {
                    while (await reader.ReadAsync())
                    {
                        _pids.Add(reader.GetInt32(0).ToString(System.Globalization.CultureInfo.InvariantCulture));
                    }
                }

                await Task.Delay(50, CancellationToken.None);
            }
        }
    }
}
