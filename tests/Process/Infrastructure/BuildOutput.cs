using MeshHook.Tests.Integration.Infrastructure;

namespace MeshHook.Tests.Process.Infrastructure;

/// <summary>The programs the process tests start, from the build output of the same configuration as the tests.</summary>
public static class BuildOutput
{
    /// <summary>MeshHook.Silo.dll.</summary>
    public static string Silo => Find("Silo", "MeshHook.Silo.dll");

    /// <summary>MeshHook.Gateway.dll.</summary>
    public static string Gateway => Find("Gateway", "MeshHook.Gateway.dll");

    /// <summary>The dll <paramref name="assembly"/> of the project in <paramref name="projectFolder"/>.</summary>
    public static string Find(string projectFolder, string assembly)
    {
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}") ? "Release" : "Debug";
        var dll = Path.Combine(RepositoryRoot.Find(), projectFolder, "bin", configuration, "net10.0", assembly);
        return File.Exists(dll) ? dll : throw new FileNotFoundException($"build the solution first: {dll} is missing");
    }
}
