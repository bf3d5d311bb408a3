using AwesomeAssertions;
using k8s;
using k8s.Models;

namespace MeshHook.Tests.Unit.Deploy;

/// <summary>
/// Every Kubernetes object in deploy/k8s reads as the API type its apiVersion and kind name, with no unknown field
/// (the KubernetesClient models, strict): a misspelt key such as <c>terminationGracePeriodSecond</c> would otherwise be
/// dropped by the API server without a word, and the pod would get 30 s.
/// </summary>
public sealed class KubernetesSchemaTests
{
    private static IEnumerable<(string File, string Text)> KubernetesObjects() =>
        DeployFiles.KubernetesManifests().Where(m => !m.File.EndsWith("kustomization.yaml", StringComparison.Ordinal));

    [Fact]
    public void Manifests_ReadAsTheirKubernetesTypes_WithNoUnknownField()
    {
        var objects = new List<object>();
        foreach (var (file, text) in KubernetesObjects())
        {
            var act = () => objects.AddRange(KubernetesYaml.LoadAllFromString(text, strict: true));
            act.Should().NotThrow($"{file} holds Kubernetes objects");
        }

        objects.OfType<V1Deployment>().Select(d => d.Metadata.Name).Should().BeEquivalentTo(["meshhook-silo", "meshhook-gateway"]);
        objects.OfType<V1Deployment>().Should().AllSatisfy(d => d.Spec.Template.Spec.TerminationGracePeriodSeconds.Should().NotBeNull());
        objects.OfType<V1PodDisruptionBudget>().Should().HaveCount(2);
        objects.OfType<V1NetworkPolicy>().Should().ContainSingle();
        objects.OfType<V1Job>().Should().ContainSingle().Which.Spec.Template.Spec.Containers[0].Args.Should().Equal("--migrate");
    }

    [Fact]
    public void OverlayPatch_ReadsAsAPartialDeployment()
    {
        var overlay = YamlNode.Documents(File.ReadAllText(Path.Combine(DeployFiles.KubernetesDirectory, "kubernetes-hosting", "kustomization.yaml"))).Single();

        var patch = KubernetesYaml.LoadAllFromString(overlay["patches"][0]["patch"].Text!, strict: true).Single();

        patch.Should().BeOfType<V1Deployment>().Which.Spec.Template.Spec.ServiceAccountName.Should().Be("meshhook-silo");
    }

    [Fact]
    public void Manifest_WithAMisspeltField_IsRefused()
    {
        var silo = DeployFiles.KubernetesManifest("silo.yaml").Text.Replace("terminationGracePeriodSeconds:", "terminationGracePeriodSecond:", StringComparison.Ordinal);

        var act = () => KubernetesYaml.LoadAllFromString(silo, strict: true);

        act.Should().Throw<Exception>().WithMessage("*terminationGracePeriodSecond*");
    }
}
