using BenchmarkDotNet.Attributes;
using Istio.AppSwitch.Dataplane.Interception;
using Istio.AppSwitch.Interop;
using Istio.AppSwitch.ProxyProtocol;

namespace Istio.AppSwitch.Bench.Micro;

/// <summary>
/// PROXY v2 for a TCP/IPv4 connection: the bare header, and the header ax writes for a captured or chained connect
/// (the application's labels and identity, a 16-byte unique id and a CRC32C), encoded and decoded.
/// </summary>
[MemoryDiagnoser]
public class ProxyV2Benchmarks
{
    private static readonly KeyValuePair<string, string>[] PodLabels =
    [
        new("app", "productpage"),
        new("version", "v1"),
        new("security.istio.io/tlsMode", "istio"),
        new("service.istio.io/canonical-name", "productpage"),
        new("service.istio.io/canonical-revision", "v1"),
        new(SyscallHandler.NamespaceLabel, "bookinfo"),
        new(SyscallHandler.ServiceAccountLabel, "bookinfo-productpage"),
    ];

    private readonly byte[] _buffer = new byte[1024];
    private readonly InetEndpoint _source = new([127, 0, 0, 1], 43210);
    private readonly InetEndpoint _destination = new([127, 96, 0, 7], 9080);
    private ProxyTlv[] _appTlvs = [];
    private ProxyTlv[] _axTlvs = [];
    private byte[] _bare = [];
    private byte[] _withTlvs = [];

    [GlobalSetup]
    public void Setup()
    {
        // What InterceptedApp.ProxyTlvs builds once per application.
        _appTlvs = [AxTlvs.Labels(PodLabels), AxTlvs.Identity(new AxIdentity("bookinfo", "bookinfo-productpage"))];
        var uniqueId = new byte[16];
        Random.Shared.NextBytes(uniqueId);
        _axTlvs = [.. _appTlvs, ProxyTlv.UniqueId(uniqueId)];
        _bare = _buffer.AsSpan(0, EncodeBare()).ToArray();
        _withTlvs = _buffer.AsSpan(0, EncodeAxTlvs()).ToArray();
        if (DecodeAxTlvs()?.AxLabels?.Count != PodLabels.Length || DecodeBare() is not { Tlvs.Count: 0 })
        {
            throw new InvalidOperationException("The headers do not decode to what was encoded.");
        }
    }

    /// <summary>Addresses and ports only.</summary>
    [Benchmark]
    public int EncodeBare() => ProxyV2Writer.WriteProxy(_buffer, _source.AddressBytes, _source.Port, _destination.AddressBytes,
        _destination.Port, ProxyTransport.Stream);

    /// <summary>ax's TLVs, already built, and the CRC32C over the whole header.</summary>
    [Benchmark]
    public int EncodeAxTlvs() => ProxyV2Writer.WriteProxy(_buffer, _source.AddressBytes, _source.Port, _destination.AddressBytes,
        _destination.Port, ProxyTransport.Stream, _axTlvs, addCrc32c: true);

    /// <summary>
    /// What the daemon runs per captured or chained connect (SyscallHandler.BuildProxyHeader): the TLV list, a fresh
    /// random unique id, and the encoding with CRC32C.
    /// </summary>
    [Benchmark]
    public int DaemonHeader() => SyscallHandler.BuildProxyHeader(_buffer, null, in _source, in _destination, null, _appTlvs);

    [Benchmark]
    public ProxyHeader? DecodeBare()
    {
        ProxyProtocolParser.TryParse(_bare, out var header, out _, out _);
        return header;
    }

    /// <summary>With the CRC32C checked and the labels and identity decoded, as a proxy behind ax reads them.</summary>
    [Benchmark]
    public ProxyHeader? DecodeAxTlvs()
    {
        ProxyProtocolParser.TryParse(_withTlvs, out var header, out _, out _);
        return header;
    }
}
