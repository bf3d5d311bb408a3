using System.Diagnostics;
using AwesomeAssertions;
using MeshHook.Tests.Integration.Infrastructure;

namespace MeshHook.Tests.Gateway;

/// <summary>The real MeshHook.Gateway program refuses to start without a usable connection string or API key.</summary>
public sealed class GatewayProcessTests
{
    [Theory]
    [InlineData(null, "ConnectionStrings:MeshHook is not set")]
    [InlineData("Host=;Username=postgres", "has no Host")]
    [InlineData("Nonsense=1;;=", "not a valid Npgsql connection string")]
    public async Task Start_WithoutUsableConnectionString_ExitsWithCode2AndOneLine(string? connectionString, string message)
    {
        var environment = new Dictionary<string, string?> { ["ConnectionStrings__MeshHook"] = connectionString, ["MeshHook__Gateway__ApiKeys__0"] = "process-tests-key-0123456789", ["MeshHook__Secrets__Key"] = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=" };

        var lines = await RunToExitAsync(environment);

        lines.Should().ContainSingle().Which.Should().StartWith("MeshHook.Gateway: ").And.Contain(message);
    }

    [Theory]
    [InlineData(null, null, "no API key is configured: set MeshHook:Gateway:ApiKeys")]
    [InlineData("short-key", null, "MeshHook:Gateway:ApiKeys:0 must be at least 16 characters")]
    [InlineData("has a space in it, long enough", null, "MeshHook:Gateway:ApiKeys:0 must be at least 16 characters with no whitespace")]
    [InlineData(null, "false", "no API key is configured")]
    public async Task Start_WithoutAUsableApiKey_ExitsWithCode2AndOneLineThatNeverQuotesTheKey(string? key, string? allowAnonymous, string message)
    {
        var environment = new Dictionary<string, string?>
        {
            // Valid, and never reached: the options are checked before anything connects.
            ["ConnectionStrings__MeshHook"] = "Host=127.0.0.1;Port=1;Username=nobody",
            ["MeshHook__Gateway__ApiKeys__0"] = key,
            ["MeshHook__Gateway__AllowAnonymousApi"] = allowAnonymous,
            ["MeshHook__Secrets__Key"] = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=",
        };

        var lines = await RunToExitAsync(environment);

        lines.Should().ContainSingle().Which.Should().StartWith("MeshHook.Gateway: invalid configuration: ").And.Contain(message);
        if (key is not null)
        {
            lines[0].Should().NotContain(key, "a key is never printed, even a bad one");
        }
    }

    [Fact]
    public async Task Start_WithoutAKeyForSecretsAtRest_ExitsWithCode2AndOneLine()
    {
        var environment = new Dictionary<string, string?>
        {
            ["ConnectionStrings__MeshHook"] = "Host=127.0.0.1;Port=1;Username=nobody",
            ["MeshHook__Gateway__ApiKeys__0"] = "process-tests-key-0123456789",
            ["MeshHook__Secrets__Key"] = null,
        };

        var lines = await RunToExitAsync(environment);

        lines.Should().ContainSingle().Which.Should().Contain("no MeshHook:Secrets:Key is configured");
    }

    [Fact]
    public async Task Start_WithAManagementUrlWithoutItsOwnPort_ExitsWithCode2AndOneLine()
    {
        var environment = new Dictionary<string, string?>
        {
            ["ConnectionStrings__MeshHook"] = "Host=127.0.0.1;Port=1;Username=nobody",
            ["MeshHook__Gateway__ApiKeys__0"] = "process-tests-key-0123456789",
            ["MeshHook__Gateway__ManagementUrls__0"] = "http://0.0.0.0",
            ["MeshHook__Secrets__Key"] = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=",
        };

        var lines = await RunToExitAsync(environment);

        lines.Should().ContainSingle().Which.Should().Contain("MeshHook:Gateway:ManagementUrls:0 ('http://0.0.0.0') must be an http or https URL with its own port");
    }

    /// <summary>Runs the gateway program with <paramref name="environment"/> (null removes a variable) until it exits 2; returns its stderr lines.</summary>
    private static async Task<string[]> RunToExitAsync(IReadOnlyDictionary<string, string?> environment)
    {
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}") ? "Release" : "Debug";
        var dll = Path.Combine(RepositoryRoot.Find(), "Gateway", "bin", configuration, "net10.0", "MeshHook.Gateway.dll");
        var start = new ProcessStartInfo("dotnet", [dll, "--urls", "http://127.0.0.1:0"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment)
        {
            start.Environment.Remove(name);
            if (value is not null)
            {
                start.Environment[name] = value;
            }
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);

        process.ExitCode.Should().Be(2, $"stdout: {await stdout}");
        return (await stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }
}
