namespace MeshHook.Testing.Processes;

/// <summary>What <see cref="ProgramProcess.Start"/> starts: <c>dotnet {Dll} {Arguments}</c> with the given environment and ports.</summary>
/// <param name="Name">A name for messages and logs, such as <c>silo-1</c> or <c>gateway</c>.</param>
/// <param name="Dll">The program's dll in a build output.</param>
public sealed record ProgramStart(string Name, string Dll)
{
    /// <summary>Command-line arguments after the dll (and after <c>--urls</c> when the program gets an HTTP port).</summary>
    public IReadOnlyList<string> Arguments { get; init; } = [];

    /// <summary>
    /// Environment variables on top of the caller's own; a null value removes a variable. <c>ConnectionStrings__MeshHook</c>
    /// never leaks in from the caller: the program has only the one given here.
    /// </summary>
    public IReadOnlyDictionary<string, string?> Environment { get; init; } = new Dictionary<string, string?>();

    /// <summary>Which ports the program gets from <see cref="FreePorts"/>; none by default.</summary>
    public ProgramPorts Ports { get; init; } = ProgramPorts.None;

    /// <summary>
    /// The HTTP port to listen on instead of one from <see cref="FreePorts"/> (with <see cref="ProgramPorts.Http"/> or
    /// <see cref="ProgramPorts.Silo"/>): a program restarted in place, which its clients reach at the same address.
    /// </summary>
    public int? HttpPort { get; init; }

    /// <summary>A file every output line is appended to as well, or null.</summary>
    public string? LogFile { get; init; }
}

/// <summary>The ports a started program listens on.</summary>
public enum ProgramPorts
{
    /// <summary>None (the program is expected to exit before it listens, or is given its ports by the caller).</summary>
    None,

    /// <summary>HTTP only: <c>--urls http://127.0.0.1:{port}</c> (the gateway).</summary>
    Http,

    /// <summary>HTTP and Orleans' silo and gateway ports (<c>Orleans__SiloPort</c>, <c>Orleans__GatewayPort</c>): a silo.</summary>
    Silo,
}
