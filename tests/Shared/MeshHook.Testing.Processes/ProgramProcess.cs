using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;

namespace MeshHook.Testing.Processes;

/// <summary>
/// A real MeshHook program (the silo or the gateway) started as <c>dotnet {dll}</c>, a child of the test or benchmark:
/// its ports from <see cref="FreePorts"/>, its output captured (and appended to a log file when asked), real signals
/// with <c>kill(2)</c>, the moment it exited. Disposing kills whatever is still running.
/// </summary>
public sealed class ProgramProcess : IAsyncDisposable
{
    /// <summary>The silo setting that lets http_call reach loopback peers (set for every silo started here unless given).</summary>
    public const string LoopbackPeersKey = "MeshHook__Http__AllowedNetworks__0";

    /// <summary>The setting of the key for secrets at rest (set for every program started here unless given).</summary>
    public const string SecretsKeyName = "MeshHook__Secrets__Key";

    /// <summary>The tests' and benchmarks' key for secrets at rest: a fixed, public test value, never a production one.</summary>
    public const string TestSecretsKey = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";

    /// <summary>Output kept in memory; beyond it the older half is dropped (a silo under load for minutes logs a lot).</summary>
    private const int MaxOutputChars = 4_000_000;

    private static readonly TimeSpan ReadyPoll = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan ReadyProbeTimeout = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan KillTimeout = TimeSpan.FromSeconds(30);

    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly StreamWriter? _log;
    private readonly TaskCompletionSource<DateTime> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<DateTime> _reaped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly int? _httpPort;
    private readonly int? _siloPort;
    private readonly int? _gatewayPort;
    private int _disposed;

    private ProgramProcess(string name, Process process, StreamWriter? log, int? httpPort, int? siloPort, int? gatewayPort)
    {
        Name = name;
        _process = process;
        _log = log;
        _httpPort = httpPort;
        _siloPort = siloPort;
        _gatewayPort = gatewayPort;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        // Exited completes once .NET has reaped the process (so ExitCode can be read), with the moment it ended:
        // from its pidfd where there is one (the kernel's signal, caught on a thread of its own), otherwise the
        // reaping itself, which goes through SIGCHLD handling and the thread pool and lags on a starved machine.
        var ended = new TaskCompletionSource<DateTime>(TaskCreationOptions.RunContinuationsAsynchronously);
        var watched = Posix.WatchEnd(process.Id, at => ended.TrySetResult(at));
        process.Exited += (_, _) =>
        {
            var reaped = DateTime.UtcNow;
            _reaped.TrySetResult(reaped);
            if (watched)
            {
                ended.Task.ContinueWith(t => _exited.TrySetResult(t.Result), TaskScheduler.Default);
            }
            else
            {
                _exited.TrySetResult(reaped);
            }
        };
        process.EnableRaisingEvents = true;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (process.HasExited)
        {
            _exited.TrySetResult(DateTime.UtcNow);
            _reaped.TrySetResult(DateTime.UtcNow);
        }
    }

    /// <summary>The caller's name for it, for messages.</summary>
    public string Name { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>When the process ended (UTC wall clock; on Linux as the kernel reports it through a pidfd); completes once it is reaped.</summary>
    public Task<DateTime> Exited => _exited.Task;

    /// <summary>When .NET reaped the process and raised <see cref="Process.Exited"/> (UTC wall clock): later than <see cref="Exited"/> by this process's own scheduling delay.</summary>
    public Task<DateTime> Reaped => _reaped.Task;

    public int HttpPort => _httpPort ?? throw NoPort("an HTTP port");

    /// <summary><c>http://127.0.0.1:{HttpPort}</c>.</summary>
    public Uri HttpAddress => new($"http://127.0.0.1:{HttpPort.ToString(CultureInfo.InvariantCulture)}");

    public int SiloPort => _siloPort ?? throw NoPort("a silo port");

    public int GatewayPort => _gatewayPort ?? throw NoPort("a gateway port");

    /// <summary>Standard output and standard error as captured so far, one line each.</summary>
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

    /// <summary>Starts the program; it runs until it exits, is signalled or this is disposed.</summary>
    public static ProgramProcess Start(ProgramStart program)
    {
        ArgumentNullException.ThrowIfNull(program);
        int? httpPort = program.Ports is ProgramPorts.None ? null : program.HttpPort ?? FreePorts.Take();
        int? siloPort = program.Ports is ProgramPorts.Silo ? FreePorts.Take() : null;
        int? gatewayPort = program.Ports is ProgramPorts.Silo ? FreePorts.Take() : null;
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(program.Dll);
        if (httpPort is { } http)
        {
            start.ArgumentList.Add("--urls");
            start.ArgumentList.Add($"http://127.0.0.1:{http.ToString(CultureInfo.InvariantCulture)}");
        }

        foreach (var argument in program.Arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // Nothing leaks in from the caller's own environment.
        start.Environment.Remove("ConnectionStrings__MeshHook");
        foreach (var (key, value) in program.Environment)
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

        if (!program.Environment.ContainsKey(SecretsKeyName))
        {
            // Silos and gateways refuse to start without a key for secrets at rest; tests and benchmarks share this one.
            start.Environment[SecretsKeyName] = TestSecretsKey;
        }

        if (program.Ports is ProgramPorts.Silo && !program.Environment.ContainsKey(LoopbackPeersKey))
        {
            // The tests' and benchmarks' HTTP peers listen on 127.0.0.1, which http_call may not reach by default.
            start.Environment[LoopbackPeersKey] = "127.0.0.0/8";
        }

        if (siloPort is { } silo && gatewayPort is { } gateway)
        {
            start.Environment["Orleans__SiloPort"] = silo.ToString(CultureInfo.InvariantCulture);
            start.Environment["Orleans__GatewayPort"] = gateway.ToString(CultureInfo.InvariantCulture);
        }

        var log = program.LogFile is null ? null : new StreamWriter(program.LogFile, append: true) { AutoFlush = true };
        try
        {
            var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start dotnet {program.Dll}");
            return new ProgramProcess(program.Name, process, log, httpPort, siloPort, gatewayPort);
        }
        catch
        {
            log?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Waits until <c>GET /health/ready</c> answers 200; fails at once, with the output, if the process exits first.
    /// </summary>
    public Task WaitReadyAsync(TimeSpan timeout, CancellationToken cancellationToken = default) =>
        WaitHealthyAsync("/health/ready", timeout, cancellationToken);

    /// <summary>
    /// Waits until <paramref name="path"/> (e.g. <c>/health/live</c>: listening) answers 200; fails at once, with the
    /// output, if the process exits first.
    /// </summary>
    public async Task WaitHealthyAsync(string path, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        using var http = new HttpClient { BaseAddress = HttpAddress, Timeout = ReadyProbeTimeout };
        var clock = Stopwatch.StartNew();
        var last = "not listening";
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (HasExited)
            {
                await DrainOutputAsync();
                throw new InvalidOperationException($"{Name} exited with {ExitCode} before it was ready; output:\n{Tail()}");
            }

            try
            {
                using var response = await http.GetAsync(path, cancellationToken);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }

                last = $"HTTP {(int)response.StatusCode}";
            }
            catch (Exception e) when ((e is HttpRequestException or TaskCanceledException) && !cancellationToken.IsCancellationRequested)
            {
                last = e.GetType().Name;
            }

            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"{Name}: {path} did not answer 200 within {timeout.TotalSeconds:0.#} s (last: {last}); output:\n{Tail()}");
            }

            await Task.Delay(ReadyPoll, cancellationToken);
        }
    }

