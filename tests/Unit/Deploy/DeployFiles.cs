using MeshHook.Tests.Integration.Infrastructure;

namespace MeshHook.Tests.Unit.Deploy;

/// <summary>The deploy files of the repository, as committed.</summary>
public static class DeployFiles
{
    public static string Root { get; } = RepositoryRoot.Find();

    public static string KubernetesDirectory => Path.Combine(Root, "deploy", "k8s");

    public static string ComposePath => Path.Combine(Root, "compose.yaml");

    /// <summary>The fourth silo, used with <c>-f compose.yaml -f compose.scale.yaml</c>.</summary>
    public static string ComposeScalePath => Path.Combine(Root, "compose.scale.yaml");

    public static string DockerfilePath(MeshHookProgram program) => Path.Combine(Root, program.ToString(), "Dockerfile");

    /// <summary>Every YAML file under deploy/k8s, with its path relative to the repository root.</summary>
    public static IReadOnlyList<(string File, string Text)> KubernetesManifests() =>
        Directory.EnumerateFiles(KubernetesDirectory, "*.yaml", SearchOption.AllDirectories)
            .Concat(Directory.EnumerateFiles(KubernetesDirectory, "*.yml", SearchOption.AllDirectories))
            .Order(StringComparer.Ordinal)
            .Select(f => (Path.GetRelativePath(Root, f), File.ReadAllText(f)))
            .ToList();

    /// <summary>The committed manifest <paramref name="name"/> (relative to deploy/k8s).</summary>
    public static (string File, string Text) KubernetesManifest(string name) =>
        ($"deploy/k8s/{name}", File.ReadAllText(Path.Combine(KubernetesDirectory, name)));

    /// <summary>The program's Dockerfile, or null when the repository has none.</summary>
    public static Dockerfile? Dockerfile(MeshHookProgram program) =>
        File.Exists(DockerfilePath(program)) ? Deploy.Dockerfile.Parse(File.ReadAllText(DockerfilePath(program))) : null;

    /// <summary>The checks, with the repository's Dockerfiles as the images' defaults.</summary>
    public static DeployChecks Checks() => new(Dockerfile(MeshHookProgram.Silo), Dockerfile(MeshHookProgram.Gateway));
}
