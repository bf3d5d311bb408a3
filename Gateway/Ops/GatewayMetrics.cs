using System.Diagnostics.Metrics;

namespace MeshHook.Gateway.Ops;

/// <summary>The gateway's own metrics (meter <c>MeshHook.Gateway</c>); request rates and latencies come from ASP.NET Core's meters.</summary>
public sealed class GatewayMetrics : IDisposable
{
    public const string MeterName = "MeshHook.Gateway";

    private readonly Meter _meter;
    private readonly Counter<long> _intake;
    private readonly Counter<long> _startsDeferred;

    public GatewayMetrics(IMeterFactory meters)
    {
        _meter = meters.Create(MeterName);
        _intake = _meter.CreateCounter<long>("meshhook_gateway_intake", description: "Webhook intake requests, by outcome");
        _startsDeferred = _meter.CreateCounter<long>(
            "meshhook_gateway_starts_deferred",
            description: "Stored runs no silo started during intake; the silos' recovery sweep starts them");
    }

    /// <summary>One intake request answered; <paramref name="outcome"/> is e.g. accepted, replayed, unauthorized.</summary>
    public void Intake(string outcome) => _intake.Add(1, new KeyValuePair<string, object?>("outcome", outcome));

    public void StartDeferred() => _startsDeferred.Add(1);

    public void Dispose() => _meter.Dispose();
}
