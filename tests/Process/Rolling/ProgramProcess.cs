using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using MeshHook.Tests.Integration.Infrastructure;

namespace MeshHook.Tests.Process.Rolling;

/// <summary>
/// A real MeshHook program (silo or gateway) started with <c>dotnet</c> from the build output of the tests'
/// configuration, its HTTP endpoint on a free loopback port, its output captured. SIGTERM is a real
/// <c>kill -TERM</c>; disposing kills whatever is still running.
/// </summary>
public sealed class ProgramProcess : IAsyncDisposable
{
    private const int MaxOutputChars = 4_000_000;

    private readonly System.Diagnostics.Process _process;
    private readonly StringBuilder _output = new();

    private ProgramProcess(string name, System.Diagnostics.Process process, Uri httpAddress)
    {
        Name = name;
        _process = process;
        HttpAddress = httpAddress;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>A name for messages, such as <c>silo-1</c>.</summary>
    public string Name { get; }

    public int Id => _process.Id;

    public Uri HttpAddress { get; }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>The dll of a project in the build output of the same configuration as the tests.</summary>
    public static string BuildOutput(string projectFolder, string assembly)
    {
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}") ? "Release" : "Debug";
        var dll = Path.Combine(RepositoryRoot.Find(), projectFolder, "bin", configuration, "net10.0", assembly);
        return File.Exists(dll) ? dll : throw new FileNotFoundException($"build the solution first: {dll} is missing");
    }

    /// <summary>Starts <paramref name="dll"/> with <c>--urls http://127.0.0.1:{free port}</c> and the given environment.</summary>
    public static ProgramProcess Start(string name, string dll, IDictionary<string, string> environment)
    {
        var port = FreePort();
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(dll);
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add($"http://127.0.0.1:{port}");
        // Nothing leaks in from the test runner's own environment.
        start.Environment.Remove("ConnectionStrings__MeshHook");
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        return new ProgramProcess(name, System.Diagnostics.Process.Start(start)!, new Uri($"http://127.0.0.1:{port}"));
    }

    /// <summary>Waits until GET /health/ready answers 200; fails at once if the process exits.</summary>
    public async Task WaitReadyAsync(TimeSpan timeout)
    {
        using var http = new HttpClient { BaseAddress = HttpAddress, Timeout = TimeSpan.FromSeconds(3) };
        var deadline = DateTime.UtcNow + timeout;
        var last = "not listening";
        while (DateTime.UtcNow < deadline)
        {
            if (HasExited)
            {
                throw new InvalidOperationException($"{Name} exited with {ExitCode} before it was ready; output:\n{Tail()}");
            }

            try
            {
                using var response = await http.GetAsync("/health/ready");
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }

                last = $"HTTP {(int)response.StatusCode}";
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                last = e.GetType().Name;
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"{Name} was not ready within {timeout.TotalSeconds} s (last: {last}); output:\n{Tail()}");
    }

    /// <summary>Sends a real SIGTERM with <c>kill -TERM pid</c>.</summary>
    public async Task SigtermAsync()
    {
        using var kill = System.Diagnostics.Process.Start("kill", ["-TERM", Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        await kill.WaitForExitAsync();
        if (kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"kill -TERM {Id} ({Name}) failed with {kill.ExitCode}");
        }
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancellation = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cancellation.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{Name} did not exit within {timeout.TotalSeconds} s; output:\n{Tail()}");
        }

        return _process.ExitCode;
    }

    /// <summary>The last lines of the output, for failure messages.</summary>
    public string Tail(int lines = 60)
    {
        var all = Output.Split('\n');
        return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                await _process.WaitForExitAsync(wait.Token);
            }
        }
        catch (Exception e) when (e is InvalidOperationException or OperationCanceledException or System.ComponentModel.Win32Exception)
        {
            // Already gone, or the kernel is slow to reap it: nothing more a test can do.
        }

        _process.Dispose();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            if (_output.Length > MaxOutputChars)
            {
                _output.Remove(0, _output.Length / 2);
            }

            _output.AppendLine(line);
        }
    }
}
