using AwesomeAssertions;

namespace MeshHook.Tests.Unit.Deploy;

/// <summary>The committed manifests, compose file and Dockerfiles pass every static check (DeployChecksTests shows each check can fail).</summary>
public sealed class DeployFilesTests
{
    [Fact]
    public void KubernetesManifests_AsCommitted_PassEveryCheck()
    {
        var manifests = DeployFiles.KubernetesManifests();
        manifests.Select(m => m.File).Should().Contain(f => f.EndsWith("silo.yaml", StringComparison.Ordinal))
            .And.Contain(f => f.EndsWith("gateway.yaml", StringComparison.Ordinal));

        DeployFiles.Checks().CheckKubernetes(manifests).Should().BeEmpty();
    }

    [Fact]
    public void KubernetesManifests_AsCommitted_RunBothProgramsWithProbesAndABudget()
    {
        var documents = DeployFiles.KubernetesManifests().SelectMany(m => YamlNode.Documents(m.Text)).ToList();
        var deployments = documents.Where(d => d["kind"].Text == "Deployment").ToList();
        var images = deployments.SelectMany(d => d["spec"]["template"]["spec"]["containers"].Items).Select(c => DeployChecks.ProgramOf(c["image"].Text)).ToList();

        images.Should().Contain(MeshHookProgram.Silo).And.Contain(MeshHookProgram.Gateway);
        documents.Should().Contain(d => d["kind"].Text == "PodDisruptionBudget");
        documents.Should().Contain(d => d["kind"].Text == "NetworkPolicy");
        documents.Should().Contain(d => d["kind"].Text == "Service");
    }

    [Fact]
    public void Compose_AsCommitted_PassesEveryCheck()
    {
        var text = File.ReadAllText(DeployFiles.ComposePath);
        var services = YamlNode.Documents(text)[0]["services"].Entries.ToList();
        services.Count(s => DeployChecks.ProgramOf(DeployChecks.Interpolate(s.Value["image"].Text)) == MeshHookProgram.Silo)
            .Should().Be(3, "the local cluster has three silos");
        services.Should().Contain(s => DeployChecks.ProgramOf(DeployChecks.Interpolate(s.Value["image"].Text)) == MeshHookProgram.Gateway);
        var scale = File.ReadAllText(DeployFiles.ComposeScalePath);
        YamlNode.Documents(scale)[0]["services"].Entries.Select(s => s.Key).Should().Equal("silo-4");

        DeployFiles.Checks().CheckCompose([("compose.yaml", text), ("compose.scale.yaml", scale)]).Should().BeEmpty();
    }

    [Theory]
    [InlineData(MeshHookProgram.Silo)]
    [InlineData(MeshHookProgram.Gateway)]
    public void Dockerfile_AsCommitted_PassesEveryCheck(MeshHookProgram program)
    {
        var path = DeployFiles.DockerfilePath(program);
        File.Exists(path).Should().BeTrue($"{Path.GetRelativePath(DeployFiles.Root, path)} builds the {program} image (issue 9); it is missing");

        DeployChecks.CheckDockerfile(program, Path.GetRelativePath(DeployFiles.Root, path), DeployFiles.Dockerfile(program)).Should().BeEmpty();
    }

    [Fact]
    public void GracefulShutdownDoc_KubernetesSnippet_PassesTheGraceProbePortAndAddressChecks()
    {
        var doc = File.ReadAllText(Path.Combine(DeployFiles.Root, "docs", "graceful-shutdown.md"));
        var start = doc.IndexOf("```yaml\nspec:\n", StringComparison.Ordinal);
        start.Should().BeGreaterThanOrEqualTo(0, "docs/graceful-shutdown.md shows the silo's pod spec in a yaml block");
        start += "```yaml\n".Length;
        var snippet = doc[start..doc.IndexOf("```", start, StringComparison.Ordinal)];

        // The snippet shows the parts that matter for shutdown; secrets and security contexts are in deploy/k8s.
        var problems = DeployFiles.Checks().CheckKubernetes([("docs/graceful-shutdown.md", "kind: Pod\nmetadata:\n  name: snippet\n" + snippet)]);

        problems.Where(p => !p.StartsWith("secret:", StringComparison.Ordinal) && !p.StartsWith("root:", StringComparison.Ordinal)).Should().BeEmpty();
        problems.Should().NotBeEmpty("the snippet leaves the secrets out, and the checks see that");
    }

    [Fact]
    public void Kustomizations_ListOnlyFilesThatExist()
    {
        var kustomizations = Directory.EnumerateFiles(DeployFiles.KubernetesDirectory, "kustomization.yaml", SearchOption.AllDirectories).ToList();
        kustomizations.Should().NotBeEmpty();
        foreach (var kustomization in kustomizations)
        {
            var directory = Path.GetDirectoryName(kustomization)!;
            var document = YamlNode.Documents(File.ReadAllText(kustomization)).Single();
            foreach (var resource in document["resources"].Items.Select(r => r.Text!))
            {
                var path = Path.GetFullPath(Path.Combine(directory, resource));
                (File.Exists(path) || File.Exists(Path.Combine(path, "kustomization.yaml")))
                    .Should().BeTrue($"{Path.GetRelativePath(DeployFiles.Root, kustomization)} lists {resource}");
            }

            foreach (var patch in document["patches"].Items.Where(p => p["patch"].Text is not null))
            {
                YamlNode.Documents(patch["patch"].Text!).Should().ContainSingle($"an inline patch of {Path.GetRelativePath(DeployFiles.Root, kustomization)} is one YAML document");
            }
        }
    }

    [Fact]
    public void KubernetesHostingOverlay_GivesThePodItsNameNamespaceAndAddress_AndARole()
    {
        var overlay = YamlNode.Documents(File.ReadAllText(Path.Combine(DeployFiles.KubernetesDirectory, "kubernetes-hosting", "kustomization.yaml"))).Single();
        var patch = YamlNode.Documents(overlay["patches"][0]["patch"].Text!).Single();
        var spec = patch["spec"]["template"]["spec"];
        var env = spec["containers"][0]["env"].Items.ToDictionary(e => e["name"].Text!, e => e["value"].Text ?? e["valueFrom"]["fieldRef"]["fieldPath"].Text);

        env.Should().Contain(Silo.Hosting.KubernetesHosting.EnabledKey.Replace(":", "__", StringComparison.Ordinal), "true");
        env.Should().Contain("POD_NAME", "metadata.name").And.Contain("POD_NAMESPACE", "metadata.namespace").And.Contain("POD_IP", "status.podIP");
        var rbac = YamlNode.Documents(File.ReadAllText(Path.Combine(DeployFiles.KubernetesDirectory, "kubernetes-hosting", "rbac.yaml")));
        rbac.Should().Contain(d => d["kind"].Text == "ServiceAccount" && d["metadata"]["name"].Text == spec["serviceAccountName"].Text);
        rbac.Single(d => d["kind"].Text == "Role")["rules"][0]["verbs"].Items.Select(v => v.Text).Should().Contain(["get", "list", "watch", "patch"]);
    }
}
