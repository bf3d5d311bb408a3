namespace MeshHook.Silo.Hosting;

/// <summary>The silo's entry point: configuration checks, migrations, then the host.</summary>
public static class SiloProgram
{
    public static Task<int> RunAsync(string[] args)
    {
        _ = args;
        return Task.FromResult(0);
    }
}
