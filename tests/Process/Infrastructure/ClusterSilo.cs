using System.Net;
using System.Text.RegularExpressions;
using MeshHook.Testing.Processes;

namespace MeshHook.Tests.Process.Infrastructure;

/// <summary>One real silo process of a <see cref="ProcessCluster"/>: its ports, its HTTP endpoints, its signals.</summary>
public sealed partial class ClusterSilo : IAsyncDisposable
{
    private readonly HttpClient _http;

    internal ClusterSilo(string name, ProgramProcess process)
    {
        Name = name;
        Process = process;
        _http = new HttpClient { BaseAddress = process.HttpAddress, Timeout = TimeSpan.FromSeconds(5) };
    }

    /// <summary>The test's name for this silo (not Orleans' silo name).</summary>
    public string Name { get; }

    public int SiloPort => Process.SiloPort;

    public int GatewayPort => Process.GatewayPort;

    public int HttpPort => Process.HttpPort;

    public ProgramProcess Process { get; }

    /// <summary>How this silo's address starts in meshhook_shutdowns.silo_address (Orleans' SiloAddress text: S{ip}:{port}:{generation}).</summary>
    public string AddressPrefix => $"S127.0.0.1:{SiloPort}:";

    /// <summary>The runs whose grain logged its first start on this silo.</summary>
    public IReadOnlySet<Guid> RunsStartedHere() =>
        RunStarted().Matches(Process.Output).Select(m => Guid.Parse(m.Groups[1].Value)).ToHashSet();

    /// <summary>The status code of /health/ready, or null when nothing answers (not listening yet, or gone).</summary>
    public async Task<HttpStatusCode?> ReadinessAsync()
    {
        try
        {
            using var response = await _http.GetAsync("/health/ready");
            return response.StatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    /// <summary>Waits until /health/ready answers 200 (the silo is active in the cluster).</summary>
    public Task WaitReadyAsync(TimeSpan timeout) => Process.WaitReadyAsync(timeout);

    /// <summary>Waits for the process to exit; the message names the silo and carries its output when it does not.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout, string phase)
    {
        try
        {
            return await Process.WaitForExitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"timed out waiting for: {phase} (silo {Name} still running after {timeout}); output:\n{Process.Output}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await Process.DisposeAsync();
    }

    [GeneratedRegex(@"Run ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}) started \(workflow")]
    private static partial Regex RunStarted();
}
