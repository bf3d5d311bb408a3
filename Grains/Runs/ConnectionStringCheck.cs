using Npgsql;

namespace MeshHook.Grains.Runs;

/// <summary>The check both programs (silo, gateway) make of <c>ConnectionStrings:MeshHook</c> before starting.</summary>
public static class ConnectionStringCheck
{
    /// <summary>True when <paramref name="connectionString"/> is usable; otherwise <paramref name="problem"/> is one line for the operator.</summary>
    public static bool TryValidate(string? connectionString, out string problem)
    {
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            problem = "ConnectionStrings:MeshHook is not set. Set it, e.g. ConnectionStrings__MeshHook=\"Host=127.0.0.1;Username=postgres;Database=meshhook\".";
            return false;
        }

        try
        {
            if (string.IsNullOrWhiteSpace(new NpgsqlConnectionStringBuilder(connectionString).Host))
            {
                problem = "ConnectionStrings:MeshHook has no Host.";
                return false;
            }
        }
        catch (ArgumentException e)
        {
            problem = $"ConnectionStrings:MeshHook is not a valid Npgsql connection string: {e.Message}";
            return false;
        }

        problem = "";
        return true;
    }
}
