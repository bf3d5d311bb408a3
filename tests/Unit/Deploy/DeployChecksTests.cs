using AwesomeAssertions;
using MeshHook.Silo.Shutdown;

namespace MeshHook.Tests.Unit.Deploy;

/// <summary>Each static check catches a deliberately broken manifest, compose file or Dockerfile.</summary>
public sealed class DeployChecksTests : IDisposable
{
    private const string GoodSiloDockerfile = """
        # syntax=docker/dockerfile:1
        ARG BASE_IMAGE=mcr.microsoft.com/dotnet/aspnet:10.0
        FROM ${BASE_IMAGE} AS runtime
        WORKDIR /app
        COPY --chown=0:0 publish/silo/ /app/
        # listen on every interface; the pod's address is advertised from the environment
        ENV ASPNETCORE_URLS=http://+:8081 \
            DOTNET_NOLOGO=1
        EXPOSE 8081 11111 30000
        USER 1654
        STOPSIGNAL SIGTERM
        ENTRYPOINT ["dotnet", "/app/MeshHook.Silo.dll"]
        """;

    private readonly string _temp = Directory.CreateTempSubdirectory("meshhook-deploy-checks-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    private static (string File, string Text) Silo => DeployFiles.KubernetesManifest("silo.yaml");

    private static (string File, string Text) Gateway => DeployFiles.KubernetesManifest("gateway.yaml");

    /// <summary>The committed manifest with <paramref name="from"/> replaced (it must occur exactly once).</summary>
    private static (string File, string Text) Broken((string File, string Text) manifest, string from, string to)
    {
        manifest.Text.Split(from).Length.Should().Be(2, $"the test edits one occurrence of '{from}' in {manifest.File}");
        return (manifest.File, manifest.Text.Replace(from, to, StringComparison.Ordinal));
    }

    private static IReadOnlyList<string> CheckWithoutImages(params (string File, string Text)[] manifests) =>
        new DeployChecks(null, null).CheckKubernetes(manifests);

    private Dockerfile WrittenDockerfile(string text)
    {
        var path = Path.Combine(_temp, "Dockerfile");
        File.WriteAllText(path, text);
        return Dockerfile.Parse(File.ReadAllText(path));
    }

    // ------------------------------------------------------------ the committed files are the base of every broken case

    [Fact]
    public void CommittedManifests_WithoutTheDockerfiles_PassToo_BecauseTheyConfigureEverythingThemselves()
    {
        CheckWithoutImages(Silo, Gateway, DeployFiles.KubernetesManifest("networkpolicy.yaml"), DeployFiles.KubernetesManifest("migrate-job.yaml"))
            .Should().BeEmpty();
    }

    // ------------------------------------------------------------ grace period

    [Fact]
    public void Grace_ShorterThanTheSilosBudget_IsCaught()
    {
        var budget = new ShutdownOptions().Budget([]);
        var seconds = (int)budget.TotalSeconds;
        var manifest = Broken(Broken(Silo, "terminationGracePeriodSeconds: 35", $"terminationGracePeriodSeconds: {seconds}"),
            "value: \"00:00:35\"", $"value: \"{TimeSpan.FromSeconds(seconds):c}\"");

        var problems = CheckWithoutImages(manifest);

        problems.Should().Contain(p => p.StartsWith("grace:", StringComparison.Ordinal) && p.Contains("does not exceed the silo's shutdown budget", StringComparison.Ordinal));
        problems.Should().Contain(p => p.StartsWith("grace:", StringComparison.Ordinal) && p.Contains("would refuse", StringComparison.Ordinal));
    }

    [Fact]
    public void Grace_KubernetesDefaultWithTheDefaultBudget_IsCaughtOnlyWhenTheBudgetGrows()
    {
        // Kubernetes' default 30 s with the silo's defaults nests (29 s), but a longer drain does not.
        var defaults = Broken(Broken(Silo, "      terminationGracePeriodSeconds: 35\n", ""),
            "            - name: MeshHook__Shutdown__GracePeriod\n              value: \"00:00:35\"\n", "");
        CheckWithoutImages(defaults).Should().NotContain(p => p.StartsWith("grace:", StringComparison.Ordinal));

        var longerDrain = Broken(defaults, "value: \"00:00:25\"", "value: \"00:00:40\"");
        CheckWithoutImages(longerDrain).Should().Contain(p => p.StartsWith("grace:", StringComparison.Ordinal) && p.Contains("budget 44 s", StringComparison.Ordinal));
    }

    [Fact]
    public void Grace_NotEqualToTheSilosGracePeriod_IsCaught()
    {
        var manifest = Broken(Silo, "terminationGracePeriodSeconds: 35", "terminationGracePeriodSeconds: 60");

        CheckWithoutImages(manifest).Should().ContainSingle(p => p.StartsWith("grace:", StringComparison.Ordinal))
            .Which.Should().Contain("MeshHook__Shutdown__GracePeriod is 35 s but the silo gets 60 s");
    }

    [Fact]
    public void Grace_APreStopSleepTakesItsSecondsFromTheSilo()
    {
        var manifest = Broken(Silo, "          startupProbe:\n", "          lifecycle:\n            preStop:\n              sleep:\n                seconds: 5\n          startupProbe:\n");

        CheckWithoutImages(manifest).Should().Contain(p => p.StartsWith("grace:", StringComparison.Ordinal) && p.Contains("the silo gets 30 s", StringComparison.Ordinal));
    }

    [Fact]
    public void Grace_OfTheGatewayNotAboveItsShutdownTimeout_IsCaught()
    {
        var manifest = Broken(Gateway, "terminationGracePeriodSeconds: 25", "terminationGracePeriodSeconds: 20");

        CheckWithoutImages(manifest).Should().Contain(p => p.StartsWith("grace:", StringComparison.Ordinal) && p.Contains("ShutdownTimeout 20 s", StringComparison.Ordinal));
    }

    [Fact]
    public void Grace_OfAComposeSiloLeftAtComposesTenSeconds_IsCaught()
    {
        var compose = File.ReadAllText(DeployFiles.ComposePath);
        var broken = ReplaceFirst(compose, "    stop_grace_period: 35s\n", "");

        new DeployChecks(null, null).CheckCompose("compose.yaml", broken)
            .Should().Contain(p => p.StartsWith("grace:", StringComparison.Ordinal) && p.Contains("stop_grace_period 10 s", StringComparison.Ordinal));
    }

    // ------------------------------------------------------------ probes

    [Theory]
    [InlineData("path: /health/ready", "path: /healthz", "asks for /healthz")]
    [InlineData("path: /health/ready", "path: /health/live", "asks for /health/live")]
    [InlineData("""
              path: /health/ready
              port: http
""", """
              path: /health/ready
              port: 8080
""", "probes port 8080")]
    [InlineData("""
              path: /health/ready
              port: http
""", """
              path: /health/ready
              port: web
""", "names port 'web'")]
    public void Probe_OnAPathOrPortTheSiloDoesNotServe_IsCaught(string from, string to, string expected)
    {
        CheckWithoutImages(Broken(Silo, from, to))
            .Should().Contain(p => p.StartsWith("probe:", StringComparison.Ordinal) && p.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Probe_OnAnHttpEndpointBoundToLoopback_IsCaught()
    {
        var manifest = Broken(Silo, "value: http://+:8081", "value: http://127.0.0.1:8081");

        CheckWithoutImages(manifest).Should().Contain(p => p.StartsWith("probe:", StringComparison.Ordinal) && p.Contains("listens on 127.0.0.1:8081", StringComparison.Ordinal));
    }

    [Fact]
    public void Probe_WithNoListenAddressAnywhere_IsCaught_AndTheImagesEnvIsUsedWhenThereIsOne()
    {
        var manifest = Broken(Silo, "            - name: ASPNETCORE_URLS\n              value: http://+:8081\n", "");

        CheckWithoutImages(manifest).Should().Contain(p => p.StartsWith("ports:", StringComparison.Ordinal) && p.Contains("127.0.0.1 only", StringComparison.Ordinal));
        new DeployChecks(WrittenDockerfile(GoodSiloDockerfile), null).CheckKubernetes([manifest]).Should().BeEmpty();
        new DeployChecks(WrittenDockerfile(GoodSiloDockerfile.Replace("http://+:8081", "http://+:9000", StringComparison.Ordinal)), null).CheckKubernetes([manifest])
            .Should().Contain(p => p.StartsWith("probe:", StringComparison.Ordinal) && p.Contains("listens on +:9000", StringComparison.Ordinal));
    }

    [Fact]
    public void Probe_Missing_IsCaught()
    {
        var manifest = Broken(Gateway, "          readinessProbe:\n", "          unusedProbe:\n");

        CheckWithoutImages(manifest).Should().Contain(p => p.StartsWith("probe:", StringComparison.Ordinal) && p.Contains("has no readinessProbe", StringComparison.Ordinal));
    }

    // ------------------------------------------------------------ root

    [Fact]
    public void Root_PodWithoutNonRootSettingsAndAnImageWithoutUser_IsCaught()
    {
        var manifest = Broken(Silo, "        runAsNonRoot: true\n", "");
        var withoutUser = WrittenDockerfile(GoodSiloDockerfile.Replace("USER 1654\n", "", StringComparison.Ordinal));

        new DeployChecks(withoutUser, null).CheckKubernetes([manifest])
            .Should().Contain(p => p.StartsWith("root:", StringComparison.Ordinal) && p.Contains("no USER instruction", StringComparison.Ordinal));
        new DeployChecks(null, null).CheckKubernetes([manifest])
            .Should().Contain(p => p.StartsWith("root:", StringComparison.Ordinal) && p.Contains("is missing", StringComparison.Ordinal));
        new DeployChecks(WrittenDockerfile(GoodSiloDockerfile), null).CheckKubernetes([manifest]).Should().BeEmpty("the image's numeric USER makes it non-root");
    }

    [Fact]
    public void Root_RunAsUserZero_IsCaughtWhateverTheImage()
    {
        var manifest = Broken(Silo, "        runAsNonRoot: true\n", "        runAsUser: 0\n");

        new DeployChecks(WrittenDockerfile(GoodSiloDockerfile), null).CheckKubernetes([manifest])
            .Should().Contain(p => p.StartsWith("root:", StringComparison.Ordinal) && p.Contains("runs as root", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("USER 1654", "USER root", "runs the Silo as root")]
    [InlineData("USER 1654", "USER 0:0", "runs the Silo as root")]
    [InlineData("USER 1654", "USER app", "numeric user id")]
    [InlineData("USER 1654\n", "", "no USER instruction")]
    public void Root_InADockerfile_IsCaught(string from, string to, string expected)
    {
        var dockerfile = WrittenDockerfile(GoodSiloDockerfile.Replace(from, to, StringComparison.Ordinal));

        DeployChecks.CheckDockerfile(MeshHookProgram.Silo, "Silo/Dockerfile", dockerfile)
            .Should().Contain(p => p.StartsWith("root:", StringComparison.Ordinal) && p.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Root_AUserOnlyInAnEarlierBuildStage_DoesNotCount()
    {
        var dockerfile = WrittenDockerfile("FROM sdk AS build\nUSER 1000\nRUN make\n" + GoodSiloDockerfile.Replace("USER 1654\n", "", StringComparison.Ordinal));

        DeployChecks.CheckDockerfile(MeshHookProgram.Silo, "Silo/Dockerfile", dockerfile)
            .Should().Contain(p => p.StartsWith("root:", StringComparison.Ordinal) && p.Contains("no USER instruction", StringComparison.Ordinal));
    }

    [Fact]
    public void Dockerfile_Missing_FailsWithTheReason()
    {
        DeployChecks.CheckDockerfile(MeshHookProgram.Gateway, "Gateway/Dockerfile", null)
            .Should().ContainSingle().Which.Should().Contain("Gateway/Dockerfile is missing");
    }

    [Fact]
    public void Dockerfile_WrittenToDisk_PassesEveryCheck()
    {
        DeployChecks.CheckDockerfile(MeshHookProgram.Silo, "Silo/Dockerfile", WrittenDockerfile(GoodSiloDockerfile)).Should().BeEmpty();
    }

    // ------------------------------------------------------------ entrypoint

    [Theory]
    [InlineData("""ENTRYPOINT ["dotnet", "/app/MeshHook.Silo.dll"]""", "ENTRYPOINT dotnet /app/MeshHook.Silo.dll", "shell form")]
    [InlineData("""ENTRYPOINT ["dotnet", "/app/MeshHook.Silo.dll"]""", """ENTRYPOINT ["dotnet", "/app/MeshHook.Silo.dll"]""" + "\nCMD --urls http://+:8081", "CMD --urls")]
    [InlineData("""ENTRYPOINT ["dotnet", "/app/MeshHook.Silo.dll"]""", """ENTRYPOINT ["dotnet", "/app/MeshHook.Gateway.dll"]""", "does not start MeshHook.Silo")]
    [InlineData("""ENTRYPOINT ["dotnet", "/app/MeshHook.Silo.dll"]""", "", "no ENTRYPOINT")]
    [InlineData("STOPSIGNAL SIGTERM", "STOPSIGNAL SIGINT", "STOPSIGNAL must be SIGTERM")]
    public void Entrypoint_InShellFormOrWithoutSigterm_IsCaught(string from, string to, string expected)
    {
        var dockerfile = WrittenDockerfile(GoodSiloDockerfile.Replace(from, to, StringComparison.Ordinal));

        DeployChecks.CheckDockerfile(MeshHookProgram.Silo, "Silo/Dockerfile", dockerfile)
            .Should().Contain(p => p.StartsWith("entrypoint:", StringComparison.Ordinal) && p.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Entrypoint_AContainerCommandThroughAShell_IsCaught()
    {
        var manifest = Broken(Silo, "          imagePullPolicy: IfNotPresent\n",
            "          imagePullPolicy: IfNotPresent\n          command: [\"/bin/sh\", \"-c\", \"dotnet /app/MeshHook.Silo.dll\"]\n");

        CheckWithoutImages(manifest).Should().Contain(p => p.StartsWith("entrypoint:", StringComparison.Ordinal) && p.Contains("/bin/sh -c", StringComparison.Ordinal));
    }

    // ------------------------------------------------------------ ports

    [Fact]
    public void Ports_ContainerPortThatDisagreesWithTheSiloPort_IsCaught()
    {
        var manifest = Broken(Silo, "value: \"11111\"", "value: \"11112\"");

        var problems = CheckWithoutImages(manifest);

        problems.Should().Contain(p => p.StartsWith("ports:", StringComparison.Ordinal) && p.Contains("listens on 11112 (its configuration) but declares no containerPort 11112", StringComparison.Ordinal));
        problems.Should().Contain(p => p.StartsWith("ports:", StringComparison.Ordinal) && p.Contains("declares containerPort 11111 (orleans-silo), on which the Silo does not listen", StringComparison.Ordinal));
    }

    [Fact]
    public void Ports_HttpContainerPortThatDisagreesWithTheUrls_IsCaught()
    {
        var manifest = Broken(Gateway, "containerPort: 8080", "containerPort: 8090");

        CheckWithoutImages(manifest).Should().Contain(p => p.StartsWith("ports:", StringComparison.Ordinal) && p.Contains("declares no containerPort 8080", StringComparison.Ordinal));
    }

    [Fact]
    public void Ports_ServiceTargetingAPortTheGatewayDoesNotDeclare_IsCaught()
    {
        var manifest = Broken(Gateway, "targetPort: http", "targetPort: 9090");

        CheckWithoutImages(manifest).Should().Contain(p => p.StartsWith("ports:", StringComparison.Ordinal) && p.Contains("targets port 9090", StringComparison.Ordinal));
    }

    [Fact]
    public void Ports_NetworkPolicyOpeningAPortTheSilosDoNotUse_IsCaught()
    {
        var policy = Broken(DeployFiles.KubernetesManifest("networkpolicy.yaml"), "- port: 8081", "- port: 8082");

        CheckWithoutImages(Silo, policy).Should().Contain(p => p.StartsWith("ports:", StringComparison.Ordinal) && p.Contains("opens port 8082", StringComparison.Ordinal));
    }

    [Fact]
    public void Ports_TwoComposeSilosOnTheSameHostPort_IsCaught()
    {
        var compose = File.ReadAllText(DeployFiles.ComposePath);
        var broken = ReplaceFirst(compose, "Orleans__SiloPort: \"11112\"", "Orleans__SiloPort: \"11111\"");

        new DeployChecks(null, null).CheckCompose("compose.yaml", broken)
            .Should().Contain(p => p.StartsWith("ports:", StringComparison.Ordinal) && p.Contains("service silo-2 listens on 11111 (Orleans silo) on the host's network, as service silo-1 (compose.yaml) does", StringComparison.Ordinal));
    }

    [Fact]
    public void Ports_DockerfileExposingOtherPortsThanItListensOn_IsCaught()
    {
        var dockerfile = WrittenDockerfile(GoodSiloDockerfile.Replace("EXPOSE 8081 11111 30000", "EXPOSE 8080 11111 30000", StringComparison.Ordinal));

        DeployChecks.CheckDockerfile(MeshHookProgram.Silo, "Silo/Dockerfile", dockerfile)
            .Should().Contain(p => p.StartsWith("ports:", StringComparison.Ordinal) && p.Contains("listens on 8081, which EXPOSE does not list", StringComparison.Ordinal));
    }

    [Fact]
    public void Ports_TheScaleFilesSiloOnAPortOfCompose_IsCaught()
    {
        var compose = File.ReadAllText(DeployFiles.ComposePath);
        var scale = ReplaceFirst(File.ReadAllText(DeployFiles.ComposeScalePath), "ASPNETCORE_URLS: http://127.0.0.1:8084", "ASPNETCORE_URLS: http://127.0.0.1:8083");

        new DeployChecks(null, null).CheckCompose([("compose.yaml", compose), ("compose.scale.yaml", scale)])
            .Should().Contain(p => p.StartsWith("ports:", StringComparison.Ordinal) && p.Contains("service silo-4 listens on 8083 (HTTP) on the host's network, as service silo-3 (compose.yaml) does", StringComparison.Ordinal));
    }

    // ------------------------------------------------------------ address and secrets

    [Fact]
    public void Address_SiloPublishingItsLoopbackDefault_IsCaught()
    {
        var manifest = Broken(Silo, "            - name: Orleans__AdvertisedIP\n              valueFrom:\n                fieldRef:\n                  fieldPath: status.podIP\n", "");

        CheckWithoutImages(manifest).Should().Contain(p => p.StartsWith("address:", StringComparison.Ordinal) && p.Contains("its default, 127.0.0.1", StringComparison.Ordinal));
    }

    [Fact]
    public void Secret_GivenAsALiteral_IsCaught_InTheManifestAndTheDockerfile()
    {
        var manifest = Broken(Gateway, "            - name: MeshHook__Gateway__ApiKeys__0\n              valueFrom:\n                secretKeyRef:\n                  name: meshhook\n                  key: api-key-0\n",
            "            - name: MeshHook__Gateway__ApiKeys__0\n              value: not-a-real-key-but-literal\n");
        CheckWithoutImages(manifest).Should().Contain(p => p.StartsWith("secret:", StringComparison.Ordinal) && p.Contains("MeshHook__Gateway__ApiKeys__0 as a literal", StringComparison.Ordinal));

        var dockerfile = WrittenDockerfile(GoodSiloDockerfile.Replace("USER 1654", "ENV ConnectionStrings__MeshHook=Host=db\nUSER 1654", StringComparison.Ordinal));
        DeployChecks.CheckDockerfile(MeshHookProgram.Silo, "Silo/Dockerfile", dockerfile)
            .Should().Contain(p => p.StartsWith("secret:", StringComparison.Ordinal) && p.Contains("bakes a secret", StringComparison.Ordinal));
    }

    // ------------------------------------------------------------ the readers themselves

    [Fact]
    public void DockerfileReader_JoinsContinuedLines_DropsComments_AndReadsTheFinalStage()
    {
        var dockerfile = Dockerfile.Parse("""
            # escape=`
            FROM base AS build
            ENV ASPNETCORE_URLS=http://+:1
            FROM runtime
            ENV A=1 `
                # a comment inside the instruction
                ASPNETCORE_URLS="http://+:8081"
            ENV LEGACY value with spaces
            ENTRYPOINT ["x"]
            """);

        dockerfile.Instructions.Select(i => i.Keyword).Should().Equal("FROM", "ENV", "FROM", "ENV", "ENV", "ENTRYPOINT");
        dockerfile.Env("ASPNETCORE_URLS").Should().Be("http://+:8081");
        dockerfile.Env("LEGACY").Should().Be("value with spaces");
        dockerfile.Last("ENTRYPOINT")!.ExecForm().Should().Equal("x");
        dockerfile.Last("ENTRYPOINT")!.Line.Should().Be(9);
    }

    [Theory]
    [InlineData("35s", 35)]
    [InlineData("1m30s", 90)]
    [InlineData("2m", 120)]
    [InlineData("1500ms", 1)]
    [InlineData("35", null)]
    [InlineData("soon", null)]
    public void ComposeDuration_ReadsComposesFormat(string text, int? seconds) =>
        DeployChecks.ComposeDurationSeconds(text).Should().Be(seconds);

    [Fact]
    public void ComposeInterpolation_TakesDefaultsAndMarksRequiredVariables() =>
        DeployChecks.Interpolate("${IMAGE:-localhost/meshhook-silo:dev} ${KEY:?set it} ${NOTHING}x").Should().Be("localhost/meshhook-silo:dev <KEY> x");

    private static string ReplaceFirst(string text, string from, string to)
    {
        var at = text.IndexOf(from, StringComparison.Ordinal);
        at.Should().BeGreaterThanOrEqualTo(0, $"the test edits '{from}'");
        return string.Concat(text.AsSpan(0, at), to, text.AsSpan(at + from.Length));
    }
}
