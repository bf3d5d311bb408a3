using System.Globalization;
using System.Text.RegularExpressions;
using MeshHook.Gateway.Hosting;
using MeshHook.Silo.Hosting;
using MeshHook.Silo.Shutdown;
using Microsoft.Extensions.Configuration;

namespace MeshHook.Tests.Unit.Deploy;

/// <summary>Which of the two programs an image runs.</summary>
public enum MeshHookProgram
{
    Silo,
    Gateway,
}

/// <summary>
/// Static checks of what an operator deploys (deploy/k8s/, compose.yaml, the two Dockerfiles) against what the programs
/// really do: the shutdown budget and option defaults come from the programs' own option types, not from copied numbers.
/// Every problem is one line that starts with its kind (<c>grace:</c>, <c>probe:</c>, <c>root:</c>, <c>entrypoint:</c>,
/// <c>ports:</c>, <c>address:</c>, <c>secret:</c>) and names the file and the container.
/// </summary>
public sealed partial class DeployChecks(Dockerfile? siloDockerfile, Dockerfile? gatewayDockerfile)
{
    /// <summary>Kubernetes' grace period when a pod sets none.</summary>
    public const int KubernetesDefaultGraceSeconds = 30;

    /// <summary>docker compose's and podman-compose's stop timeout when a service sets no stop_grace_period.</summary>
    public const int ComposeDefaultGraceSeconds = 10;

    public const string LivePath = "/health/live";
    public const string ReadyPath = "/health/ready";

    private static readonly string[] SecretVariables = ["ConnectionStrings__MeshHook", "MeshHook__Secrets__Key"];

    /// <summary>The program an image name runs, or null for any other image (Postgres, say).</summary>
    public static MeshHookProgram? ProgramOf(string? image) =>
        image is null ? null
        : image.Contains("meshhook-silo", StringComparison.Ordinal) ? MeshHookProgram.Silo
        : image.Contains("meshhook-gateway", StringComparison.Ordinal) ? MeshHookProgram.Gateway
        : null;

    private Dockerfile? DockerfileOf(MeshHookProgram program) => program == MeshHookProgram.Silo ? siloDockerfile : gatewayDockerfile;

    // ---------------------------------------------------------------- Dockerfiles

    /// <summary>The image a Dockerfile builds: non-root numeric user, exec-form entrypoint, SIGTERM, reachable listen address.</summary>
    public static IReadOnlyList<string> CheckDockerfile(MeshHookProgram program, string path, Dockerfile? dockerfile)
    {
        if (dockerfile is null)
        {
            return [$"root: {path} is missing: the {program} image is built from it (scripts/images.sh), so nothing says it runs as a non-root user with an exec-form entrypoint"];
        }

        var problems = new List<string>();
        var user = dockerfile.Last("USER");
        if (user is null)
        {
            problems.Add($"root: {path}: the final stage has no USER instruction, so the {program} runs as root");
        }
        else
        {
            var name = user.Arguments.Split(':')[0].Trim();
            if (name is "root" or "0")
            {
                problems.Add($"root: {path}:{user.Line}: USER {user.Arguments} runs the {program} as root");
            }
            else if (!int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out _))
            {
                problems.Add($"root: {path}:{user.Line}: USER {user.Arguments} is a name; Kubernetes' runAsNonRoot can only verify a numeric user id");
            }
        }

        var entrypoint = dockerfile.Last("ENTRYPOINT");
        if (entrypoint is null)
        {
            problems.Add($"entrypoint: {path}: the final stage has no ENTRYPOINT");
        }
        else if (entrypoint.ExecForm() is not { } words)
        {
            problems.Add($"entrypoint: {path}:{entrypoint.Line}: ENTRYPOINT {entrypoint.Arguments} is in shell form: /bin/sh -c would be PID 1 and the {program} would not receive SIGTERM; write it as a JSON array");
        }
        else if (!words.Any(w => w.Contains($"MeshHook.{program}", StringComparison.Ordinal)))
        {
            problems.Add($"entrypoint: {path}:{entrypoint.Line}: ENTRYPOINT {entrypoint.Arguments} does not start MeshHook.{program}");
        }

