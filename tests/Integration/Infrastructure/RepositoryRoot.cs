namespace MeshHook.Tests.Integration.Infrastructure;

/// <summary>Finds the repository root (the folder holding MeshHook.Silo.sln) from the test binaries.</summary>
public static class RepositoryRoot
{
    public static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MeshHook.Silo.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"MeshHook.Silo.sln not found above {AppContext.BaseDirectory}");
    }
}
