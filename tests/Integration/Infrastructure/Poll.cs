namespace MeshHook.Tests.Integration.Infrastructure;

/// <summary>Polling with a deadline, for things that happen in another component; the message names what did not happen.</summary>
public static class Poll
{
    public static async Task UntilAsync(Func<Task<bool>> condition, string phase, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(15));
        while (true)
        {
            if (await condition())
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out waiting for: {phase}");
            }

            await Task.Delay(50);
        }
    }
}
