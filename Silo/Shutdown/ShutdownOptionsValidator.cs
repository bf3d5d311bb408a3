using Microsoft.Extensions.Options;

namespace MeshHook.Silo.Shutdown;

/// <summary>Refuses a shutdown budget that cannot nest inside the container's grace period, naming every term.</summary>
public sealed class ShutdownOptionsValidator(IEnumerable<IShutdownHook> hooks) : IValidateOptions<ShutdownOptions>
{
    public ValidateOptionsResult Validate(string? name, ShutdownOptions options)
    {
        var hookList = hooks.ToList();
        var failures = new List<string>();
        foreach (var hook in hookList.Where(h => h.Timeout <= TimeSpan.Zero))
        {
            failures.Add($"shutdown hook '{hook.Name}' has a timeout of {hook.Timeout.TotalSeconds:0.###} s; it must be positive");
        }

        var total = options.Budget(hookList);
        if (total >= options.GracePeriod)
        {
            var hookSum = hookList.Aggregate(TimeSpan.Zero, (sum, h) => sum + h.Timeout);
            failures.Add(
                $"MeshHook:Shutdown does not nest: DrainTimeout {Seconds(options.DrainTimeout)} + HandOffTimeout {Seconds(options.HandOffTimeout)} + " +
                $"shutdown hooks {Seconds(hookSum)} + ReportTimeout {Seconds(options.ReportTimeout)} = {Seconds(total)}, " +
                $"which is not less than GracePeriod {Seconds(options.GracePeriod)} (the container's terminationGracePeriodSeconds). " +
                "Lower DrainTimeout or raise GracePeriod together with the container's grace period.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static string Seconds(TimeSpan value) => $"{value.TotalSeconds:0.###} s";
}
