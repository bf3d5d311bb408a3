using System.Data;
using MeshHook.Tests.Integration.Infrastructure;
using Npgsql;

namespace MeshHook.Tests.Integration.Orleans;

/// <summary>
/// A migrated database for calling the OrleansQuery texts directly, with parameters bound the way the
/// Orleans ADO.NET providers bind them (by name, typed by DbType). Tests isolate themselves by cluster or
/// service id, so one database serves the whole class.
/// </summary>
public sealed class OrleansQueryDatabase : IAsyncLifetime
{
    private Dictionary<string, string> _queries = [];

    public string ConnectionString { get; private set; } = "";

    public async ValueTask InitializeAsync()
    {
        var connectionString = await PostgresServer.CreateDatabaseAsync("orleans_sql");
        // A session time zone far from UTC: a timestamp sent or stored without its zone would shift visibly.
        ConnectionString = new NpgsqlConnectionStringBuilder(connectionString) { Timezone = "Asia/Kolkata" }.ConnectionString;

        await using var connection = await OpenAsync();
        // The same statement the providers run at start-up, so the table and column names are proven too.
        await using var read = new NpgsqlCommand("SELECT QueryKey, QueryText FROM OrleansQuery", connection);
        await using var reader = await read.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            _queries[reader.GetString(reader.GetOrdinal("QueryKey"))] = reader.GetString(reader.GetOrdinal("QueryText"));
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    public IReadOnlyDictionary<string, string> Queries => _queries;

    public async Task<NpgsqlConnection> OpenAsync()
    {
        var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        return connection;
    }

    /// <summary>Runs a stored query and returns every row as column name → value (DBNull as null).</summary>
    public async Task<List<Dictionary<string, object?>>> QueryAsync(string queryKey, params (string Name, object? Value, DbType Type)[] parameters)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(_queries[queryKey], connection);
        foreach (var (name, value, type) in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter(name, type) { Value = value ?? DBNull.Value });
        }

        var rows = new List<Dictionary<string, object?>>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            var row = new Dictionary<string, object?>(StringComparer.Ordinal);
            for (var i = 0; i < reader.FieldCount; i++)
            {
                row[reader.GetName(i)] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            }

            rows.Add(row);
        }

        return rows;
    }

    /// <summary>The first column of the single row a write query answers with.</summary>
    public async Task<object?> ScalarAsync(string queryKey, params (string Name, object? Value, DbType Type)[] parameters)
    {
        var rows = await QueryAsync(queryKey, parameters);
        return rows.Count == 0 ? null : rows.Single().Values.First();
    }

    public static (string, object?, DbType) P(string name, object? value, DbType type) => (name, value, type);
}
