using Npgsql;

namespace MeshHook.Bench.Throughput;

/// <summary>
/// Postgres counters read at the edges of a window. <see cref="Xid"/> (next transaction id) counts transactions that wrote
/// and is exact; <see cref="XactCommit"/> (pg_stat_database, reads included) and <see cref="WalSync"/> (pg_stat_wal, WAL
/// fsyncs: one per group commit) are flushed by backends about once a second, which evens out over a steady window.
/// </summary>
public sealed record PgCounters(long XactCommit, long Xid, long WalBytes, long WalSync)
{
    public static async Task<PgCounters> ReadAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()),
                   pg_snapshot_xmax(pg_current_snapshot())::text::bigint,
                   (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint,
                   (SELECT wal_sync FROM pg_stat_wal)
            """;
        await using var command = dataSource.CreateCommand(sql);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new PgCounters(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3));
    }

    public static PgCounters operator -(PgCounters end, PgCounters start) =>
        new(end.XactCommit - start.XactCommit, end.Xid - start.Xid, end.WalBytes - start.WalBytes, end.WalSync - start.WalSync);
}
