using System.Collections.Concurrent;
using System.Globalization;
using MeshHook.Silo.Shutdown;
using Microsoft.Extensions.Logging;

namespace MeshHook.Bench.Chaos.InProcess;

/// <summary>
/// The log of the in-process silos and their client: warnings and errors of every category, and every line of the
/// <see cref="ShutdownCoordinator"/>, go to one file with the silo's name; the console keeps the soak's own table. It
/// also keeps, per silo, the cause the coordinator gave when its intake closed ("stop requested" is the host's
/// ApplicationStopping, which a SIGTERM raises in the real program), and counts warnings and errors by message.
/// </summary>
public sealed class SoakLog : IDisposable
{
    /// <summary>The logger category of the shutdown sequence, logged at Information.</summary>
    public static readonly string CoordinatorCategory = typeof(ShutdownCoordinator).FullName!;

    private static readonly string RunCategory = typeof(MeshHook.Grains.Runs.WorkflowRunGrain).FullName!;

    // A soak's silos are built by Orleans' test cluster from configurator types; they find their log through this.
    private static readonly ConcurrentDictionary<string, SoakLog> Open = new(StringComparer.Ordinal);

    // Past this many lines the file stops growing; counting goes on.
    private const int MaxLines = 500_000;

    private readonly StreamWriter _file;
    private readonly Lock _gate = new();
    private readonly ConcurrentDictionary<string, string> _intakeCauses = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _forcedLines = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(LogLevel Level, string Category, string Message), int> _counts = new();
    private readonly ConcurrentDictionary<Guid, string> _runsInTrouble = new();
    private int _lines;

    private SoakLog(string id, string path)
    {
        Id = id;
        Path = path;
        _file = new StreamWriter(path, append: false) { AutoFlush = false };
    }

    public string Id { get; }

    public string Path { get; }

    public static SoakLog Create(string path)
    {
        var log = new SoakLog(Guid.NewGuid().ToString("N"), path);
        Open[log.Id] = log;
        return log;
    }

    public static SoakLog Get(string id) =>
        Open.TryGetValue(id, out var log) ? log : throw new InvalidOperationException($"no open soak log {id}");

    /// <summary>The cause the coordinator of <paramref name="silo"/> logged when its intake closed, or null if it never did.</summary>
    public string? IntakeCause(string silo) => _intakeCauses.GetValueOrDefault(silo);

    /// <summary>True when the coordinator of <paramref name="silo"/> logged that its stop was forced.</summary>
    public bool LoggedForced(string silo) => _forcedLines.ContainsKey(silo);

    /// <summary>Runs that the run grain logged an error about, or a second activation of (the first message of each).</summary>
    public IReadOnlyDictionary<Guid, string> RunsInTrouble => _runsInTrouble;

    /// <summary>Warnings and errors by level, category and message template, most frequent first.</summary>
    public IReadOnlyList<(LogLevel Level, string Category, string Message, int Count)> Counts() =>
        [.. _counts.Select(c => (c.Key.Level, c.Key.Category, c.Key.Message, c.Value)).OrderByDescending(c => c.Value)];

    public ILoggerProvider ProviderFor(string source) => new Provider(this, source);

    public void Dispose()
    {
        Open.TryRemove(Id, out _);
        lock (_gate)
        {
            _file.Dispose();
        }
    }

    private void Write<TState>(string source, string category, LogLevel level, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var template = Template(state) ?? formatter(state, exception);
        if (category == CoordinatorCategory)
        {
            if (template.StartsWith("Shutdown: intake closed", StringComparison.Ordinal) && Value(state, "Cause") is { } cause)
            {
                _intakeCauses.TryAdd(source, cause);
            }
            else if (template.StartsWith("Shutdown: forced", StringComparison.Ordinal))
            {
                _forcedLines.TryAdd(source, 1);
            }
        }

        if (level >= LogLevel.Warning)
        {
            _counts.AddOrUpdate((level, category, template), 1, (_, n) => n + 1);
            if (category == RunCategory && (level >= LogLevel.Error || template.Contains("another activation", StringComparison.Ordinal))
                && Value(state, "RunId") is { } runId && Guid.TryParse(runId, out var id))
            {
                _runsInTrouble.TryAdd(id, template);
            }
        }

        if (Interlocked.Increment(ref _lines) > MaxLines)
        {
            return;
        }

        var line = string.Create(CultureInfo.InvariantCulture, $"{DateTime.UtcNow:HH:mm:ss.fff} {Short(level)} [{source}] {category}: {formatter(state, exception)}");
        lock (_gate)
        {
            _file.WriteLine(line);
            if (exception is not null)
            {
                _file.WriteLine("    " + exception.ToString().Replace("\n", "\n    ", StringComparison.Ordinal));
            }
        }
    }

    /// <summary>A line of the soak's own (silo started, stop begun), among the silos' lines.</summary>
    public void Note(string message) =>
        Write<string>("soak", "MeshHook.Bench.Chaos.InProcess", LogLevel.Information, message, null, (m, _) => m);

    /// <summary>Appends run histories (as the audit read them) to the file.</summary>
    public void WriteHistories(IEnumerable<(Guid RunId, IReadOnlyList<AuditEvent> Events)> histories)
    {
        lock (_gate)
        {
            foreach (var (runId, events) in histories)
            {
                _file.WriteLine($"history of run {runId}:");
                foreach (var e in events)
                {
                    _file.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"    {e.Seq,3} {e.Ts:HH:mm:ss.fff} {e.Type,-15} {e.NodeId}{(e.Silo is null ? "" : $" silo={e.Silo}")}{(e.Status is null ? "" : $" status={e.Status}")}"));
                }
            }
        }
    }

    /// <summary>Writes what is buffered to the file.</summary>
    public void Flush()
    {
        lock (_gate)
        {
            _file.Flush();
        }
    }

    private static string? Template<TState>(TState state) => Value(state, "{OriginalFormat}");

    private static string? Value<TState>(TState state, string key) =>
        state is IReadOnlyList<KeyValuePair<string, object?>> values
            ? values.FirstOrDefault(v => v.Key == key).Value?.ToString()
            : null;

    private static string Short(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        _ => "crit",
    };

    private sealed class Provider(SoakLog log, string source) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new Logger(log, source, categoryName);

        public void Dispose()
        {
        }
    }

    private sealed class Logger(SoakLog log, string source, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            log.Write(source, category, logLevel, state, exception, formatter);
    }
}
