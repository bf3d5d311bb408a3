namespace MeshHook.Silo.Shutdown;

/// <summary>
/// Custom cleanup that runs once during a silo's graceful shutdown, after the runs were drained and handed off
/// and before Postgres connections close. Register with <c>services.AddSingleton&lt;IShutdownHook, MyHook&gt;()</c>.
/// Hooks run one after another by <see cref="Order"/> (then registration order); each gets its own
/// <see cref="Timeout"/>, and one that throws or overruns is logged and counted without stopping the others.
/// </summary>
public interface IShutdownHook
{
    /// <summary>A short name for logs and the shutdown report.</summary>
    string Name { get; }

    /// <summary>Lower runs first.</summary>
    int Order => 0;

    /// <summary>How long the hook may take; its token is cancelled then. Counts into the shutdown budget.</summary>
    TimeSpan Timeout => TimeSpan.FromSeconds(2);

    Task RunAsync(CancellationToken cancellationToken);
}