        if (dockerfile.Last("CMD") is { } cmd && cmd.ExecForm() is null)
        {
            problems.Add($"entrypoint: {path}:{cmd.Line}: CMD {cmd.Arguments} is in shell form; with an exec-form ENTRYPOINT it would be passed as '/bin/sh -c …' arguments");
        }

        var stopSignal = dockerfile.Last("STOPSIGNAL");
        if (stopSignal is null || stopSignal.Arguments.Trim() is not ("SIGTERM" or "15" or "TERM"))
        {
            problems.Add($"entrypoint: {path}: STOPSIGNAL must be SIGTERM (found: {stopSignal?.Arguments ?? "none"}): the graceful shutdown starts on SIGTERM");
        }

        var urls = dockerfile.Env("ASPNETCORE_URLS");
        if (urls is null)
        {
            problems.Add($"ports: {path}: no ENV ASPNETCORE_URLS: the {program} would listen on its loopback default, out of reach of probes and peers");
        }
        else
        {
            var listen = ListenUrl.ParseAll(urls, out var invalid);
            problems.AddRange(invalid.Select(u => $"ports: {path}: ASPNETCORE_URLS has '{u}', which is not a listen address"));
            if (listen.Count > 0 && !listen.Any(u => u.IsReachableFromOutside))
            {
                problems.Add($"ports: {path}: ASPNETCORE_URLS {urls} listens on no outside interface (use http://+:PORT)");
            }

            var exposed = dockerfile.FinalStage.Where(i => i.Keyword == "EXPOSE")
                .SelectMany(i => i.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Select(p => int.TryParse(p.Split('/')[0], NumberStyles.None, CultureInfo.InvariantCulture, out var port) ? port : -1)
                .ToHashSet();
            if (exposed.Count > 0)
            {
                var needed = listen.Select(u => u.Port).ToList();
                if (program == MeshHookProgram.Silo)
                {
                    var imageEnv = new Dictionary<string, string>();
                    foreach (var (key, value) in dockerfile.FinalStage.Where(i => i.Keyword == "ENV").SelectMany(i => i.KeyValues()))
                    {
                        imageEnv[key] = value;
                    }

                    var endpoints = Bind<OrleansEndpointOptions>(imageEnv, OrleansEndpointOptions.Section);
                    needed.Add(endpoints.SiloPort);
                    needed.Add(endpoints.GatewayPort);
                }

                problems.AddRange(needed.Where(p => !exposed.Contains(p)).Select(p => $"ports: {path}: the {program} listens on {p}, which EXPOSE does not list"));
            }
        }

        foreach (var env in dockerfile.Instructions.Where(i => i.Keyword is "ENV" or "ARG"))
        {
            foreach (var (key, _) in env.KeyValues())
            {
                if (SecretVariables.Contains(key) || key.StartsWith("MeshHook__Gateway__ApiKeys", StringComparison.Ordinal))
                {
                    problems.Add($"secret: {path}:{env.Line}: {env.Keyword} {key} bakes a secret into the image; give it at run time");
                }
            }
        }

        return problems;
    }

    // ---------------------------------------------------------------- Kubernetes