    /// <summary>Waits for the process to exit and for its output to be read to the end; returns the exit code.</summary>
    /// <exception cref="TimeoutException">It still runs after <paramref name="timeout"/>; the message carries the output's tail.</exception>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancellation = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cancellation.Token);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            throw new TimeoutException($"{Name} did not exit within {timeout.TotalSeconds:0.#} s; output:\n{Tail()}");
        }

        return _process.ExitCode;
    }

    /// <summary>Sends SIGTERM, as a container runtime does on a stop; returns the wall-clock moment right before the system call.</summary>
    public DateTime Terminate() => Signal(Posix.SigTerm);

    /// <summary>Sends SIGKILL (no handler runs, nothing is saved on the way out); returns the wall-clock moment right before the system call.</summary>
    public DateTime KillHard() => Signal(Posix.SigKill);

    /// <summary>The last lines of the output, for failure messages.</summary>
    public string Tail(int lines = 60)
    {
        var all = Output.Split('\n');
        return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
    }

    /// <summary>
    /// The warnings and errors in the output, one line per log category in order of first appearance: level,
    /// category, count, and the first occurrence's message and exception lines. Where a long tail shows only the
    /// last symptom, this names the first cause (e.g. a "too many clients" before a flood of timeouts).
    /// </summary>
    public string Problems(int categories = 15)
    {
        var lines = Output.Split('\n');
        var found = new List<(string Key, int Count, string First)>();
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            if (!(line.StartsWith("warn: ", StringComparison.Ordinal) || line.StartsWith("fail: ", StringComparison.Ordinal) || line.StartsWith("crit: ", StringComparison.Ordinal)))
            {
                continue;
            }

            var key = line.Trim();
            var at = found.FindIndex(f => f.Key == key);
            if (at >= 0)
            {
                found[at] = found[at] with { Count = found[at].Count + 1 };
                continue;
            }

            var first = string.Join(" | ", lines.Skip(i + 1).Take(2).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith("at ", StringComparison.Ordinal)));
            found.Add((key, 1, first));
        }

        if (found.Count == 0)
        {
            return "(no warnings or errors)";
        }

        var shown = found.Take(categories).Select(f => $"{f.Key} ×{f.Count}: {f.First}");
        var more = found.Count > categories ? $"\n(and {found.Count - categories} more categories)" : "";
        return string.Join('\n', shown) + more;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            // Also lets the output readers reach the end, so Output (and the log) hold the last lines.
            using var wait = new CancellationTokenSource(KillTimeout);
            await _process.WaitForExitAsync(wait.Token);
        }
        catch (Exception e) when (e is InvalidOperationException or OperationCanceledException or Win32Exception)
        {
            // Already gone, or the kernel is slow to reap it: nothing more to do.
        }

        _process.Dispose();
        lock (_output)
        {
            _log?.Dispose();
        }
    }

    private static InvalidOperationException NoPort(string what) => new($"the program was started without {what} (see ProgramStart.Ports)");

    private DateTime Signal(int signal)
    {
        var at = DateTime.UtcNow;
        Posix.Send(_process.Id, signal);
        return at;
    }

    private async Task DrainOutputAsync()
    {
        using var wait = new CancellationTokenSource(DrainTimeout);
        try
        {
            await _process.WaitForExitAsync(wait.Token);
        }
        catch (OperationCanceledException)
        {
            // A grandchild holds the pipes open: the output read so far has to do.
        }
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
            try
            {
                _log?.WriteLine(line);
            }
            catch (ObjectDisposedException)
            {
                // Output after the caller let go of the process.
            }
        }
    }
}
