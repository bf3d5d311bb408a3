using Microsoft.Extensions.Options;
using Npgsql;

namespace MeshHook.Gateway.Hosting;

/// <summary>The gateway's entry point: configuration checks, then the host.</summary>
public static class GatewayProgram
{
    /// <summary>Exit code for a configuration the gateway cannot start with.</summary>
    public const int ConfigurationError = 2;

    public static async Task<int> RunAsync(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        if (!TryGetConnectionString(builder.Configuration, out var connectionString, out var problem))
        {
            await Console.Error.WriteLineAsync($"MeshHook.Gateway: {problem}");
            return ConfigurationError;
        }

        builder.AddMeshHookGateway(connectionString);
        try
        {
            // Options are validated where they are first read: while the host is built (its lifetime reads the
            // shutdown timeout), or when it starts.
            var app = builder.Build();
            app.MapMeshHookGateway();
            await app.RunAsync();
        }
        catch (OptionsValidationException e)
        {
            await Console.Error.WriteLineAsync($"MeshHook.Gateway: invalid configuration: {string.Join("; ", e.Failures)}");
            return ConfigurationError;
        }

        return 0;
    }

    /// <summary>Reads <c>ConnectionStrings:MeshHook</c>; on failure <paramref name="problem"/> is one line for the operator.</summary>
    public static bool TryGetConnectionString(IConfiguration configuration, out string connectionString, out string problem)
    {
        connectionString = configuration.GetConnectionString("MeshHook") ?? "";
        return MeshHook.Grains.Runs.ConnectionStringCheck.TryValidate(connectionString, out problem);
    }
}
