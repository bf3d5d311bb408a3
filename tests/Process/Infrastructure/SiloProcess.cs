using System.Diagnostics;
using System.Text;
using MeshHook.Tests.Integration.Infrastructure;

namespace MeshHook.Tests.Process.Infrastructure;

/// <summary>A real MeshHook.Silo process, started from the build output, with its output captured.</summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private readonly System.Diagnostics.Process _process;
    private readonly StringBuilder _output = new();

    private SiloProcess(System.Diagnostics.Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Id => _process.Id;

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

    /// <summary>The silo's dll in the build output of the same configuration as the tests.</summary>
    public static string SiloDll
    {
        get
        {
            var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}") ? "Release" : "Debug";
            var dll = Path.Combine(RepositoryRoot.Find(), "Silo", "bin", configuration, "net10.0", "MeshHook.Silo.dll");
            return File.Exists(dll) ? dll : throw new FileNotFoundException($"build the silo first: {dll} is missing");
        }
    }

    /// <summary>Starts the silo with the given arguments and environment (a null value removes a variable).</summary>
    public static SiloProcess Start(IEnumerable<string> args, IDictionary<string, string?> environment)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(SiloDll);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        // Nothing leaks in from the test runner's own environment.
        start.Environment.Remove("ConnectionStrings__MeshHook");
        foreach (var (key, value) in environment)
        {
            if (value is null)
            {
                start.Environment.Remove(key);
            }
            else
            {
                start.Environment[key] = value;
            }
        }

        return new SiloProcess(System.Diagnostics.Process.Start(start)!);
    }

    /// <summary>Sends SIGTERM, as a container runtime does on a stop.</summary>
    public void Terminate() => Posix.Send(_process.Id, Posix.SigTerm);

    /// <summary>Sends SIGKILL: no handler runs, nothing is saved on the way out.</summary>
    public void KillHard() => Posix.Send(_process.Id, Posix.SigKill);

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancellation = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cancellation.Token);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }
}