    /// <summary>Every workload, Service and NetworkPolicy of a set of Kubernetes manifests, checked against the programs.</summary>
    public IReadOnlyList<string> CheckKubernetes(IEnumerable<(string File, string Text)> files)
    {
        var problems = new List<string>();
        var documents = files.SelectMany(f => YamlNode.Documents(f.Text).Select(d => (f.File, Doc: d))).ToList();
        var workloads = new List<(string File, string Name, YamlNode PodTemplate)>();
        foreach (var (file, doc) in documents)
        {
            var kind = doc["kind"].Text;
            var name = doc["metadata"]["name"].Text ?? doc["metadata"]["generateName"].Text ?? "?";
            var template = kind switch
            {
                "Pod" => doc,
                "Deployment" or "StatefulSet" or "DaemonSet" or "ReplicaSet" or "Job" => doc["spec"]["template"],
                "CronJob" => doc["spec"]["jobTemplate"]["spec"]["template"],
                _ => YamlNode.Missing,
            };
            if (!template.IsMissing)
            {
                workloads.Add((file, $"{kind}/{name}", template));
                problems.AddRange(CheckPod(file, $"{kind}/{name}", template["spec"]));
            }
        }

        foreach (var (file, doc) in documents)
        {
            switch (doc["kind"].Text)
            {
                case "Service":
                    problems.AddRange(CheckService(file, doc, workloads));
                    break;
                case "NetworkPolicy":
                    problems.AddRange(CheckNetworkPolicy(file, doc, workloads));
                    break;
            }
        }

        return problems;
    }

    private IEnumerable<string> CheckPod(string file, string workload, YamlNode pod)
    {
        var graceText = pod["terminationGracePeriodSeconds"];
        var grace = graceText.IsMissing ? KubernetesDefaultGraceSeconds : graceText.Int ?? -1;
        foreach (var container in pod["containers"].Items)
        {
            var image = container["image"].Text;
            if (ProgramOf(image) is not { } program)
            {
                continue;
            }

            var where = $"{file}: {workload} container {container["name"].Text}";
            var env = KubernetesEnv(container);
            var args = container["args"].Items.Select(a => a.Text ?? "").ToList();
            var migrateOnly = args.Contains("--migrate") || container["command"].Items.Any(a => a.Text == "--migrate");

            foreach (var problem in CheckCommand(where, container["command"].Items.Select(c => c.Text ?? "").ToList()))
            {
                yield return problem;
            }

            foreach (var problem in CheckNonRoot(where, program, pod["securityContext"], container["securityContext"]))
            {
                yield return problem;
            }

            foreach (var problem in CheckSecretsFromSecret(where, program, env, migrateOnly))
            {
                yield return problem;
            }

            if (migrateOnly)
            {
                continue;
            }

            var listen = ListenAddresses(where, program, env.Literals, args, out var listenProblems);
            foreach (var problem in listenProblems)
            {
                yield return problem;
            }

            var ports = container["ports"].Items.Select(p => (Name: p["name"].Text, Port: p["containerPort"].Int ?? -1)).ToList();
            var httpPorts = listen.Where(u => u.IsReachableFromOutside).Select(u => u.Port).ToHashSet();
            foreach (var probeKind in new[] { "livenessProbe", "readinessProbe", "startupProbe" })
            {
                var probe = container[probeKind];
                if (probe.IsMissing)
                {
                    if (probeKind != "startupProbe")
                    {
                        yield return $"probe: {where} has no {probeKind}";
                    }

                    continue;
                }

                foreach (var problem in CheckProbe(where, probeKind, probe, ports, httpPorts, listen))
                {
                    yield return problem;
                }
            }

            var expected = listen.Select(u => u.Port).ToList();
            if (program == MeshHookProgram.Silo)
            {
                var endpoints = Bind<OrleansEndpointOptions>(env.Literals, OrleansEndpointOptions.Section);
                expected.Add(endpoints.SiloPort);
                expected.Add(endpoints.GatewayPort);
                foreach (var problem in CheckAdvertisedAddress(where, env))
                {
                    yield return problem;
                }
            }

            foreach (var port in expected.Distinct().Where(p => ports.All(c => c.Port != p)))
            {
                yield return $"ports: {where} listens on {port} (its configuration) but declares no containerPort {port}";
            }

            foreach (var (name, port) in ports.Where(c => !expected.Contains(c.Port)))
            {
                yield return $"ports: {where} declares containerPort {port} ({name}), on which the {program} does not listen (it listens on {string.Join(", ", expected.Distinct())})";
            }

            var preStop = PreStopSleepSeconds(container);
            foreach (var problem in CheckGrace(where, "terminationGracePeriodSeconds", program, grace, preStop, env.Literals))
            {
                yield return problem;
            }
        }
    }

