using System.Collections.Concurrent;
using Orleans.Reminders.Diagnostics;

namespace MeshHook.Tests.Integration.Infrastructure;

/// <summary>
/// Records Orleans' own reminder events (<see cref="ReminderEvents.AllEvents"/>: registered, unregistered, ...) in
/// this process while it is alive, so a test can tell that a reminder was written and removed again, which the
/// reminder table's final state alone cannot show, or that Orleans' reminder service ticked a reminder whose row it
/// did not write itself.
/// </summary>
public sealed class ReminderEventLog : IObserver<ReminderEvents.ReminderEvent>, IDisposable
{
    private readonly ConcurrentQueue<ReminderEvents.ReminderEvent> _events = new();
    private readonly IDisposable _subscription;

    public ReminderEventLog() => _subscription = ReminderEvents.AllEvents.Subscribe(this);

    /// <summary>The names of the events about the run's reminder, in order (e.g. "Registered", "Unregistered").</summary>
    public IReadOnlyList<string> For(Guid runId) =>
        _events.Where(e => e.GrainId.ToString().EndsWith(runId.ToString("N"), StringComparison.Ordinal))
            .Select(e => e.GetType().Name)
            .Where(name => name is nameof(ReminderEvents.Registered) or nameof(ReminderEvents.Unregistered))
            .ToList();

    /// <summary>How many ticks of the run's reminder Orleans delivered to the run.</summary>
    public int TicksFor(Guid runId) =>
        _events.Count(e => e is ReminderEvents.TickCompleted && e.GrainId.ToString().EndsWith(runId.ToString("N"), StringComparison.Ordinal));

    public void OnNext(ReminderEvents.ReminderEvent value) => _events.Enqueue(value);

    public void OnCompleted()
    {
    }

    public void OnError(Exception error)
    {
    }

    public void Dispose() => _subscription.Dispose();
}
