using System.Collections.Concurrent;
using MeshHook.Grains;
using MeshHook.Grains.Runs;
using Microsoft.Extensions.Logging;

namespace MeshHook.Bench.Infrastructure;

/// <summary>
/// Tells the benchmark the moment a run finishes, without polling: a logger provider inside the silo that sees only
/// <see cref="WorkflowRunGrain"/>'s "Run {RunId} finished" event, which the grain logs right after its final
/// checkpoint (grain state and workflow_runs both written). It prints nothing.
/// </summary>
public sealed class RunCompletions : ILoggerProvider
{
    /// <summary>The event name of the run's "finished" log line (RunLog.FinishedEventName in the grains).</summary>
    public const string FinishedEventName = "RunFinished";

    /// <summary>The logger category the provider listens to; everything else is filtered out before it gets here.</summary>
    public static readonly string Category = typeof(WorkflowRunGrain).FullName!;

    private readonly ConcurrentDictionary<Guid, TaskCompletionSource<RunStatus>> _waiting = new();
    private long _finishedEvents;

    /// <summary>The one instance the silos (in-process) report to.</summary>
    public static RunCompletions Instance { get; } = new();

    /// <summary>Every finished event seen, awaited or not.</summary>
    public long FinishedEvents => Interlocked.Read(ref _finishedEvents);

    /// <summary>Registers interest in a run before it is started; the task completes with its final status.</summary>
    public Task<RunStatus> Expect(Guid runId)
    {
        var completion = new TaskCompletionSource<RunStatus>(TaskCreationOptions.RunContinuationsAsynchronously);
        _waiting[runId] = completion;
        return completion.Task;
    }

    /// <summary>Stops waiting for a run (it timed out or the benchmark is stopping).</summary>
    public void Forget(Guid runId) => _waiting.TryRemove(runId, out _);

    public ILogger CreateLogger(string categoryName) =>
        categoryName == Category ? new Listener(this) : Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    public void Dispose()
    {
    }

    private void OnFinished(Guid runId, string status)
    {
        Interlocked.Increment(ref _finishedEvents);
        if (_waiting.TryRemove(runId, out var completion))
        {
            completion.TrySetResult(Enum.Parse<RunStatus>(status, ignoreCase: true));
        }
    }

    private sealed class Listener(RunCompletions owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Name != FinishedEventName || state is not IReadOnlyList<KeyValuePair<string, object?>> values)
            {
                return;
            }

            Guid? runId = null;
            string? status = null;
            foreach (var (key, value) in values)
            {
                switch (key)
                {
                    case "RunId" when value is Guid id:
                        runId = id;
                        break;
                    case "Status" when value is string text:
                        status = text;
                        break;
                }
            }

            if (runId is { } run && status is not null)
            {
                owner.OnFinished(run, status);
            }
        }
    }
}
