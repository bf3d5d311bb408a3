using System.Diagnostics;
using Orleans.Reminders.Diagnostics;

namespace MeshHook.Silo.Ops;

/// <summary>
/// Whether this silo's Orleans reminder service has loaded its range of the reminder table, which is the moment it
/// starts to accept registrations. Until then Orleans holds every registration routed to it for up to 20 s and then
/// fails it, or fails it at once after three failed loads; it retries the load every
/// <c>ReminderOptions.RefreshReminderListPeriod</c> (<c>Orleans:ReminderService</c>).
/// </summary>
/// <remarks>
/// The signal is Orleans' own: its LocalReminderService writes <see cref="ReminderEvents.ReminderServiceStarted"/>
/// (naming the silo) to the <c>Orleans.Reminders</c> DiagnosticListener when its first range read succeeds, right
/// where it starts taking registrations, and never goes back. The listener only writes events someone subscribed to,
/// so this subscribes before any silo stage starts (the service starts at <c>Active</c>) and asks for that one event.
/// Orleans documents these event types as public but liable to change between minor versions; the integration tests
/// (ReminderOutageTests) fail if the event stops arriving.
/// </remarks>
public sealed class ReminderServiceStatus(ILocalSiloDetails silo, TimeProvider time)
    : ILifecycleParticipant<ISiloLifecycle>, IObserver<DiagnosticListener>, IObserver<KeyValuePair<string, object?>>, IDisposable
{
    private readonly Lock _gate = new();
    private IDisposable? _allListeners;
    private IDisposable? _reminderListener;
    private volatile bool _started;
    private long _activeSince;

    /// <summary>True once this silo's reminder service has loaded its range (it stays true).</summary>
    public bool IsStarted => _started;

    /// <summary>How long the silo has been active in the cluster; null before it is.</summary>
    public TimeSpan? ActiveFor
    {
        get
        {
            var since = Interlocked.Read(ref _activeSince);
            return since == 0 ? null : time.GetElapsedTime(since);
        }
    }

    public void Participate(ISiloLifecycle lifecycle)
    {
        lifecycle.Subscribe(
            nameof(ReminderServiceStatus),
            ServiceLifecycleStage.First,
            _ =>
            {
                // Replays the listeners that exist already, then reports each new one.
                _allListeners ??= DiagnosticListener.AllListeners.Subscribe(this);
                return Task.CompletedTask;
            },
            _ =>
            {
                Dispose();
                return Task.CompletedTask;
            });
        lifecycle.Subscribe(
            nameof(ReminderServiceStatus),
            ServiceLifecycleStage.Active,
            _ =>
            {
                Interlocked.Exchange(ref _activeSince, time.GetTimestamp());
                return Task.CompletedTask;
            },
            _ => Task.CompletedTask);
    }

    void IObserver<DiagnosticListener>.OnNext(DiagnosticListener listener)
    {
        if (listener.Name != ReminderEvents.ListenerName)
        {
            return;
        }

        lock (_gate)
        {
            _reminderListener?.Dispose();
            _reminderListener = listener.Subscribe(this, name => name == nameof(ReminderEvents.ReminderServiceStarted));
        }
    }

    void IObserver<KeyValuePair<string, object?>>.OnNext(KeyValuePair<string, object?> value)
    {
        // One process may hold several silos (the test cluster): only this silo's service counts.
        if (value.Value is ReminderEvents.ReminderServiceStarted started && silo.SiloAddress.Equals(started.SiloAddress))
        {
            _started = true;
        }
    }

    void IObserver<DiagnosticListener>.OnCompleted()
    {
    }

    void IObserver<DiagnosticListener>.OnError(Exception error)
    {
    }

    void IObserver<KeyValuePair<string, object?>>.OnCompleted()
    {
    }

    void IObserver<KeyValuePair<string, object?>>.OnError(Exception error)
    {
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _allListeners?.Dispose();
            _allListeners = null;
            _reminderListener?.Dispose();
            _reminderListener = null;
        }
    }
}
