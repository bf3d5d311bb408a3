using System.ComponentModel.DataAnnotations;

namespace MeshHook.Gateway.Hosting;

/// <summary>Settings of the HTTP gateway, bound from <c>MeshHook:Gateway</c>.</summary>
public sealed record GatewayOptions : IValidatableObject
{
    public const string Section = "MeshHook:Gateway";

    /// <summary>The shortest API key accepted: a key must not be guessable.</summary>
    public const int MinApiKeyLength = 16;

    /// <summary>
    /// The accepted API keys (<c>MeshHook__Gateway__ApiKeys__0=…</c>, <c>__1</c>, …). Every <c>/api/…</c> route except
    /// <c>POST /api/hooks/{slug}</c> requires <c>Authorization: Bearer &lt;one of them&gt;</c>. Several keys at once let a
    /// key be rotated without downtime: add the new one, move the callers, remove the old one.
    /// </summary>
    public string[] ApiKeys { get; init; } = [];

    /// <summary>
    /// Serve the API without keys. Without any key configured the gateway refuses to start unless this says so on
    /// purpose (a development machine, or a gateway reachable only by a trusted caller).
    /// </summary>
    public bool AllowAnonymousApi { get; init; }

    /// <summary>
    /// Addresses (e.g. <c>http://0.0.0.0:9090</c>) that serve <c>/metrics</c> and <c>/openapi/v1.json</c> instead of the
    /// main address, so that only the intake and the API face the SvelteKit app. Empty: everything on the main address.
    /// <c>/health/*</c> answers on both; the API answers only on the main address.
    /// </summary>
    public string[] ManagementUrls { get; init; } = [];

    /// <summary>The ports of <see cref="ManagementUrls"/>.</summary>
    public IReadOnlySet<int> ManagementPorts() =>
        ManagementUrls.Select(u => Uri.TryCreate(u, UriKind.Absolute, out var url) ? url.Port : -1).Where(p => p > 0).ToHashSet();

    /// <summary>Largest request body accepted (webhook bodies and workflow definitions); larger ones answer 413.</summary>
    [Range(1024, 64L * 1024 * 1024)]
    public long MaxBodyBytes { get; init; } = 1024 * 1024;

    /// <summary>
    /// How long intake waits for a silo to start a stored run before answering 202 anyway; the run is in Postgres
    /// already, and the silos' recovery sweep starts it if this start did not.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:30")]
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Retries of a grain call that failed transiently (silo gone, gateway rejected or busy, timeout).</summary>
    [Range(0, 10)]
    public int GrainCallRetries { get; init; } = 3;

    /// <summary>Time budget of one grain call from the API, retries included; past it the API answers 503.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:05:00")]
    public TimeSpan GrainCallTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>The Retry-After value (seconds) of a 503.</summary>
    [Range(1, 3600)]
    public int RetryAfterSeconds { get; init; } = 5;

    /// <summary>How often the Orleans client re-reads the silos' gateways from the membership table.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan GatewayListRefreshPeriod { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long the server keeps answering after SIGTERM, with readiness 503 and <c>Connection: close</c> on every
    /// answer, before it stops taking requests (see <see cref="GatewayStopDelay"/>). Counted within <see cref="ShutdownTimeout"/>.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan StopDelay { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>How long in-flight requests may take to finish after SIGTERM (the host's ShutdownTimeout), the stop delay included.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(20);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (ApiKeys.Length == 0 && !AllowAnonymousApi)
        {
            yield return new ValidationResult(
                "no API key is configured: set MeshHook:Gateway:ApiKeys (MeshHook__Gateway__ApiKeys__0=<key>), or " +
                "MeshHook:Gateway:AllowAnonymousApi=true to serve the API to anyone who can reach it",
                [nameof(ApiKeys)]);
        }

        for (var i = 0; i < ManagementUrls.Length; i++)
        {
            if (!Uri.TryCreate(ManagementUrls[i], UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https")
                || url.IsDefaultPort || url.Port == 0 || !ManagementUrls[i].Contains($":{url.Port}", StringComparison.Ordinal))
            {
                yield return new ValidationResult(
                    $"MeshHook:Gateway:ManagementUrls:{i} ('{ManagementUrls[i]}') must be an http or https URL with its own port, such as http://0.0.0.0:9090",
                    [nameof(ManagementUrls)]);
            }
        }

        for (var i = 0; i < ApiKeys.Length; i++)
        {
            // The message names the key's position, never the key.
            if (string.IsNullOrWhiteSpace(ApiKeys[i]) || ApiKeys[i].Length < MinApiKeyLength || ApiKeys[i].Any(char.IsWhiteSpace))
            {
                yield return new ValidationResult(
                    $"MeshHook:Gateway:ApiKeys:{i} must be at least {MinApiKeyLength} characters with no whitespace",
                    [nameof(ApiKeys)]);
            }
        }

        if (StopDelay >= ShutdownTimeout)
        {
            yield return new ValidationResult(
                $"StopDelay ({StopDelay}) must be shorter than ShutdownTimeout ({ShutdownTimeout}): the delay is part of the shutdown",
                [nameof(StopDelay), nameof(ShutdownTimeout)]);
        }
    }
}
