using System.Buffers;
using System.Security.Cryptography;
using System.Text;

namespace MeshHook.Gateway.Security;

/// <summary>
/// Checks webhook signatures: <c>sha256=&lt;hex HMAC-SHA256 of the raw body&gt;</c> keyed with the workflow's secret, in
/// <c>X-Hub-Signature-256</c> (GitHub's form, prefix required) or <c>X-Signature</c> (prefix optional: bare hex is
/// accepted too). Hex is case-insensitive. Every signature header present must match, and one must be present.
/// Comparison is in constant time.
/// </summary>
public static class SignatureChecker
{
    public const string SignatureHeader = "X-Signature";
    public const string HubSignatureHeader = "X-Hub-Signature-256";

    private const string Prefix = "sha256=";
    private const int HashBytes = 32;

    /// <summary>True when the request carries a valid signature of <paramref name="body"/>.</summary>
    public static bool IsValid(string secret, ReadOnlySpan<byte> body, IHeaderDictionary headers)
    {
        Span<byte> expected = stackalloc byte[HashBytes];
        HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body, expected);
        var seen = false;
        var valid = true;
        foreach (var (name, bareHexAllowed) in new[] { (HubSignatureHeader, false), (SignatureHeader, true) })
        {
            if (!headers.TryGetValue(name, out var values))
            {
                continue;
            }

            seen = true;
            // No early return: both headers are always judged, so timing says nothing about which one failed.
            valid &= values.Count == 1 && Matches(values[0], expected, bareHexAllowed);
        }

        return seen && valid;
    }

    private static bool Matches(string? value, ReadOnlySpan<byte> expected, bool bareHexAllowed)
    {
        var text = value.AsSpan().Trim();
        if (text.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase))
        {
            text = text[Prefix.Length..];
        }
        else if (!bareHexAllowed)
        {
            return false;
        }

        if (text.Length != HashBytes * 2)
        {
            return false;
        }

        Span<byte> given = stackalloc byte[HashBytes];
        if (Convert.FromHexString(text, given, out _, out var written) != OperationStatus.Done || written != HashBytes)
        {
            return false;
        }

        return CryptographicOperations.FixedTimeEquals(given, expected);
    }
}
