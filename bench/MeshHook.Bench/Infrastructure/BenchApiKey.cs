using System.Net.Http.Headers;
using System.Security.Cryptography;

namespace MeshHook.Bench.Infrastructure;

/// <summary>
/// The API key of the gateways a benchmark starts: made up per bench process, passed to the gateway in its
/// environment, and sent by the bench's own calls of the API (webhooks need none, and ignore it).
/// </summary>
public static class BenchApiKey
{
    /// <summary>The environment variable that gives the gateway its (first) key.</summary>
    public const string EnvironmentName = "MeshHook__Gateway__ApiKeys__0";

    /// <summary>This process's key.</summary>
    public static string Value { get; } = "bench-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(16));

    /// <summary>Makes <paramref name="http"/> send the key on every request; returns it.</summary>
    public static HttpClient Authorized(this HttpClient http)
    {
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Value);
        return http;
    }
}
