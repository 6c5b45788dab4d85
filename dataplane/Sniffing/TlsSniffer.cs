using System.Buffers;
using System.Collections.Immutable;
using System.Text;

namespace Istio.AppSwitch.Sniffing;

/// <summary>
/// Reads a TLS ClientHello (RFC 8446 section 4.1.2, the same layout in TLS 1.0 to 1.2) from the first records of a
/// connection. A ClientHello split across several handshake records is put back together, within
/// <see cref="SniffLimits.MaxClientHelloLength"/>. A structurally malformed hello is <see cref="SniffStatus.Unrecognized"/>:
/// a server would end the handshake on it, so it says nothing reliable.
/// </summary>
internal static class TlsSniffer
{
    public const byte HandshakeRecordType = 0x16;
    private const byte ClientHelloType = 0x01;
    private const int RecordHeaderLength = 5;
    private const int HandshakeHeaderLength = 4;
    private const int RandomLength = 32;
    private const int MaxSessionIdLength = 32;

    private const ushort ServerNameExtension = 0;
    private const ushort AlpnExtension = 16;
    private const ushort SupportedVersionsExtension = 43;
    private const byte HostNameType = 0;

    public static SniffStatus Sniff(ReadOnlySpan<byte> data, out SniffResult result)
    {
        switch (CheckRecordHeader(data))
        {
            case HeaderCheck.Invalid:
                result = SniffResult.None;
                return SniffStatus.Unrecognized;
            case HeaderCheck.Short:
                // Two bytes (0x16 0x03) are not yet enough to call it TLS.
                result = data.Length >= 3 ? Partial(RecordVersion(data)) : SniffResult.None;
                return SniffStatus.NeedMoreData;
        }

        var recordVersion = RecordVersion(data);
        var recordLength = (data[3] << 8) | data[4];
        var fragment = data.Slice(RecordHeaderLength, Math.Min(recordLength, data.Length - RecordHeaderLength));

        // The common case: the whole ClientHello in the first record, parsed in place.
        if (fragment.Length >= HandshakeHeaderLength)
        {
            if (fragment[0] != ClientHelloType)
            {
                result = SniffResult.None;
                return SniffStatus.Unrecognized;
            }

            var helloLength = (fragment[1] << 16) | (fragment[2] << 8) | fragment[3];
            if (helloLength > SniffLimits.MaxClientHelloLength)
            {
                result = Partial(recordVersion);
                return SniffStatus.Complete;
            }

            if (HandshakeHeaderLength + helloLength <= fragment.Length)
            {
                return ParseHello(fragment.Slice(HandshakeHeaderLength, helloLength), recordVersion, out result);
            }

            if (HandshakeHeaderLength + helloLength <= recordLength)
            {
                result = Partial(recordVersion);
                return SniffStatus.NeedMoreData;
            }
        }

        if (!fragment.IsEmpty && fragment[0] != ClientHelloType)
        {
            result = SniffResult.None;
            return SniffStatus.Unrecognized;
        }

        // Until the first record is all in, there is nothing to put together yet.
        if (fragment.Length < recordLength)
        {
            result = Partial(recordVersion);
            return SniffStatus.NeedMoreData;
        }

        return Reassemble(data, recordVersion, out result);
    }

