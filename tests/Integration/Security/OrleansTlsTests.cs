using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using AwesomeAssertions;
using MeshHook.Grains;
using MeshHook.Grains.Security;
using MeshHook.Tests.Integration.Infrastructure;
using MeshHook.Tests.Integration.Runs;
using Microsoft.Extensions.Configuration;
using Orleans.TestingHost;

namespace MeshHook.Tests.Integration.Security;

/// <summary>
/// With MeshHook:Tls set, silos and clients speak mutual TLS on Orleans' ports: runs work across two silos and a client
/// over real sockets, and a silo port answers a TLS handshake with the configured certificate.
/// </summary>
public sealed class OrleansTlsTests(OrleansTlsTests.TlsCluster cluster) : IClassFixture<OrleansTlsTests.TlsCluster>
{
    /// <summary>Two silos and the test client on TCP sockets, all with the same self-signed certificate, pinned by thumbprint.</summary>
    public sealed class TlsCluster : MeshHookCluster
    {
        private static readonly Lazy<(string Path, string Thumbprint)> Certificate = new(CreateCertificate);

        public static string Thumbprint => Certificate.Value.Thumbprint;

        protected override Dictionary<string, string?> Settings
        {
            get
            {
                var settings = base.Settings;
                settings["MeshHook:Tls:CertificatePath"] = Certificate.Value.Path;
                settings["MeshHook:Tls:CertificatePassword"] = "test-password";
                settings["MeshHook:Tls:TrustedThumbprints:0"] = Certificate.Value.Thumbprint;
                return settings;
            }
        }

        protected override void Configure(TestClusterBuilder builder)
        {
            builder.Options.ConnectionTransport = ConnectionTransportType.TcpSocket;
            builder.AddClientBuilderConfigurator<TlsClient>();
        }

        private static (string, string) CreateCertificate()
        {
            using var key = RSA.Create(2048);
            var request = new CertificateRequest("CN=meshhook-cluster", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], critical: false));
            var names = new SubjectAlternativeNameBuilder();
            names.AddDnsName("meshhook-cluster");
            request.CertificateExtensions.Add(names.Build());
            using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
            var path = Path.Combine(Path.GetTempPath(), $"meshhook-tls-{Guid.NewGuid():N}.pfx");
            File.WriteAllBytes(path, certificate.Export(X509ContentType.Pfx, "test-password"));
            return (path, certificate.Thumbprint);
        }

        private sealed class TlsClient : IClientBuilderConfigurator
        {
            public void Configure(IConfiguration configuration, IClientBuilder clientBuilder)
            {
                var tls = OrleansTls.From(configuration) ?? throw new InvalidOperationException("the TLS settings did not reach the client");
                var certificate = tls.LoadCertificate();
                clientBuilder.UseTls(certificate, options => tls.Apply(options, certificate));
            }
        }
    }

    [Fact]
    public async Task Runs_WorkOverMutualTls_BetweenTwoSilosAndTheClient()
    {
        var slug = await cluster.PublishAsync(Workflows.Linear(cluster.Sink.BaseAddress, "/tls"));
        var runs = new List<Guid>();
        for (var i = 0; i < 6; i++)
        {
            runs.Add(await cluster.TriggerAsync(slug, $$"""{"order": {{i}}, "amount": 5}"""));
        }

        foreach (var runId in runs)
        {
            (await cluster.WaitFinishedAsync(runId)).Status.Should().Be(RunStatus.Succeeded);
        }
    }

    [Fact]
    public async Task SiloPort_AnswersATlsHandshake_WithTheClustersCertificate()
    {
        var endpoint = cluster.Cluster.Silos[0].SiloAddress.Endpoint;
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(endpoint.Address, endpoint.Port);
        X509Certificate? presented = null;
        await using var tls = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false, (_, certificate, _, _) =>
        {
            presented = certificate;
            return true;
        });

        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "meshhook-cluster" });

        tls.IsEncrypted.Should().BeTrue();
        new X509Certificate2(presented!).Thumbprint.Should().Be(TlsCluster.Thumbprint);
    }
}
