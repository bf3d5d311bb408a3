using System.Collections.Concurrent;
using MeshHook.Grains.Steps;

namespace MeshHook.Tests.Unit.Steps;

/// <summary>An <see cref="IStepObserver"/> that keeps every HTTP attempt it is told about.</summary>
internal sealed class RecordingObserver : IStepObserver
{
    private readonly ConcurrentQueue<HttpAttempt> _attempts = new();
    private int _retries;

    public IReadOnlyList<HttpAttempt> Attempts => [.. _attempts];

    /// <summary>How many times the executor said it would try again.</summary>
    public int RetriesAnnounced => _retries;

    public void OnHttpAttempt(HttpAttempt attempt) => _attempts.Enqueue(attempt);

    public Task BeforeRetryAsync()
    {
        Interlocked.Increment(ref _retries);
        return Task.CompletedTask;
    }
}
