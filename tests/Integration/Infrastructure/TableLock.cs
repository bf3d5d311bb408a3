using Npgsql;

namespace MeshHook.Tests.Integration.Infrastructure;

/// <summary>
/// A table lock held in an open transaction of a connection of its own, so that a test can park whatever needs the
/// table at a known point; disposing rolls the transaction back, which releases the lock.
/// </summary>
public sealed class TableLock : IAsyncDisposable
{
    private readonly NpgsqlConnection _connection;
    private readonly string _table;
    private NpgsqlTransaction? _transaction;

    private TableLock(NpgsqlConnection connection, NpgsqlTransaction transaction, string table) =>
        (_connection, _transaction, _table) = (connection, transaction, table);

    /// <summary>Takes <c>LOCK TABLE <paramref name="table"/> IN <paramref name="lockMode"/> MODE</c>.</summary>
    public static async Task<TableLock> TakeAsync(string connectionString, string table, string lockMode)
    {
        var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        var transaction = await connection.BeginTransactionAsync();
        await using (var take = new NpgsqlCommand($"LOCK TABLE {table} IN {lockMode} MODE", connection, transaction))
        {
            await take.ExecuteNonQueryAsync();
        }

        return new TableLock(connection, transaction, table);
    }

    /// <summary>Whether another session waits for a lock on the table now.</summary>
    public async Task<bool> HasWaiterAsync() =>
        await CountAsync("SELECT count(*) FROM pg_locks WHERE relation = @table::regclass AND NOT granted", ("table", _table)) > 0;

    /// <summary>
    /// A <c>count(*)</c> read on the lock's own connection, inside its transaction: that connection has loaded its types,
    /// which matters when the lock is on a catalog a fresh connection reads.
    /// </summary>
    public async Task<long> CountAsync(string sql, params (string Name, object Value)[] parameters)
    {
        await using var read = new NpgsqlCommand(sql, _connection, _transaction);
        foreach (var (name, value) in parameters)
        {
            read.Parameters.AddWithValue(name, value);
        }

        return (long)(await read.ExecuteScalarAsync())!;
    }

    public async ValueTask DisposeAsync()
    {
        if (_transaction is { } transaction)
        {
            _transaction = null;
            await transaction.RollbackAsync();
            await _connection.DisposeAsync();
        }
    }
}
