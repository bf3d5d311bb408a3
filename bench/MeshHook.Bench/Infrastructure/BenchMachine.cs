namespace MeshHook.Bench.Infrastructure;

/// <summary>Where the benchmarks run: the repository they were built from, and how loaded the machine is.</summary>
public static class BenchMachine
{
    /// <summary>The machine's load averages (1, 5, 15 min) on Linux: the timings depend on what else runs on the cores.</summary>
    public static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "n/a";
        }
    }

    /// <summary>The folder holding MeshHook.Silo.sln, above the bench's build output or the working directory.</summary>
    public static string RepositoryRoot()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "MeshHook.Silo.sln")))
                {
                    return dir.FullName;
                }
            }
        }

        throw new InvalidOperationException($"MeshHook.Silo.sln not found above {AppContext.BaseDirectory}");
    }
}
