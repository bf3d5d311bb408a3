using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.TestingHost;

namespace MeshHook.Tests.Integration.Infrastructure;

/// <summary>
/// What the in-process silos of a cluster log (Information and above), kept in memory so a test can check what an
/// operator would read. Add <see cref="Configurator"/> to a cluster's builder; entries from every such cluster in
/// the test process land here, so a test picks its own by something unique (a run id).
/// </summary>
public static class CapturedLogs
{
    private static readonly ConcurrentQueue<CapturedLog> Entries = new();

    public static IEnumerable<CapturedLog> Mentioning(string text) => Entries.Where(e => e.Message.Contains(text, StringComparison.Ordinal));

    public sealed class Configurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder) => siloBuilder.Services.AddSingleton<ILoggerProvider, Provider>();
    }

    private sealed class Provider : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new Logger(categoryName);

        public void Dispose()
        {
        }
    }

    private sealed class Logger(string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                Entries.Enqueue(new CapturedLog(logLevel, category, formatter(state, exception)));
            }
        }
    }
}

/// <summary>One captured log entry.</summary>
public sealed record CapturedLog(LogLevel Level, string Category, string Message);
