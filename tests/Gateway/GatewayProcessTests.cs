using System.Diagnostics;
using AwesomeAssertions;
using MeshHook.Tests.Integration.Infrastructure;

namespace MeshHook.Tests.Gateway;

/// <summary>The real MeshHook.Gateway program refuses to start without a usable connection string.</summary>
public sealed class GatewayProcessTests
{
    [Theory]
    [InlineData(null, "ConnectionStrings:MeshHook is not set")]
    [InlineData("Host=;Username=postgres", "has no Host")]
    [InlineData("Nonsense=1;;=", "not a valid Npgsql connection string")]
    public async Task Start_WithoutUsableConnectionString_ExitsWithCode2AndOneLine(string? connectionString, string message)
    {
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}") ? "Release" : "Debug";
        var dll = Path.Combine(RepositoryRoot.Find(), "Gateway", "bin", configuration, "net10.0", "MeshHook.Gateway.dll");
        var start = new ProcessStartInfo("dotnet", [dll, "--urls", "http://127.0.0.1:0"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment.Remove("ConnectionStrings__MeshHook");
        if (connectionString is not null)
        {
            start.Environment["ConnectionStrings__MeshHook"] = connectionString;
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);

        process.ExitCode.Should().Be(2);
        var lines = (await stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines.Should().ContainSingle().Which.Should().StartWith("MeshHook.Gateway: ").And.Contain(message);
    }
}