    /// <summary>Gathers a ClientHello that continues into following records (RFC 8446 section 5.1 lets a handshake
    /// message span records).</summary>
    private static SniffStatus Reassemble(ReadOnlySpan<byte> data, ushort recordVersion, out SniffResult result)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(HandshakeHeaderLength + SniffLimits.MaxClientHelloLength);
        try
        {
            var capacity = HandshakeHeaderLength + SniffLimits.MaxClientHelloLength;
            var collected = 0;
            var offset = 0;
            while (true)
            {
                var rest = data[offset..];
                switch (CheckRecordHeader(rest))
                {
                    case HeaderCheck.Invalid:
                        result = SniffResult.None;
                        return SniffStatus.Unrecognized;
                    case HeaderCheck.Short:
                        result = Partial(recordVersion);
                        return SniffStatus.NeedMoreData;
                }

                var recordLength = (rest[3] << 8) | rest[4];
                var available = Math.Min(recordLength, rest.Length - RecordHeaderLength);
                var take = Math.Min(available, capacity - collected);
                rest.Slice(RecordHeaderLength, take).CopyTo(buffer.AsSpan(collected));
                collected += take;

                if (collected >= 1 && buffer[0] != ClientHelloType)
                {
                    result = SniffResult.None;
                    return SniffStatus.Unrecognized;
                }

                if (collected >= HandshakeHeaderLength)
                {
                    var helloLength = (buffer[1] << 16) | (buffer[2] << 8) | buffer[3];
                    if (helloLength > SniffLimits.MaxClientHelloLength)
                    {
                        result = Partial(recordVersion);
                        return SniffStatus.Complete;
                    }

                    if (collected >= HandshakeHeaderLength + helloLength)
                    {
                        return ParseHello(buffer.AsSpan(HandshakeHeaderLength, helloLength), recordVersion, out result);
                    }
                }

                if (available < recordLength)
                {
                    result = Partial(recordVersion);
                    return SniffStatus.NeedMoreData;
                }

                offset += RecordHeaderLength + recordLength;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private enum HeaderCheck { Valid, Short, Invalid }

    /// <summary>A handshake record header: type 22, version 3.0 to 3.4 (SSL 3.0 to TLS 1.3's legacy values), and a
    /// length from 1 to 2^14 (RFC 8446 section 5.1: no empty handshake fragments, no plaintext over 2^14).</summary>
    private static HeaderCheck CheckRecordHeader(ReadOnlySpan<byte> data)
    {
        if ((data.Length >= 1 && data[0] != HandshakeRecordType) ||
            (data.Length >= 2 && data[1] != 0x03) ||
            (data.Length >= 3 && data[2] > 0x04))
        {
            return HeaderCheck.Invalid;
        }

        if (data.Length < RecordHeaderLength)
        {
            return HeaderCheck.Short;
        }

        var length = (data[3] << 8) | data[4];
        return length is 0 or > SniffLimits.MaxTlsRecordLength ? HeaderCheck.Invalid : HeaderCheck.Valid;
    }

    private static ushort RecordVersion(ReadOnlySpan<byte> data) => (ushort)((data[1] << 8) | data[2]);

    /// <summary>TLS, and nothing known yet but the record version.</summary>
    private static SniffResult Partial(ushort recordVersion) =>
        new(SniffedProtocol.Tls, Results.TlsToken) { TlsRecordVersion = recordVersion };

    private static SniffStatus ParseHello(ReadOnlySpan<byte> hello, ushort recordVersion, out SniffResult result)
    {
        result = SniffResult.None;
        var reader = new SpanReader(hello);
        if (!reader.TryReadUInt16(out var clientVersion) ||
            !reader.TrySkip(RandomLength) ||
            !reader.TryReadByte(out var sessionIdLength) || sessionIdLength > MaxSessionIdLength || !reader.TrySkip(sessionIdLength) ||
            !reader.TryReadUInt16(out var cipherSuitesLength) || cipherSuitesLength < 2 || cipherSuitesLength % 2 != 0 ||
            !reader.TrySkip(cipherSuitesLength) ||
            !reader.TryReadByte(out var compressionLength) || compressionLength < 1 || !reader.TrySkip(compressionLength))
        {
            return SniffStatus.Unrecognized;
        }

        string? sni = null;
        var alpn = ImmutableArray<string>.Empty;
        var highest = clientVersion;
        // Extensions may be absent altogether (a TLS 1.0 hello); when present they end exactly with the message.
        if (reader.Remaining > 0)
        {
            if (!reader.TryReadUInt16(out var extensionsLength) || extensionsLength != reader.Remaining)
            {
                return SniffStatus.Unrecognized;
            }

            bool seenServerName = false, seenAlpn = false, seenVersions = false;
            while (reader.Remaining > 0)
            {
                if (!reader.TryReadUInt16(out var type) || !reader.TryReadUInt16(out var length) ||
                    !reader.TryReadSlice(length, out var extension))
                {
                    return SniffStatus.Unrecognized;
                }

                // RFC 8446 section 4.2: no extension type twice. Checked for the ones read here, where a second
                // copy could make ax and the server see different values.
                switch (type)
                {
                    case ServerNameExtension:
                        if (seenServerName || !TryReadServerName(extension, out sni))
                        {
                            return SniffStatus.Unrecognized;
                        }
                        seenServerName = true;
                        break;
                    case AlpnExtension:
                        if (seenAlpn || !TryReadAlpn(extension, out alpn))
                        {
                            return SniffStatus.Unrecognized;
                        }
                        seenAlpn = true;
                        break;
                    case SupportedVersionsExtension:
                        if (seenVersions || !TryReadHighestVersion(extension, ref highest))
                        {
                            return SniffStatus.Unrecognized;
                        }
                        seenVersions = true;
                        break;
                }
            }
        }

        result = new SniffResult(SniffedProtocol.Tls, Results.TlsToken)
        {
            TlsRecordVersion = recordVersion,
            TlsClientVersion = clientVersion,
            TlsHighestVersion = highest,
            Sni = sni,
            Alpn = alpn,
        };
        return SniffStatus.Complete;
    }

    /// <summary>RFC 6066 section 3: a non-empty ServerNameList with at most one host_name. A host name that is not
    /// a DNS name (other bytes than letters, digits, '-', '_' and '.', or over 255 bytes) is ignored, not an
    /// error: the hello is still TLS, it just names no server ax can route by.</summary>
    private static bool TryReadServerName(ReadOnlySpan<byte> extension, out string? sni)
    {
        sni = null;
        var reader = new SpanReader(extension);
        if (!reader.TryReadUInt16(out var listLength) || listLength != reader.Remaining || listLength == 0)
        {
            return false;
        }

        var seenHostName = false;
        while (reader.Remaining > 0)
        {
            if (!reader.TryReadByte(out var nameType) || !reader.TryReadUInt16(out var nameLength) || nameLength == 0 ||
                !reader.TryReadSlice(nameLength, out var name))
            {
                return false;
            }

            if (nameType != HostNameType)
            {
                continue;
            }

            if (seenHostName)
            {
                return false;
            }

            seenHostName = true;
            if (IsHostName(name))
            {
                sni = LowerAscii(name);
            }
        }

        return true;
    }

    private static bool IsHostName(ReadOnlySpan<byte> name) =>
        name.Length <= SniffLimits.MaxSniLength &&
        !name.ContainsAnyExcept("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."u8);

    private static string LowerAscii(ReadOnlySpan<byte> name)
    {
        Span<char> chars = stackalloc char[SniffLimits.MaxSniLength];
        Ascii.ToLower(name, chars, out var written);
        return new string(chars[..written]);
    }

    /// <summary>RFC 7301 section 3.1: a ProtocolNameList of at least one non-empty name. The first
    /// <see cref="SniffLimits.MaxAlpnProtocols"/> are kept.</summary>
    private static bool TryReadAlpn(ReadOnlySpan<byte> extension, out ImmutableArray<string> alpn)
    {
        alpn = [];
        var reader = new SpanReader(extension);
        if (!reader.TryReadUInt16(out var listLength) || listLength != reader.Remaining || listLength < 2)
        {
            return false;
        }

        var names = ImmutableArray.CreateBuilder<string>(Math.Min(SniffLimits.MaxAlpnProtocols, listLength / 2));
        while (reader.Remaining > 0)
        {
            if (!reader.TryReadByte(out var nameLength) || nameLength == 0 || !reader.TryReadSlice(nameLength, out var name))
            {
                return false;
            }

            if (names.Count < SniffLimits.MaxAlpnProtocols)
            {
                names.Add(Encoding.Latin1.GetString(name));
            }
        }

        alpn = names.DrainToImmutable();
        return true;
    }

    /// <summary>RFC 8446 section 4.2.1: the client's list of versions, 2 to 254 bytes, which replaces
    /// legacy_version when present. GREASE values (RFC 8701: 0x?A?A) are skipped.</summary>
    private static bool TryReadHighestVersion(ReadOnlySpan<byte> extension, ref ushort highest)
    {
        var reader = new SpanReader(extension);
        if (!reader.TryReadByte(out var listLength) || listLength != reader.Remaining || listLength < 2 || listLength % 2 != 0)
        {
            return false;
        }

        ushort listed = 0;
        while (reader.TryReadUInt16(out var version))
        {
            var isGrease = (version & 0x0F0F) == 0x0A0A && (version >> 8) == (version & 0xFF);
            if (!isGrease && version > listed)
            {
                listed = version;
            }
        }

        if (listed != 0)
        {
            highest = listed;
        }

        return true;
    }
}
