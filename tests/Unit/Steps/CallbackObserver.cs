using MeshHook.Grains.Steps;

namespace MeshHook.Tests.Unit.Steps;

/// <summary>An <see cref="IStepObserver"/> that calls back on every HTTP attempt, to build barriers on.</summary>
internal sealed class CallbackObserver(Action<HttpAttempt> onAttempt) : IStepObserver
{
    public void OnHttpAttempt(HttpAttempt attempt) => onAttempt(attempt);

    public Task BeforeRetryAsync() => Task.CompletedTask;
}
