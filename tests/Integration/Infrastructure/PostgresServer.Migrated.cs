using MeshHook.Silo.Hosting;
using Microsoft.Extensions.Logging.Abstractions;

namespace MeshHook.Tests.Integration.Infrastructure;

public static partial class PostgresServer
{
    /// <summary>Creates a database with a unique name and (by default) applies the schema; returns its connection string.</summary>
    public static async Task<string> CreateDatabaseAsync(string prefix, bool migrate = true)
    {
        var connectionString = await CreateEmptyDatabaseAsync(prefix);
        if (migrate)
        {
            await SchemaMigrator.MigrateAsync(connectionString, NullLogger.Instance, CancellationToken.None);
        }

        return connectionString;
    }
}
