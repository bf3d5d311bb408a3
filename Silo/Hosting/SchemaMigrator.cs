using System.Reflection;
using DbUp;
using DbUp.Engine.Output;
using Npgsql;

namespace MeshHook.Silo.Hosting;

/// <summary>Applies the numbered scripts of <c>sql/</c> (embedded in this assembly) in order, once each, under an advisory lock.</summary>
public static class SchemaMigrator
{
    // Every silo that starts at the same moment queues on this lock, so exactly one applies each script.
    private const long AdvisoryLockKey = 0x4D65_7368_486F_6F6B; // "MeshHook"
    private const string JournalTable = "meshhook_schema_versions";

    /// <summary>The scripts shipped with this build, in the order they apply.</summary>
    public static IReadOnlyList<string> ScriptNames { get; } = typeof(SchemaMigrator).Assembly
        .GetManifestResourceNames()
        .Where(n => n.StartsWith("sql.", StringComparison.Ordinal))
        .Order(StringComparer.Ordinal)
        .ToArray();

    /// <summary>Applies pending scripts; returns the names of the scripts it applied (none when up to date).</summary>
    public static async Task<IReadOnlyList<string>> MigrateAsync(string connectionString, ILogger logger, CancellationToken cancellationToken)
    {
        await using var lockConnection = new NpgsqlConnection(connectionString);
        await lockConnection.OpenAsync(cancellationToken);
        await using (var take = new NpgsqlCommand("SELECT pg_advisory_lock(@key)", lockConnection))
        {
            take.Parameters.AddWithValue("key", AdvisoryLockKey);
            await take.ExecuteNonQueryAsync(cancellationToken);
        }

        try
        {
            var upgrader = DeployChanges.To
                .PostgresqlDatabase(connectionString)
                .WithScriptsEmbeddedInAssembly(Assembly.GetExecutingAssembly(), name => name.StartsWith("sql.", StringComparison.Ordinal))
                .JournalToPostgresqlTable("public", JournalTable)
                .WithTransactionPerScript()
                .LogTo(new UpgradeLog(logger))
                .Build();

            var result = upgrader.PerformUpgrade();
            if (!result.Successful)
            {
                throw new SchemaMigrationException(
                    $"schema migration failed in script '{result.ErrorScript?.Name ?? "?"}': {result.Error?.Message}", result.Error);
            }

            return result.Scripts.Select(s => s.Name).ToArray();
        }
        finally
        {
            await using var release = new NpgsqlCommand("SELECT pg_advisory_unlock(@key)", lockConnection);
            release.Parameters.AddWithValue("key", AdvisoryLockKey);
            await release.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }

    private sealed class UpgradeLog(ILogger logger) : IUpgradeLog
    {
        public void LogTrace(string format, params object[] args) => logger.LogTrace(format, args);

        public void LogDebug(string format, params object[] args) => logger.LogDebug(format, args);

        public void LogInformation(string format, params object[] args) => logger.LogInformation(format, args);

        public void LogWarning(string format, params object[] args) => logger.LogWarning(format, args);

        public void LogError(string format, params object[] args) => logger.LogError(format, args);

        public void LogError(Exception ex, string format, params object[] args) => logger.LogError(ex, format, args);
    }
}

/// <summary>A schema script failed; the database is left at the last script that committed.</summary>
public sealed class SchemaMigrationException(string message, Exception? inner) : Exception(message, inner);
