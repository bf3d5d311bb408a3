using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Configuration;
using Orleans.Connections.Security;

namespace MeshHook.Grains.Security;

/// <summary>
/// Mutual TLS on Orleans' connections, silo to silo and gateway to silo, switched on by configuration
/// (<c>MeshHook:Tls</c>, the same on every silo and gateway). Off by default: then the cluster must run on a network
/// only its own processes reach (docs/security.md).
/// </summary>
public sealed record OrleansTls
{
    public const string Section = "MeshHook:Tls";

    /// <summary>The certificate (PKCS#12 .pfx with its key, or PEM with <see cref="KeyPath"/>) every silo and gateway presents; set: TLS on.</summary>
    public string? CertificatePath { get; init; }

    /// <summary>The password of a .pfx, or of an encrypted PEM key.</summary>
    public string? CertificatePassword { get; init; }

    /// <summary>The PEM private key of a PEM <see cref="CertificatePath"/>.</summary>
    public string? KeyPath { get; init; }

    /// <summary>
    /// Thumbprints (SHA-1, hex) of peer certificates accepted without a chain to a trusted root, for a cluster that
    /// uses its own self-signed certificate. Other peers must present a certificate that chains to the machine's trusted
    /// roots and names <see cref="TargetHost"/>.
    /// </summary>
    public string[] TrustedThumbprints { get; init; } = [];

    /// <summary>The name a peer's certificate must carry; by default the subject's common name of this process's own certificate.</summary>
    public string? TargetHost { get; init; }

    /// <summary>Reads <see cref="Section"/>; null when TLS is off.</summary>
    public static OrleansTls? From(IConfiguration configuration)
    {
        var tls = configuration.GetSection(Section).Get<OrleansTls>();
        return string.IsNullOrWhiteSpace(tls?.CertificatePath) ? null : tls;
    }

    /// <summary>Loads the certificate; throws with the path and the reason when it cannot.</summary>
    public X509Certificate2 LoadCertificate()
    {
        try
        {
            var certificate = KeyPath is { Length: > 0 }
                ? (CertificatePassword is { Length: > 0 }
                    ? X509Certificate2.CreateFromEncryptedPemFile(CertificatePath!, CertificatePassword, KeyPath)
                    : X509Certificate2.CreateFromPemFile(CertificatePath!, KeyPath))
                : X509CertificateLoader.LoadPkcs12FromFile(CertificatePath!, CertificatePassword);
            return certificate.HasPrivateKey
                ? certificate
                : throw new InvalidOperationException("it has no private key");
        }
        catch (Exception e) when (e is not InvalidOperationException || e.Message == "it has no private key")
        {
            throw new InvalidOperationException($"{Section}:CertificatePath '{CertificatePath}' cannot be used: {e.Message}", e);
        }
    }

    /// <summary>Both sides present a certificate and check the other's, as <see cref="Accepts"/> says.</summary>
    public void Apply(TlsOptions options, X509Certificate2 certificate)
    {
        var targetHost = TargetHost ?? certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        options.LocalCertificate = certificate;
        options.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
        options.ClientCertificateMode = RemoteCertificateMode.RequireCertificate;
        options.RemoteCertificateValidation = (remote, _, errors) => Accepts(remote, errors);
        options.OnAuthenticateAsClient = (_, client) => client.TargetHost = targetHost;
    }

    /// <summary>A peer's certificate is accepted when it validates fully, or when its thumbprint is pinned.</summary>
    public bool Accepts(X509Certificate2 remote, SslPolicyErrors errors) =>
        errors == SslPolicyErrors.None
        || (errors & SslPolicyErrors.RemoteCertificateNotAvailable) == 0
            && TrustedThumbprints.Any(t => string.Equals(t.Replace(":", "", StringComparison.Ordinal), remote.Thumbprint, StringComparison.OrdinalIgnoreCase));
}
