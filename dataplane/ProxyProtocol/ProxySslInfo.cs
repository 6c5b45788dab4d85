using System.Buffers.Binary;
using System.Text;

namespace Istio.AppSwitch.ProxyProtocol;

/// <summary>The <c>client</c> bit field of PP2_TYPE_SSL (specification section 2.2.6).</summary>
[Flags]
#pragma warning disable CA1028 // One byte on the wire.
public enum ProxySslClientFlags : byte
#pragma warning restore CA1028
{
    /// <summary>No flag.</summary>
    None = 0,

    /// <summary>PP2_CLIENT_SSL: the client connected over TLS.</summary>
    Ssl = 0x01,

    /// <summary>PP2_CLIENT_CERT_CONN: the client presented a certificate on this connection.</summary>
    CertificateInConnection = 0x02,

    /// <summary>PP2_CLIENT_CERT_SESS: the client presented a certificate at least once in this TLS session.</summary>
    CertificateInSession = 0x04,
}

/// <summary>
/// The value of a PP2_TYPE_SSL TLV: one byte of <see cref="ProxySslClientFlags"/>, a 32-bit big-endian verify result,
/// then sub-TLVs. Sub-TLVs are one level deep: an SSL TLV never holds another.
/// </summary>
public sealed class ProxySslInfo
{
    /// <summary>The fixed part of the value: client flags and verify.</summary>
    public const int FixedLength = 5;

    /// <summary>Creates SSL information, for writing with <see cref="ToTlv"/> or as the parser's result.</summary>
    /// <param name="client">The client flags.</param>
    /// <param name="verify">Zero when the client's certificate was verified, non-zero otherwise.</param>
    /// <param name="subTlvs">The sub-TLVs in wire order: version, common name, cipher, algorithms, or any other.</param>
    /// <exception cref="ArgumentException">A sub-TLV is itself an SSL TLV.</exception>
    public ProxySslInfo(ProxySslClientFlags client, uint verify, IReadOnlyList<ProxyTlv>? subTlvs = null)
    {
        subTlvs ??= [];
        foreach (var tlv in subTlvs)
        {
            if (tlv.Type == ProxyTlvType.Ssl)
            {
                throw new ArgumentException("An SSL TLV cannot contain another SSL TLV.", nameof(subTlvs));
            }
        }

        Client = client;
        Verify = verify;
        SubTlvs = subTlvs;
    }

    /// <summary>Which TLS elements the client presented.</summary>
    public ProxySslClientFlags Client { get; }

    /// <summary>Zero when the client presented a certificate and it was verified; non-zero otherwise.</summary>
    public uint Verify { get; }

    /// <summary>True when the client presented a certificate (on this connection or session) and it was verified.</summary>
    public bool IsClientCertificateVerified =>
        Verify == 0 && (Client & (ProxySslClientFlags.CertificateInConnection | ProxySslClientFlags.CertificateInSession)) != 0;

    /// <summary>Every sub-TLV, in wire order, known types and unknown alike.</summary>
    public IReadOnlyList<ProxyTlv> SubTlvs { get; }

    /// <summary>PP2_SUBTYPE_SSL_VERSION, for example <c>TLSv1.3</c>.</summary>
    public string? Version => Text(ProxyTlvType.SslVersion);

    /// <summary>PP2_SUBTYPE_SSL_CN: the client certificate's subject common name.</summary>
    public string? CommonName => Text(ProxyTlvType.SslCommonName);

    /// <summary>PP2_SUBTYPE_SSL_CIPHER, for example <c>ECDHE-RSA-AES128-GCM-SHA256</c>.</summary>
    public string? Cipher => Text(ProxyTlvType.SslCipher);

    /// <summary>PP2_SUBTYPE_SSL_SIG_ALG, for example <c>RSA-SHA256</c>.</summary>
    public string? SignatureAlgorithm => Text(ProxyTlvType.SslSignatureAlgorithm);

    /// <summary>PP2_SUBTYPE_SSL_KEY_ALG, for example <c>RSA2048</c>.</summary>
    public string? KeyAlgorithm => Text(ProxyTlvType.SslKeyAlgorithm);

    /// <summary>The number of bytes <see cref="WriteValue"/> writes for these sub-TLVs.</summary>
    public static int GetValueLength(ReadOnlySpan<ProxyTlv> subTlvs)
    {
        var length = FixedLength;
        foreach (var tlv in subTlvs)
        {
            length += tlv.EncodedLength;
        }

        return length;
    }

    /// <summary>Writes the value of an SSL TLV (not its type and length) and returns the bytes written.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too small, the value would not fit in a
    /// TLV, or a sub-TLV is itself an SSL TLV.</exception>
    public static int WriteValue(Span<byte> destination, ProxySslClientFlags client, uint verify, ReadOnlySpan<ProxyTlv> subTlvs)
    {
        var length = GetValueLength(subTlvs);
        if (length > ProxyTlv.MaxValueLength)
        {
            throw new ArgumentException($"The SSL TLV would be {length} bytes, more than a TLV holds.", nameof(subTlvs));
        }
        if (destination.Length < length)
        {
            throw new ArgumentException($"The SSL TLV needs {length} bytes, the destination has {destination.Length}.", nameof(destination));
        }

        destination[0] = (byte)client;
        BinaryPrimitives.WriteUInt32BigEndian(destination[1..], verify);
        var offset = FixedLength;
        foreach (var tlv in subTlvs)
        {
            if (tlv.Type == ProxyTlvType.Ssl)
            {
                throw new ArgumentException("An SSL TLV cannot contain another SSL TLV.", nameof(subTlvs));
            }
            offset += ProxyV2Writer.WriteTlv(destination[offset..], tlv.Type, tlv.Value.Span);
        }

        return offset;
    }

    /// <summary>This information as a PP2_TYPE_SSL TLV (allocates its value).</summary>
    public ProxyTlv ToTlv()
    {
        var subTlvs = SubTlvs.ToArray();
        var value = new byte[GetValueLength(subTlvs)];
        WriteValue(value, Client, Verify, subTlvs);
        return new ProxyTlv(ProxyTlvType.Ssl, value);
    }

    private string? Text(ProxyTlvType type)
    {
        foreach (var tlv in SubTlvs)
        {
            if (tlv.Type == type)
            {
                return Encoding.UTF8.GetString(tlv.Value.Span);
            }
        }

        return null;
    }
}
