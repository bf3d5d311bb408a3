namespace MeshHook.Tests.Integration.Orleans.TestGrains;

/// <summary>A grain that counts the ticks of one reminder kept by the ADO.NET reminder provider.</summary>
public interface ITickingGrain : IGrainWithIntegerKey
{
    Task Start(TimeSpan dueTime, TimeSpan period);

    Task Stop();

    Task<int> Ticks();
}

/// <summary>Counts ticks in memory: the test only needs to see that the provider's reminder fires.</summary>
public sealed class TickingGrain : Grain, ITickingGrain, IRemindable
{
    /// <summary>The reminder's name, as stored in orleans_reminders.reminder_name.</summary>
    public const string ReminderName = "tick";

    private int _ticks;

    public async Task Start(TimeSpan dueTime, TimeSpan period) =>
        await this.RegisterOrUpdateReminder(ReminderName, dueTime, period);

    public async Task Stop()
    {
        var reminder = await this.GetReminder(ReminderName);
        if (reminder is not null)
        {
            await this.UnregisterReminder(reminder);
        }
    }

    public Task<int> Ticks() => Task.FromResult(_ticks);

    public Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName == ReminderName)
        {
            _ticks++;
        }

        return Task.CompletedTask;
    }
}
