using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace MeshHook.Grains.Security;

/// <summary>Settings of secrets at rest, bound from <c>MeshHook:Secrets</c> on every silo and gateway.</summary>
public sealed record SecretOptions
{
    public const string Section = "MeshHook:Secrets";

    /// <summary>The key secrets are encrypted with: 32 random bytes in base64 (<c>head -c 32 /dev/urandom | base64</c>).</summary>
    public string? Key { get; init; }

    /// <summary>Earlier keys, still used to read what they encrypted, while a rotation re-encrypts nothing by itself.</summary>
    public string[] PreviousKeys { get; init; } = [];

    /// <summary>Start without a key (a development machine): secrets are then stored as they are, unencrypted.</summary>
    public bool AllowUnencrypted { get; init; }

    /// <summary>What is wrong with these settings, one line each; never quotes a key.</summary>
    public IEnumerable<string> Problems()
    {
        if (string.IsNullOrWhiteSpace(Key))
        {
            if (!AllowUnencrypted)
            {
                yield return "no MeshHook:Secrets:Key is configured: set it to 32 random bytes in base64 (head -c 32 /dev/urandom | base64) " +
                             "on every silo and gateway, or MeshHook:Secrets:AllowUnencrypted=true to store secrets unencrypted";
            }
        }
        else if (!IsKey(Key))
        {
            yield return "MeshHook:Secrets:Key must be 32 bytes in base64";
        }

        for (var i = 0; i < PreviousKeys.Length; i++)
        {
            if (!IsKey(PreviousKeys[i]))
            {
                yield return $"MeshHook:Secrets:PreviousKeys:{i} must be 32 bytes in base64";
            }
        }
    }

    internal static byte[]? Decode(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        var bytes = new byte[32];
        return Convert.TryFromBase64String(text.Trim(), bytes, out var written) && written == 32 ? bytes : null;
    }

    private static bool IsKey(string? text) => Decode(text) is not null;
}

/// <summary>
/// Encrypts secrets at rest (AES-256-GCM, a fresh nonce each time): stored as <c>mhenc:v1:&lt;key id&gt;:&lt;base64&gt;</c>,
/// where the key id (the first bytes of the key's SHA-256) says which key reads it back. A stored value without the
/// prefix was written unencrypted (before this, or with <see cref="SecretOptions.AllowUnencrypted"/>) and is read as it is.
/// </summary>
public sealed class SecretBox
{
    private const string Prefix = "mhenc:v1:";
    private const int NonceBytes = 12;
    private const int TagBytes = 16;

    private readonly (string Id, byte[] Key)? _current;
    private readonly Dictionary<string, byte[]> _keys = new(StringComparer.Ordinal);

    public SecretBox(IOptions<SecretOptions> options)
    {
        var settings = options.Value;
        if (SecretOptions.Decode(settings.Key) is { } key)
        {
            _current = (Id(key), key);
            _keys[Id(key)] = key;
        }

        foreach (var previous in settings.PreviousKeys.Select(SecretOptions.Decode).OfType<byte[]>())
        {
            _keys.TryAdd(Id(previous), previous);
        }
    }

    /// <summary>True when secrets are encrypted (a key is configured).</summary>
    public bool Encrypts => _current is not null;

    /// <summary>What to store for <paramref name="secret"/>; <paramref name="purpose"/> binds it to its use (a value moved elsewhere does not decrypt).</summary>
    public string Protect(string secret, string purpose)
    {
        if (_current is not { } current)
        {
            return secret;
        }

        var plain = Encoding.UTF8.GetBytes(secret);
        var sealedBytes = new byte[NonceBytes + plain.Length + TagBytes];
        var nonce = sealedBytes.AsSpan(0, NonceBytes);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(current.Key, TagBytes);
        aes.Encrypt(nonce, plain, sealedBytes.AsSpan(NonceBytes, plain.Length), sealedBytes.AsSpan(NonceBytes + plain.Length), Encoding.UTF8.GetBytes(purpose));
        return $"{Prefix}{current.Id}:{Convert.ToBase64String(sealedBytes)}";
    }

    /// <summary>The secret that <paramref name="stored"/> holds.</summary>
    /// <exception cref="CryptographicException">Encrypted with a key this process does not have, or tampered with.</exception>
    public string Unprotect(string stored, string purpose)
    {
        if (!stored.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return stored;
        }

        var rest = stored.AsSpan(Prefix.Length);
        var colon = rest.IndexOf(':');
        var id = colon > 0 ? rest[..colon].ToString() : "";
        if (!_keys.TryGetValue(id, out var key))
        {
            throw new CryptographicException(
                $"a secret is encrypted with key {id}, which is neither MeshHook:Secrets:Key nor one of MeshHook:Secrets:PreviousKeys");
        }

        var sealedBytes = Convert.FromBase64String(rest[(colon + 1)..].ToString());
        var plain = new byte[sealedBytes.Length - NonceBytes - TagBytes];
        using var aes = new AesGcm(key, TagBytes);
        aes.Decrypt(
            sealedBytes.AsSpan(0, NonceBytes),
            sealedBytes.AsSpan(NonceBytes, plain.Length),
            sealedBytes.AsSpan(NonceBytes + plain.Length),
            plain,
            Encoding.UTF8.GetBytes(purpose));
        return Encoding.UTF8.GetString(plain);
    }

    private static string Id(byte[] key) => Convert.ToHexStringLower(SHA256.HashData(key).AsSpan(0, 4));
}

/// <summary>Refuses <see cref="SecretOptions"/> with <see cref="SecretOptions.Problems"/>, at start.</summary>
public sealed class SecretOptionsValidator : IValidateOptions<SecretOptions>
{
    public ValidateOptionsResult Validate(string? name, SecretOptions options) =>
        options.Problems().ToList() is { Count: > 0 } problems ? ValidateOptionsResult.Fail(problems) : ValidateOptionsResult.Success;
}

/// <summary>Secrets at rest, bound and checked the same way on silos and gateways.</summary>
public static class SecretBoxServiceCollectionExtensions
{
    /// <summary>Binds <see cref="SecretOptions"/> from <c>MeshHook:Secrets</c>, refuses bad settings at start, and adds <see cref="SecretBox"/>.</summary>
    public static IServiceCollection AddSecretBox(this IServiceCollection services, Microsoft.Extensions.Configuration.IConfiguration configuration)
    {
        services.AddOptions<SecretOptions>().Bind(configuration.GetSection(SecretOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<SecretOptions>, SecretOptionsValidator>();
        services.AddSingleton<SecretBox>();
        return services;
    }
}