    private static IEnumerable<string> CheckProbe(string where, string kind, YamlNode probe, List<(string? Name, int Port)> ports, HashSet<int> httpPorts, IReadOnlyList<ListenUrl> listen)
    {
        var get = probe["httpGet"];
        if (get.IsMissing)
        {
            yield return $"probe: {where} {kind} is not an httpGet on {LivePath} or {ReadyPath}";
            yield break;
        }

        var path = get["path"].Text;
        var allowed = kind switch
        {
            "livenessProbe" => [LivePath],
            "readinessProbe" => [ReadyPath],
            _ => new[] { LivePath, ReadyPath },
        };
        if (!allowed.Contains(path))
        {
            yield return $"probe: {where} {kind} asks for {path ?? "no path"}; the program serves {string.Join(" or ", allowed)} for it";
        }

        if (!get["host"].IsMissing)
        {
            yield return $"probe: {where} {kind} sets host {get["host"].Text}; the kubelet must probe the pod's own address";
        }

        var portNode = get["port"];
        var port = portNode.Int ?? ports.FirstOrDefault(p => p.Name == portNode.Text && portNode.Text is not null).Port;
        if (port <= 0)
        {
            yield return $"probe: {where} {kind} names port '{portNode.Text}', which no containerPort has";
        }
        else if (!httpPorts.Contains(port))
        {
            var serving = listen.Count == 0 ? "nothing reachable" : string.Join(", ", listen.Select(u => $"{u.Host}:{u.Port}"));
            yield return $"probe: {where} {kind} probes port {port}, but the program's HTTP endpoint listens on {serving}";
        }
    }

    /// <summary>The listen addresses a container's program will use: --urls, then ASPNETCORE_URLS/DOTNET_URLS, then the image's ENV.</summary>
    private IReadOnlyList<ListenUrl> ListenAddresses(string where, MeshHookProgram program, IReadOnlyDictionary<string, string> env, IReadOnlyList<string> args, out List<string> problems)
    {
        problems = [];
        string? urls = null;
        for (var i = 0; i < args.Count; i++)
        {
            if (args[i] == "--urls" && i + 1 < args.Count)
            {
                urls = args[i + 1];
            }
            else if (args[i].StartsWith("--urls=", StringComparison.Ordinal))
            {
                urls = args[i]["--urls=".Length..];
            }
        }

        urls ??= env.GetValueOrDefault("ASPNETCORE_URLS") ?? env.GetValueOrDefault("DOTNET_URLS") ?? DockerfileOf(program)?.Env("ASPNETCORE_URLS");
        if (urls is null)
        {
            problems.Add($"ports: {where} sets no listen address (ASPNETCORE_URLS or --urls) and {(DockerfileOf(program) is null ? "its Dockerfile is missing" : "its image sets none")}: the {program} would listen on 127.0.0.1 only");
            return [];
        }

        var listen = ListenUrl.ParseAll(urls, out var invalid);
        problems.AddRange(invalid.Select(u => $"ports: {where}: '{u}' is not a listen address"));
        return listen;
    }

    private IEnumerable<string> CheckNonRoot(string where, MeshHookProgram program, YamlNode podSecurity, YamlNode containerSecurity)
    {
        var contexts = new[] { podSecurity, containerSecurity };
        if (contexts.Any(c => c["runAsUser"].Int == 0) || contexts.Any(c => c["runAsNonRoot"].Bool == false) && !contexts.Any(c => c["runAsUser"].Int > 0))
        {
            yield return $"root: {where} runs as root (runAsUser 0 or runAsNonRoot false)";
            yield break;
        }

        if (contexts.Any(c => c["runAsNonRoot"].Bool == true || c["runAsUser"].Int > 0))
        {
            yield break;
        }

        var dockerfile = DockerfileOf(program);
        if (CheckDockerfile(program, program.ToString(), dockerfile).Where(p => p.StartsWith("root:", StringComparison.Ordinal)).ToList() is { Count: > 0 } imageProblems)
        {
            yield return $"root: {where} sets neither runAsNonRoot nor runAsUser, and the image does not make it non-root: {string.Join("; ", imageProblems)}";
        }
    }

