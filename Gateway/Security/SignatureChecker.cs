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

    /// <summary>The Unix time (seconds) a timestamped signature covers (<see cref="IsValidTimestamped"/>).</summary>
    public const string TimestampHeader = "X-Signature-Timestamp";

    /// <summary>True when the request carries a valid signature of <paramref name="body"/>.</summary>
    public static bool IsValid(string secret, ReadOnlySpan<byte> body, IHeaderDictionary headers) =>
        IsValid(secret, [], body, headers);

    /// <summary>
    /// For a workflow with replay protection: the request carries <see cref="TimestampHeader"/> (Unix seconds) within
    /// <paramref name="maxAge"/> of <paramref name="now"/>, either way, and a valid signature of
    /// <c>"&lt;timestamp&gt;." + body</c> (Stripe's scheme). On failure <paramref name="problem"/> says which part failed.
    /// </summary>
    public static bool IsValidTimestamped(
        string secret, ReadOnlySpan<byte> body, IHeaderDictionary headers, TimeSpan maxAge, DateTimeOffset now, out string? problem)
    {
        if (headers[TimestampHeader] is not [{ } text] || !long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seconds))
        {
            problem = $"missing or invalid {TimestampHeader}: send the Unix time in seconds, and sign \"<timestamp>.<body>\"";
            return false;
        }

        var signedAt = seconds <= 253402300799 ? DateTimeOffset.FromUnixTimeSeconds(seconds) : DateTimeOffset.MaxValue;
        if ((now - signedAt).Duration() > maxAge)
        {
            problem = $"the signature's timestamp is more than {maxAge.TotalSeconds:0} s away from the gateway's clock (a replay, or a sender's clock off)";
            return false;
        }

        if (!IsValid(secret, Encoding.ASCII.GetBytes(text + "."), body, headers))
        {
            problem = $"missing or invalid signature: send {HubSignatureHeader} or {SignatureHeader}: sha256=<hex HMAC-SHA256 of \"<timestamp>.<body>\">";
            return false;
        }

        problem = null;
        return true;
    }

    private static bool IsValid(string secret, ReadOnlySpan<byte> prefix, ReadOnlySpan<byte> body, IHeaderDictionary headers)
    {
        Span<byte> expected = stackalloc byte[HashBytes];
        using (var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(secret)))
        {
            hmac.AppendData(prefix);
            hmac.AppendData(body);
            hmac.GetHashAndReset(expected);
        }

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
