using Npgsql;

namespace MeshHook.Grains.Runs;

/// <summary>
/// Npgsql settings both programs (silo, gateway) apply to <c>ConnectionStrings:MeshHook</c> before opening any pool.
/// Values the operator set explicitly in the connection string are kept.
/// </summary>
public static class PostgresConnectionDefaults
{
    /// <summary>
    /// Connections one pool keeps open at most, unless the connection string says otherwise. Each process has two
    /// pools (MeshHook's own data source and Orleans' ADO.NET providers), so a silo holds at most twice this.
    /// Npgsql's own default (100 a pool) lets one busy silo take all of a stock Postgres' 100 connections; past the
    /// cap, callers queue for a free connection (for up to the connection string's <c>Timeout</c>, 15 s) instead of
    /// being refused by the server ("53300: sorry, too many clients already").
    /// </summary>
    public const int MaxPoolSize = 20;

    /// <summary>The connection string with MeshHook's pool cap filled in where the operator set none.</summary>
    /// <remarks>
    /// No Reset On Close and automatic preparation are deliberately left at Npgsql's defaults. Session 1 meant to turn
    /// them on, but a ContainsKey check meant they were never applied. Once they were (2026-11-25), the gateway's
    /// bad-input tests got "Received unexpected backend message DataRow" from Npgsql (an HTTP 500) in 3 of 5 full test runs:
    /// a pooled connection out of step with the server after aborted requests. Do not turn them on again without a
    /// test that aborts requests mid-statement.
    /// </remarks>
    public static string Apply(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (!IsSet(builder, "Maximum Pool Size"))
        {
            builder.MaxPoolSize = MaxPoolSize;
        }

        return builder.ConnectionString;
    }

    /// <summary>
    /// Whether the connection string sets <paramref name="canonicalKeyword"/> under any of its spellings. Not
    /// <c>ContainsKey</c>: Npgsql's builder answers true there for every keyword it knows, set or not. Its
    /// <c>Keys</c> lists only the keywords set, each under its canonical name.
    /// </summary>
    private static bool IsSet(NpgsqlConnectionStringBuilder builder, string canonicalKeyword) =>
        builder.Keys.Any(k => string.Equals(k, canonicalKeyword, StringComparison.OrdinalIgnoreCase));
}
