namespace Istio.AppSwitch.ProxyProtocol;

/// <summary>
/// The type byte of a v2 TLV: the types registered by the PROXY protocol specification (section 2.2) and the ones ax
/// defines in the range the specification reserves for applications (<c>0xE0</c>–<c>0xEF</c>, section 2.2.8).
/// Any other byte value is a valid <see cref="ProxyTlvType"/> too: such TLVs are kept raw.
/// </summary>
/// <remarks>The wire format of ax's own types is described in <c>docs/proxy-protocol.md</c>.</remarks>
#pragma warning disable CA1028 // The type is one byte on the wire: a byte enum says so and converts without a cast.
public enum ProxyTlvType : byte
#pragma warning restore CA1028
{
    /// <summary>PP2_TYPE_ALPN: the negotiated application protocol, as in the TLS ALPN extension.</summary>
    Alpn = 0x01,

    /// <summary>PP2_TYPE_AUTHORITY: the host name the client asked for (TLS SNI), UTF-8.</summary>
    Authority = 0x02,

    /// <summary>PP2_TYPE_CRC32C: a CRC32C of the whole header, computed with this field zeroed, big-endian.</summary>
    Crc32c = 0x03,

    /// <summary>PP2_TYPE_NOOP: padding, ignored.</summary>
    Noop = 0x04,

    /// <summary>PP2_TYPE_UNIQUE_ID: an opaque connection id of at most 128 bytes.</summary>
    UniqueId = 0x05,

    /// <summary>PP2_TYPE_SSL: client flags, verify result, then SSL sub-TLVs.</summary>
    Ssl = 0x20,

    /// <summary>PP2_SUBTYPE_SSL_VERSION (inside <see cref="Ssl"/>): the TLS version, US-ASCII.</summary>
    SslVersion = 0x21,

    /// <summary>PP2_SUBTYPE_SSL_CN (inside <see cref="Ssl"/>): the client certificate's common name, UTF-8.</summary>
    SslCommonName = 0x22,

    /// <summary>PP2_SUBTYPE_SSL_CIPHER (inside <see cref="Ssl"/>): the cipher, US-ASCII.</summary>
    SslCipher = 0x23,

    /// <summary>PP2_SUBTYPE_SSL_SIG_ALG (inside <see cref="Ssl"/>): the certificate's signature algorithm.</summary>
    SslSignatureAlgorithm = 0x24,

    /// <summary>PP2_SUBTYPE_SSL_KEY_ALG (inside <see cref="Ssl"/>): the certificate's key algorithm.</summary>
    SslKeyAlgorithm = 0x25,

    /// <summary>PP2_TYPE_NETNS: the network namespace's name, US-ASCII.</summary>
    Netns = 0x30,

    /// <summary>ax: the source application's labels, UTF-8 <c>k=v,k=v</c>.</summary>
    AxLabels = 0xE0,

    /// <summary>ax: the source workload's identity, UTF-8 <c>namespace/serviceaccount</c>.</summary>
    AxIdentity = 0xE1,

    /// <summary>ax: the DNS name the application resolved to reach the original destination, UTF-8.</summary>
    AxOriginalDestinationName = 0xE2,

    /// <summary>ax: the application protocol ax detected, a US-ASCII token (<c>http/1.1</c>, <c>h2</c>, <c>tls</c>).</summary>
    AxProtocol = 0xE3,

    /// <summary>ax: the first bytes the application sent, as ax peeked them, raw.</summary>
    AxPeekedBytes = 0xE4,
}

/// <summary>Ranges of <see cref="ProxyTlvType"/> the specification reserves (section 2.2.8).</summary>
public static class ProxyTlvTypeRanges
{
    /// <summary>PP2_TYPE_MIN_CUSTOM: the first type reserved for applications.</summary>
    public const byte MinCustom = 0xE0;

    /// <summary>PP2_TYPE_MAX_CUSTOM: the last type reserved for applications.</summary>
    public const byte MaxCustom = 0xEF;

    /// <summary>PP2_TYPE_MIN_EXPERIMENT: the first type reserved for experiments.</summary>
    public const byte MinExperiment = 0xF0;

    /// <summary>PP2_TYPE_MAX_EXPERIMENT: the last type reserved for experiments.</summary>
    public const byte MaxExperiment = 0xF7;

    /// <summary>True for the types in the application range (<c>0xE0</c>–<c>0xEF</c>).</summary>
    public static bool IsCustom(ProxyTlvType type) => (byte)type is >= MinCustom and <= MaxCustom;
}