    private static IEnumerable<string> CheckCommand(string where, IReadOnlyList<string> command)
    {
        if (command.Count >= 2 && Path.GetFileName(command[0]) is "sh" or "bash" or "ash" or "dash" && command.Skip(1).Any(a => a == "-c"))
        {
            yield return $"entrypoint: {where} runs its command through {command[0]} -c: the shell would be PID 1 and the program would not receive SIGTERM";
        }
    }

    private static IEnumerable<string> CheckSecretsFromSecret(string where, MeshHookProgram program, KubernetesContainerEnv env, bool migrateOnly)
    {
        var required = migrateOnly ? ["ConnectionStrings__MeshHook"] : program == MeshHookProgram.Gateway
            ? SecretVariables.Append("MeshHook__Gateway__ApiKeys__0")
            : SecretVariables;
        foreach (var name in required.Where(n => !env.Literals.ContainsKey(n) && !env.FromSecret.Contains(n)))
        {
            yield return $"secret: {where} does not set {name}";
        }

        foreach (var name in env.Literals.Keys.Where(n => SecretVariables.Contains(n) || n.StartsWith("MeshHook__Gateway__ApiKeys__", StringComparison.Ordinal)))
        {
            yield return $"secret: {where} gives {name} as a literal value; read it from a Secret (valueFrom.secretKeyRef)";
        }
    }

    private static IEnumerable<string> CheckAdvertisedAddress(string where, KubernetesContainerEnv env)
    {
        if (env.FieldRefs.GetValueOrDefault("Orleans__AdvertisedIP") == "status.podIP")
        {
            yield break;
        }

        var kubernetesHosting = string.Equals(env.Literals.GetValueOrDefault("MeshHook__Kubernetes__Enabled"), "true", StringComparison.OrdinalIgnoreCase);
        if (kubernetesHosting && !env.Literals.ContainsKey("Orleans__AdvertisedIP") && env.FieldRefs.GetValueOrDefault("POD_IP") == "status.podIP")
        {
            yield break;
        }

        var value = env.Literals.GetValueOrDefault("Orleans__AdvertisedIP") ?? $"its default, {new OrleansEndpointOptions().AdvertisedIP}";
        yield return $"address: {where} publishes {value} in the membership table; set Orleans__AdvertisedIP from the downward API (fieldRef status.podIP) so other pods reach it";
    }

    private static IEnumerable<string> CheckGrace(string where, string graceName, MeshHookProgram program, int graceSeconds, int preStopSeconds, IReadOnlyDictionary<string, string> env)
    {
        if (graceSeconds <= 0)
        {
            yield return $"grace: {where}: {graceName} is not a positive number of seconds";
            yield break;
        }

        var grace = TimeSpan.FromSeconds(graceSeconds);
        if (program == MeshHookProgram.Gateway)
        {
            var gateway = Bind<GatewayOptions>(env, GatewayOptions.Section);
            if (grace - TimeSpan.FromSeconds(preStopSeconds) <= gateway.ShutdownTimeout)
            {
                yield return $"grace: {where}: {graceName} {graceSeconds} s{PreStopNote(preStopSeconds)} does not exceed the gateway's ShutdownTimeout {gateway.ShutdownTimeout.TotalSeconds:0.###} s: in-flight requests would be killed";
            }

            yield break;
        }

        var shutdown = Bind<ShutdownOptions>(env, ShutdownOptions.Section);
        var budget = shutdown.Budget([]);
        var afterSignal = grace - TimeSpan.FromSeconds(preStopSeconds);
        if (afterSignal <= budget)
        {
            yield return $"grace: {where}: {graceName} {graceSeconds} s{PreStopNote(preStopSeconds)} does not exceed the silo's shutdown budget " +
                $"{budget.TotalSeconds:0.###} s (drain {shutdown.DrainTimeout.TotalSeconds:0.###} s or peer check {shutdown.PeerCheckTimeout.TotalSeconds:0.###} s + " +
                $"hand-off {shutdown.HandOffTimeout.TotalSeconds:0.###} s + report {shutdown.ReportTimeout.TotalSeconds:0.###} s): the kill would cut off state writes";
        }

        if (shutdown.GracePeriod != afterSignal)
        {
            yield return $"grace: {where}: MeshHook__Shutdown__GracePeriod is {shutdown.GracePeriod.TotalSeconds:0.###} s but the silo gets {afterSignal.TotalSeconds:0.###} s " +
                $"between SIGTERM and SIGKILL ({graceName} {graceSeconds} s{PreStopNote(preStopSeconds)}); they must be equal, or the silo plans with the wrong limit";
        }

        var validation = new ShutdownOptionsValidator([]).Validate(null, shutdown);
        if (validation.Failed)
        {
            yield return $"grace: {where}: the silo would refuse this configuration: {validation.FailureMessage}";
        }
    }

