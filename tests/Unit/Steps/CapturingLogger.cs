using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace MeshHook.Tests.Unit.Steps;

/// <summary>
/// A logger provider that keeps every line at every level: the formatted message, the exception, the state's text, and
/// each structured value as <c>name=value</c>, so a test can look for text that must never be logged.
/// </summary>
internal sealed class CapturingLogger(ConcurrentQueue<string> lines) : ILoggerProvider, ILogger
{
    public ILogger CreateLogger(string categoryName) => this;

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lines.Enqueue($"{formatter(state, exception)} {exception} {state}");
        if (state is IEnumerable<KeyValuePair<string, object?>> values)
        {
            lines.Enqueue(string.Join(" ", values.Select(v => $"{v.Key}={v.Value}")));
        }
    }

    public void Dispose()
    {
    }
}
