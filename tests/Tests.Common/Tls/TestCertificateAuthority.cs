using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Istio.AppSwitch.Tests.Common.Tls;

/// <summary>
/// A throwaway certificate authority for TLS tests: a self-signed ECDSA P-256 root that issues server and client
/// certificates in memory (nothing touches a certificate store).
/// </summary>
public sealed class TestCertificateAuthority : IDisposable
{
    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2");

    private TestCertificateAuthority(X509Certificate2 certificate) => Certificate = certificate;

    /// <summary>The root certificate, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The root alone, as a client or server trusts it.</summary>
    public X509Certificate2Collection Roots => [X509CertificateLoader.LoadCertificate(Certificate.RawData)];

    /// <summary>Creates a root valid from an hour ago for a day.</summary>
    public static TestCertificateAuthority Create(string name = "ax test CA")
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(
            new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        return new TestCertificateAuthority(request.CreateSelfSigned(now.AddHours(-1), now.AddDays(1)));
    }

    /// <summary>Issues a server certificate for these DNS names and IP addresses.</summary>
    public X509Certificate2 IssueServerCertificate(params string[] names) =>
        Issue($"CN={names.FirstOrDefault() ?? "server"}", ServerAuthentication, names);

    /// <summary>Issues a client certificate with this common name.</summary>
    public X509Certificate2 IssueClientCertificate(string commonName = "ax test client") =>
        Issue($"CN={commonName}", ClientAuthentication, []);

    /// <summary>The root as PEM, for code that reads trust from a file.</summary>
    public string ExportPem() => Certificate.ExportCertificatePem();

    /// <summary>Whether <paramref name="certificate"/> chains to one of <paramref name="roots"/>, and to nothing else.</summary>
    public static bool ChainsTo(X509Certificate2 certificate, X509Certificate2Collection roots)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        ArgumentNullException.ThrowIfNull(roots);
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        return chain.Build(certificate);
    }

    /// <inheritdoc />
    public void Dispose() => Certificate.Dispose();

    private X509Certificate2 Issue(string subject, Oid usage, string[] names)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([usage], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, true, false));
        if (names.Length > 0)
        {
            var alternativeNames = new SubjectAlternativeNameBuilder();
            foreach (var name in names)
            {
                if (IPAddress.TryParse(name, out var address))
                {
                    alternativeNames.AddIpAddress(address);
                }
                else
                {
                    alternativeNames.AddDnsName(name);
                }
            }

            request.CertificateExtensions.Add(alternativeNames.Build());
        }

        var serialNumber = RandomNumberGenerator.GetBytes(16);
        serialNumber[0] &= 0x7F;
        // A leaf may not outlive its issuer, and the CA's validity was computed from an earlier clock reading: a
        // leaf issued a second later would end after it. Ending an hour before the CA keeps every leaf inside.
        var now = DateTimeOffset.UtcNow;
        var notAfter = new DateTimeOffset(Certificate.NotAfter.ToUniversalTime()).AddHours(-1);
        using var certificate = request.Create(Certificate, now.AddHours(-1), notAfter, serialNumber);
        return certificate.CopyWithPrivateKey(key);
    }
}