    private static string PreStopNote(int preStopSeconds) => preStopSeconds > 0 ? $" less a {preStopSeconds} s preStop sleep" : "";

    private static int PreStopSleepSeconds(YamlNode container) => container["lifecycle"]["preStop"]["sleep"]["seconds"].Int ?? 0;

    private static IEnumerable<string> CheckService(string file, YamlNode service, List<(string File, string Name, YamlNode PodTemplate)> workloads)
    {
        var selector = service["spec"]["selector"].Entries.ToDictionary(e => e.Key, e => e.Value.Text);
        var selected = workloads.Where(w => selector.Count > 0 && selector.All(s => w.PodTemplate["metadata"]["labels"][s.Key].Text == s.Value)).ToList();
        var name = service["metadata"]["name"].Text;
        if (selected.Count == 0)
        {
            yield return $"ports: {file}: Service/{name} selects no pod of these manifests";
            yield break;
        }

        foreach (var (workloadFile, workload, template) in selected)
        {
            if (template["spec"]["containers"].Items.Any(c => ProgramOf(c["image"].Text) == MeshHookProgram.Silo))
            {
                yield return $"ports: {file}: Service/{name} selects the silos ({workload}); their ports stay inside the cluster and peers find them through the membership table";
            }

            var containerPorts = template["spec"]["containers"].Items.SelectMany(c => c["ports"].Items).ToList();
            foreach (var port in service["spec"]["ports"].Items)
            {
                var target = port["targetPort"].IsMissing ? port["port"] : port["targetPort"];
                if (!containerPorts.Any(p => (target.Int is { } number && p["containerPort"].Int == number) || (target.Int is null && p["name"].Text == target.Text)))
                {
                    yield return $"ports: {file}: Service/{name} targets port {target.Text}, which {workload} ({workloadFile}) does not declare";
                }
            }
        }
    }

    private static IEnumerable<string> CheckNetworkPolicy(string file, YamlNode policy, List<(string File, string Name, YamlNode PodTemplate)> workloads)
    {
        var selector = policy["spec"]["podSelector"]["matchLabels"].Entries.ToDictionary(e => e.Key, e => e.Value.Text);
        var name = policy["metadata"]["name"].Text;
        var selected = workloads.Where(w => selector.All(s => w.PodTemplate["metadata"]["labels"][s.Key].Text == s.Value)).ToList();
        if (selected.Count == 0)
        {
            yield return $"ports: {file}: NetworkPolicy/{name} selects no pod of these manifests";
            yield break;
        }

        var containerPorts = selected.SelectMany(w => w.PodTemplate["spec"]["containers"].Items).SelectMany(c => c["ports"].Items).ToList();
        foreach (var port in policy["spec"]["ingress"].Items.SelectMany(rule => rule["ports"].Items))
        {
            var value = port["port"];
            if (!containerPorts.Any(p => (value.Int is { } number && p["containerPort"].Int == number) || (value.Int is null && p["name"].Text == value.Text)))
            {
                yield return $"ports: {file}: NetworkPolicy/{name} opens port {value.Text}, which its pods do not declare";
            }
        }
    }

