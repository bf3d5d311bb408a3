using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using Orleans.TestingHost;

namespace MeshHook.Tests.Integration.Infrastructure;

/// <summary>
/// What the in-process silos of a cluster log (Information and above), kept in memory so a test can check what an
/// operator would read. Add <see cref="Configurator"/> to a cluster's builder; each entry names the cluster's
/// database, so a test reads its own cluster's entries only.
/// </summary>
public static class CapturedLogs
{
    private static readonly ConcurrentQueue<CapturedLog> Entries = new();

    /// <summary>The entries of <paramref name="cluster"/>'s silos that contain <paramref name="text"/>.</summary>
    public static IEnumerable<CapturedLog> Mentioning(MeshHookCluster cluster, string text)
    {
        var database = new NpgsqlConnectionStringBuilder(cluster.ConnectionString).Database;
        return Entries.Where(e => e.Database == database && e.Message.Contains(text, StringComparison.Ordinal));
    }

    public sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            var database = new NpgsqlConnectionStringBuilder(siloBuilder.Configuration[MeshHookCluster.ConnectionStringKey]).Database ?? "";
            siloBuilder.Services.AddSingleton<ILoggerProvider>(new Provider(database));
        }
    }

    private sealed class Provider(string database) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new Logger(database, categoryName);

        public void Dispose()
        {
        }
    }

    private sealed class Logger(string database, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                Entries.Enqueue(new CapturedLog(database, logLevel, category, formatter(state, exception)));
            }
        }
    }
}

/// <summary>One captured log entry.</summary>
public sealed record CapturedLog(string Database, LogLevel Level, string Category, string Message);
