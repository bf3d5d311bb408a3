using AwesomeAssertions;
using MeshHook.Silo.Hosting;
using MeshHook.Tests.Integration.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace MeshHook.Tests.Integration.Schema;

public sealed class SchemaMigratorTests
{
    [Fact]
    public async Task Migrate_FreshDatabase_AppliesEveryScriptOnceAndReapplyingIsANoOp()
    {
        var connectionString = await PostgresServer.CreateDatabaseAsync("migrate", migrate: false);

        var first = await SchemaMigrator.MigrateAsync(connectionString, NullLogger.Instance, CancellationToken.None);
        var second = await SchemaMigrator.MigrateAsync(connectionString, NullLogger.Instance, CancellationToken.None);

        first.Should().Equal(SchemaMigrator.ScriptNames);
        second.Should().BeEmpty();
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var count = new NpgsqlCommand("SELECT count(*) FROM meshhook_schema_versions", connection);
        ((long)(await count.ExecuteScalarAsync())!).Should().Be(SchemaMigrator.ScriptNames.Count);
    }

    [Fact]
    public async Task Migrate_ManySilosAtOnce_EachScriptIsAppliedExactlyOnce()
    {
        var connectionString = await PostgresServer.CreateDatabaseAsync("migrate_race", migrate: false);

        var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ =>
            Task.Run(() => SchemaMigrator.MigrateAsync(connectionString, NullLogger.Instance, CancellationToken.None))));

        results.SelectMany(r => r).Should().Equal(SchemaMigrator.ScriptNames);
    }
}