    /// <summary>A container's environment: literal values, variables read from Secrets, and downward-API fields.</summary>
    private sealed record KubernetesContainerEnv(IReadOnlyDictionary<string, string> Literals, IReadOnlySet<string> FromSecret, IReadOnlyDictionary<string, string> FieldRefs);

    private static KubernetesContainerEnv KubernetesEnv(YamlNode container)
    {
        var literals = new Dictionary<string, string>();
        var fromSecret = new HashSet<string>();
        var fieldRefs = new Dictionary<string, string>();
        foreach (var variable in container["env"].Items)
        {
            var name = variable["name"].Text ?? "";
            if (variable["value"].Text is { } value)
            {
                literals[name] = value;
            }
            else if (!variable["valueFrom"]["secretKeyRef"].IsMissing)
            {
                fromSecret.Add(name);
            }
            else if (variable["valueFrom"]["fieldRef"]["fieldPath"].Text is { } field)
            {
                fieldRefs[name] = field;
            }
        }

        return new KubernetesContainerEnv(literals, fromSecret, fieldRefs);
    }

    // ---------------------------------------------------------------- compose

    /// <summary>The services of a compose file that run the programs, with host networking in mind (distinct ports).</summary>
    public IReadOnlyList<string> CheckCompose(string file, string text) => CheckCompose([(file, text)]);

    /// <summary>The services of compose files used together (<c>-f a.yaml -f b.yaml</c>): host ports must be distinct across all of them.</summary>
    public IReadOnlyList<string> CheckCompose(IEnumerable<(string File, string Text)> files)
    {
        var problems = new List<string>();
        var usedPorts = new Dictionary<int, string>();
        foreach (var (file, text) in files)
        {
            var documents = YamlNode.Documents(text);
            if (documents.Count != 1)
            {
                problems.Add($"ports: {file} holds {documents.Count} YAML documents; a compose file is one");
                continue;
            }

            problems.AddRange(CheckComposeServices(file, documents[0], usedPorts));
        }

        return problems;
    }

    private IEnumerable<string> CheckComposeServices(string file, YamlNode document, Dictionary<int, string> usedPorts)
    {
        var problems = new List<string>();
        foreach (var (service, node) in document["services"].Entries)
        {
            var image = Interpolate(node["image"].Text);
            if (ProgramOf(image) is not { } program)
            {
                continue;
            }

            var where = $"{file}: service {service}";
            var env = ComposeEnv(node["environment"]);
            var command = ComposeWords(node["command"]);
            problems.AddRange(CheckCommand(where, ComposeWords(node["entrypoint"])));
            problems.AddRange(CheckCommand(where, command));
            var user = Interpolate(node["user"].Text);
            if (user is not null && user.Split(':')[0] is "0" or "root")
            {
                problems.Add($"root: {where} sets user {user}");
            }
            else if (user is null)
            {
                problems.AddRange(CheckDockerfile(program, $"{program} Dockerfile", DockerfileOf(program))
                    .Where(p => p.StartsWith("root:", StringComparison.Ordinal))
                    .Select(p => $"root: {where} sets no user, and the image does not make it non-root: {p}"));
            }

            if (Interpolate(node["stop_signal"].Text) is { } signal && signal is not ("SIGTERM" or "TERM" or "15"))
            {
                problems.Add($"entrypoint: {where} stops with {signal}; the graceful shutdown starts on SIGTERM");
            }

            var listen = ListenAddresses(where, program, env, command, out var listenProblems);
            problems.AddRange(listenProblems);
            var ports = listen.Select(u => (u.Port, What: "HTTP")).ToList();
            if (program == MeshHookProgram.Silo)
            {
                var endpoints = Bind<OrleansEndpointOptions>(env, OrleansEndpointOptions.Section);
                ports.Add((endpoints.SiloPort, "Orleans silo"));
                ports.Add((endpoints.GatewayPort, "Orleans gateway"));
            }

            var hostNetwork = Interpolate(node["network_mode"].Text) == "host";
            foreach (var (port, what) in ports)
            {
                var key = hostNetwork ? port : -1;
                if (hostNetwork && usedPorts.TryGetValue(key, out var other))
                {
                    problems.Add($"ports: {where} listens on {port} ({what}) on the host's network, as {other} does");
                }
                else if (hostNetwork)
                {
                    usedPorts[key] = $"service {service} ({file})";
                }
            }

            var graceText = Interpolate(node["stop_grace_period"].Text);
            var grace = graceText is null ? ComposeDefaultGraceSeconds : ComposeDurationSeconds(graceText);
            if (grace is null)
            {
                problems.Add($"grace: {where}: stop_grace_period '{graceText}' is not a duration");
                continue;
            }

            problems.AddRange(CheckGrace(where, "stop_grace_period", program, grace.Value, 0, env));
        }

        return problems;
    }

