using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace MeshHook.Bench.ScaleIn;

/// <summary>
/// A real MeshHook.Silo process (<c>dotnet Silo/bin/Release/net10.0/MeshHook.Silo.dll</c>) with its own ports, its output
/// going to a log file. Signals are real: <c>kill(2)</c> with SIGTERM or SIGKILL. Disposing kills what is still running.
/// </summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private const int SigKill = 9;
    private const int SigTerm = 15;

    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly TaskCompletionSource<DateTime> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _disposed;

    private SiloProcess(string name, Process process, StreamWriter log, int siloPort, int httpPort)
    {
        Name = name;
        _process = process;
        _log = log;
        SiloPort = siloPort;
        HttpPort = httpPort;
        process.OutputDataReceived += (_, e) => Write(e.Data);
        process.ErrorDataReceived += (_, e) => Write(e.Data);
        // Exited is raised from the SIGCHLD handling: the wall-clock moment the process was reaped.
        process.Exited += (_, _) => _exited.TrySetResult(DateTime.UtcNow);
        process.EnableRaisingEvents = true;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (process.HasExited)
        {
            _exited.TrySetResult(DateTime.UtcNow);
        }
    }

    /// <summary>The benchmark's name for it (A, B, C, A').</summary>
    public string Name { get; }

    public int Pid => _process.Id;

    public int SiloPort { get; }

    public int HttpPort { get; }

    /// <summary>When the process was seen to exit (UTC wall clock).</summary>
    public Task<DateTime> Exited => _exited.Task;

    public int ExitCode => _process.ExitCode;

    public static SiloProcess Start(string name, string siloDll, string logFile, IReadOnlyDictionary<string, string> environment)
    {
        var siloPort = FreePort();
        var gatewayPort = FreePort();
        var httpPort = FreePort();
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(siloDll);
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add($"http://127.0.0.1:{httpPort}");
        start.Environment.Remove("ConnectionStrings__MeshHook");
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        start.Environment["Orleans__SiloPort"] = siloPort.ToString();
        start.Environment["Orleans__GatewayPort"] = gatewayPort.ToString();
        var log = new StreamWriter(logFile, append: true) { AutoFlush = true };
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start dotnet");
        return new SiloProcess(name, process, log, siloPort, httpPort);
    }

    /// <summary>Waits until /health/ready answers 200 (Postgres reachable, silo active).</summary>
    public async Task WaitReadyAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (Exited.IsCompleted)
            {
                throw new InvalidOperationException($"silo {Name} exited ({_process.ExitCode}) before it was ready; see its log");
            }

            try
            {
                using var response = await http.GetAsync($"http://127.0.0.1:{HttpPort}/health/ready", cancellationToken);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                // Not listening yet.
            }

            if (deadline.Elapsed > timeout)
            {
                throw new TimeoutException($"silo {Name} was not ready within {timeout.TotalSeconds:0} s");
            }

            await Task.Delay(250, cancellationToken);
        }
    }

    /// <summary>Sends SIGTERM; returns the wall-clock moment right before the system call.</summary>
    public DateTime Terminate() => Signal(SigTerm);

    /// <summary>Sends SIGKILL; returns the wall-clock moment right before the system call.</summary>
    public DateTime KillHard() => Signal(SigKill);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        if (!Exited.IsCompleted)
        {
            try
            {
                _process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }

            await Exited.WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { }, TaskScheduler.Default);
        }

        // Let the output readers drain before the log closes.
        await Task.Delay(100);
        _process.Dispose();
        lock (_log)
        {
            _log.Dispose();
        }
    }

    private DateTime Signal(int signal)
    {
        var at = DateTime.UtcNow;
        if (Kill(_process.Id, signal) != 0)
        {
            throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }

        return at;
    }

    private void Write(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_log)
        {
            try
            {
                _log.WriteLine(line);
            }
            catch (ObjectDisposedException)
            {
                // Output after the benchmark let go of the process.
            }
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

#pragma warning disable SYSLIB1054 // DllImport rather than LibraryImport: the bench does not allow unsafe code for one call.
    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
#pragma warning restore SYSLIB1054
}
