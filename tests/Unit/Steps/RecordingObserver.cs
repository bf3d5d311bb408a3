using System.Collections.Concurrent;
using MeshHook.Grains.Steps;

namespace MeshHook.Tests.Unit.Steps;

/// <summary>An <see cref="IStepObserver"/> that keeps every HTTP attempt it is told about.</summary>
internal sealed class RecordingObserver : IStepObserver
{
    private readonly ConcurrentQueue<HttpAttempt> _attempts = new();

    public IReadOnlyList<HttpAttempt> Attempts => [.. _attempts];

    public void OnHttpAttempt(HttpAttempt attempt) => _attempts.Enqueue(attempt);
}