    private static Dictionary<string, string> ComposeEnv(YamlNode environment)
    {
        var env = new Dictionary<string, string>();
        foreach (var (key, value) in environment.Entries)
        {
            env[key] = Interpolate(value.Text) ?? "";
        }

        foreach (var item in environment.Items)
        {
            var text = Interpolate(item.Text) ?? "";
            var equals = text.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                env[text[..equals]] = text[(equals + 1)..];
            }
        }

        return env;
    }

    private static List<string> ComposeWords(YamlNode node) =>
        node.IsSequence ? node.Items.Select(i => Interpolate(i.Text) ?? "").ToList()
        : Interpolate(node.Text) is { } text ? text.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList()
        : [];

    /// <summary>Compose's variable interpolation with no variable set: <c>${X:-default}</c> gives the default, <c>${X:?message}</c> a placeholder.</summary>
    public static string? Interpolate(string? text) =>
        text is null ? null : VariablePattern().Replace(text, m =>
            m.Groups["op"].Value is ":-" or "-" ? m.Groups["arg"].Value
            : m.Groups["op"].Value is ":?" or "?" ? $"<{m.Groups["name"].Value}>"
            : "");

    [GeneratedRegex(@"\$\{(?<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?<op>:-|-|:\?|\?)(?<arg>[^}]*))?\}")]
    private static partial Regex VariablePattern();

    /// <summary>A compose duration (<c>35s</c>, <c>1m30s</c>) in whole seconds, or null when it is not one.</summary>
    public static int? ComposeDurationSeconds(string text)
    {
        var matches = DurationPattern().Matches(text);
        if (matches.Count == 0 || string.Concat(matches.Select(m => m.Value)) != text)
        {
            return null;
        }

        var total = 0.0;
        foreach (Match match in matches)
        {
            var value = double.Parse(match.Groups["value"].Value, CultureInfo.InvariantCulture);
            total += match.Groups["unit"].Value switch
            {
                "h" => value * 3600,
                "m" => value * 60,
                "s" => value,
                "ms" => value / 1000,
                _ => value / 1_000_000,
            };
        }

        return (int)Math.Floor(total);
    }

    [GeneratedRegex(@"(?<value>[0-9]+(?:\.[0-9]+)?)(?<unit>ms|us|h|m|s)")]
    private static partial Regex DurationPattern();

    /// <summary>An options type bound from environment-style keys (<c>A__B</c>) over its own defaults, as the program binds it.</summary>
    private static T Bind<T>(IReadOnlyDictionary<string, string> env, string section) where T : new()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(env.Select(kv => new KeyValuePair<string, string?>(kv.Key.Replace("__", ":", StringComparison.Ordinal), kv.Value)))
            .Build();
        return configuration.GetSection(section).Get<T>() ?? new T();
    }
}
