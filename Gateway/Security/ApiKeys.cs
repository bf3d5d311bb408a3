using System.Security.Cryptography;
using System.Text;
using MeshHook.Gateway.Hosting;
using Microsoft.Extensions.Options;

namespace MeshHook.Gateway.Security;

/// <summary>
/// The accepted API keys (<c>MeshHook:Gateway:ApiKeys</c>), kept only as SHA-256 hashes. A presented key is hashed
/// and compared with every accepted one in constant time, so neither its length nor the position of a first
/// difference shows in the time taken; no key is ever logged.
/// </summary>
public sealed class ApiKeys(IOptions<GatewayOptions> options)
{
    private readonly byte[][] _hashes = options.Value.ApiKeys.Select(Hash).ToArray();

    /// <summary>True when the API is open without a key (no key configured, and AllowAnonymousApi set on purpose).</summary>
    public bool AnonymousAllowed { get; } = options.Value.ApiKeys.Length == 0 && options.Value.AllowAnonymousApi;

    /// <summary>The position of the accepted key that <paramref name="presented"/> is, or -1.</summary>
    public int Match(string presented)
    {
        var hash = Hash(presented);
        var match = -1;
        for (var i = 0; i < _hashes.Length; i++)
        {
            // No early exit: every accepted key is compared, whichever matches.
            if (CryptographicOperations.FixedTimeEquals(hash, _hashes[i]))
            {
                match = i;
            }
        }

        return match;
    }

    private static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));
}
