using System.Buffers;
using Istio.AppSwitch.Interop;
using Istio.AppSwitch.ProxyProtocol;
using Istio.AppSwitch.Rbac;
using Istio.AppSwitch.Sniffing;
using Microsoft.Extensions.Logging;
using static Istio.AppSwitch.Interop.SocketConstants;

namespace Istio.AppSwitch.Dataplane.Interception;

/// <summary>
/// Looking at an accepted connection before the application gets it (docs/inbound-policy.md, docs/envoy-chaining.md):
/// a trusted proxy's PROXY header, taken off so that the application sees the original client, and the first bytes
/// of the first request, peeked (never consumed) for a port whose policy needs them (an HTTP path, a Host, an SNI).
/// </summary>
/// <remarks>
/// <para>Bytes may not be there yet when the connection is accepted, so this part is asynchronous: the accept call
/// stays parked (blocking or not: a nonblocking listener's readiness belongs to the kernel's backlog, and a connection
/// ax took from it cannot be announced again), and the reactor thread goes on with other notifications. The wait is
/// bounded by <see cref="ChainOptions.InspectTimeout"/>: a client that sends nothing (a server-first protocol) is
/// decided on what was seen by then.</para>
/// <para>Epoll reports a socket with unread bytes as readable until they are read, and a peek reads nothing, so "more
/// bytes" after an incomplete peek is waited for by a short sleep, not by the reactor. It is the rare case: a request
/// line, headers or a ClientHello almost always arrive in the first segment.</para>
/// </remarks>
internal sealed partial class SyscallHandler
{
    /// <summary>The pause between peeks while a header or a request is incomplete.</summary>
    private static readonly TimeSpan RepeekDelay = TimeSpan.FromMilliseconds(2);

    /// <summary>How many peeked bytes a delegated connection's metadata carries (the frame is at most 64 KiB).</summary>
    private const int MaxPeekedTlvBytes = 4096;

    /// <summary>The most a PROXY header may take (v2: 16 bytes and a 16-bit length).</summary>
    private const int MaxInboundProxyHeader = 16 + ushort.MaxValue;

    /// <summary>What an accepted connection needs looked at before it is decided.</summary>
    private readonly record struct InspectNeeds(bool ProxyHeader, bool Peek)
    {
        public bool Any => ProxyHeader || Peek;
    }

    private InspectNeeds NeedsOf(in AcceptCall call, in InetEndpoint peer) =>
        new(_chain.TrustsProxies && _chain.IsTrusted(peer.Address), call.Policy is { UsesL7: true });

    /// <summary>
    /// Hands <paramref name="accepted"/> to an inspection that answers the call when it is done. The inspection keeps
    /// its own descriptor of the listener, so that a connection the policy then denies does not end the call: it goes
    /// on waiting for the next one, as it would had the denied connection never come.
    /// </summary>
    private void StartInspection(in AcceptCall call, SafeFd accepted, ReadOnlySpan<byte> peer, InspectNeeds needs)
    {
        UnixRights.Duplicate(call.Listener, out var listener);
        _ = InspectAsync(call with { Listener = listener! }, accepted, peer.ToArray(), needs);
    }

    private async Task InspectAsync(AcceptCall call, SafeFd accepted, byte[] peer, InspectNeeds needs)
    {
        var app = call.App;
        var listenerOwned = true;
        var kept = false;
        var buffer = ArrayPool<byte>.Shared.Rent(needs.Peek ? Math.Max(ProtocolSniffer.DefaultMaxBytes, 4096) : 1024);
        try
        {
            using var timeout = new CancellationTokenSource(_chain.InspectTimeout);
            var peerAddress = peer;
            if (needs.ProxyHeader)
            {
                var (ok, source) = await TakeProxyHeaderAsync(accepted, buffer, timeout.Token).ConfigureAwait(false);
                if (!ok)
                {
                    Interlocked.Increment(ref app.Counters.AcceptDenied);
                    Log.AcceptBadProxyHeader(_logger, app.Record.Id, call.Policy?.Key ?? "-");
                    Reset(accepted);
                    listenerOwned = !AcceptAgain(in call);
                    return;
                }
                if (source is { } original)
                {
                    peerAddress = SockaddrLike(peer, original);
                    Interlocked.Increment(ref app.Counters.AcceptProxied);
                }
            }

            RbacL7? l7 = null;
            ProxyTlv[] peeked = [];
            if (needs.Peek)
            {
                (l7, peeked) = await PeekFirstRequestAsync(accepted, buffer, timeout.Token).ConfigureAwait(false);
            }

            if (!Allows(in call, accepted, peerAddress, l7, peeked, viaTrustedProxy: needs.ProxyHeader, out var delegated))
            {
                Reset(accepted);
                listenerOwned = !AcceptAgain(in call);
                return;
            }
            if (delegated)
            {
                return;
            }
            if (!ReferenceEquals(peerAddress, peer))
            {
                RecordAcceptedPeer(app, accepted, peerAddress);
            }
            kept = Install(in call, accepted, peerAddress);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            if (ex is not ObjectDisposedException)
            {
                Interlocked.Increment(ref app.Counters.Failed);
                Log.HandlerFailed(_logger, ex, app.Record.Id, "accept inspection");
            }
            try
            {
                Seccomp.Respond(app.Listener, call.Id, -1, Errno.ECONNABORTED);
            }
            catch (ObjectDisposedException)
            {
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            if (!kept)
            {
                accepted.Dispose();
            }
            if (listenerOwned)
            {
                call.Listener?.Dispose();
            }
        }
    }

    /// <summary>
    /// After a denied connection: the call takes the next one, or waits for it (a blocking listener), or hears EAGAIN
    /// (a nonblocking one). True when a held accept now owns the call's listener.
    /// </summary>
    private bool AcceptAgain(in AcceptCall call)
    {
        var app = call.App;
        if (call.Listener is null || call.Listener.IsInvalid)
        {
            // No descriptor of the listener left to wait on (the dup failed): ECONNABORTED is what accept(2) answers
            // for a connection that went away before it was taken, and servers retry it.
            Seccomp.Respond(app.Listener, call.Id, -1, Errno.ECONNABORTED);
            return false;
        }
        if (app.IsDisposed || !Seccomp.IsIdValid(app.Listener, call.Id))
        {
            return false;
        }
        if (TryInstallStashed(in call))
        {
            return false;
        }
        switch (TryAcceptOnce(in call))
        {
            case AcceptOutcome.Pending:
                HoldAccept(in call);
                return true;
            case AcceptOutcome.Inspecting:
                // The next connection went to an inspection of its own, with a descriptor of its own.
                return false;
            default:
                return false;
        }
    }

    /// <summary>
    /// Reads a trusted peer's PROXY header off the connection: peeks until the bytes are a complete header, or
    /// clearly are not one, then consumes exactly the header. ok=false for a malformed header (the connection is
    /// reset, as Envoy's proxy_protocol filter closes it); a connection that does not start with a header (or sends
    /// nothing in time) is the application's as it is, and <c>source</c> is null. A LOCAL header (a health check)
    /// is taken off and changes nothing.
    /// </summary>
    private async Task<(bool Ok, InetEndpoint? Source)> TakeProxyHeaderAsync(SafeFd accepted, byte[] buffer, CancellationToken timeout)
    {
        var peeked = await PeekAsync(accepted, buffer.AsMemory(0, 16), timeout).ConfigureAwait(false);
        if (peeked == 0 || !StartsLikeProxyHeader(buffer.AsSpan(0, peeked)))
        {
            return (true, null);
        }
        var scratch = buffer.Length >= MaxInboundProxyHeader ? buffer : ArrayPool<byte>.Shared.Rent(MaxInboundProxyHeader);
        try
        {
            while (true)
            {
                var length = await PeekAsync(accepted, scratch.AsMemory(0, MaxInboundProxyHeader), timeout).ConfigureAwait(false);
                var status = ProxyProtocolParser.TryParse(scratch.AsSpan(0, length), out var header, out var consumed, out _);
                if (status == ProxyParseStatus.Invalid)
                {
                    return (false, null);
                }
                if (status == ProxyParseStatus.Success)
                {
                    // Consume exactly the header: what follows is the client's, for the application to read.
                    if (Sockets.Receive(accepted, scratch.AsSpan(0, consumed), MSG_DONTWAIT, out var taken) != Errno.Success || taken != consumed)
                    {
                        return (false, null);
                    }
                    return (true, header!.IsLocal || header.Source is null ? null : InetEndpoint.FromIPEndPoint(header.Source));
                }
                if (timeout.IsCancellationRequested)
                {
                    return (false, null); // a header begun and never finished
                }
                await Task.Delay(RepeekDelay, CancellationToken.None).ConfigureAwait(false);
            }
        }
        finally
        {
            if (!ReferenceEquals(scratch, buffer))
            {
                ArrayPool<byte>.Shared.Return(scratch);
            }
        }
    }

    /// <summary>True when the bytes may begin a v1 (<c>PROXY </c>) or a v2 header (its 12-byte signature).</summary>
    private static bool StartsLikeProxyHeader(ReadOnlySpan<byte> bytes)
    {
        ReadOnlySpan<byte> v1 = "PROXY "u8;
        ReadOnlySpan<byte> v2 = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];
        var n = Math.Min(bytes.Length, v2.Length);
        return bytes[..Math.Min(bytes.Length, v1.Length)].SequenceEqual(v1[..Math.Min(bytes.Length, v1.Length)])
            || bytes[..n].SequenceEqual(v2[..n]);
    }

    /// <summary>
    /// Peeks the first request until the sniffer has it whole, the buffer is full, or time is up, and says what it
    /// saw in RBAC's terms.
    /// </summary>
    /// <returns>What RBAC reads, and the TLVs a delegated connection carries to its sidecar: the detected protocol
    /// and the peeked bytes.</returns>
    private async Task<(RbacL7 L7, ProxyTlv[] Tlvs)> PeekFirstRequestAsync(SafeFd accepted, byte[] buffer, CancellationToken timeout)
    {
        var limit = Math.Min(buffer.Length, ProtocolSniffer.DefaultMaxBytes);
        SniffResult? result = null;
        var previous = -1;
        var length = 0;
        while (true)
        {
            length = await PeekAsync(accepted, buffer.AsMemory(0, limit), timeout).ConfigureAwait(false);
            if (length != previous)
            {
                previous = length;
                var status = ProtocolSniffer.Sniff(buffer.AsSpan(0, length), out result);
                if (status != SniffStatus.NeedMoreData || length >= limit)
                {
                    break;
                }
            }
            if (timeout.IsCancellationRequested || length == 0)
            {
                break;
            }
            await Task.Delay(RepeekDelay, CancellationToken.None).ConfigureAwait(false);
        }
        if (result is null)
        {
            return (new RbacL7(null, null, null, null, [], IsHttp: false, HeadersComplete: false), []);
        }
        var l7 = new RbacL7(result.Sni, result.Method, result.Path, result.Host, result.Headers,
            IsHttp: result.Protocol == SniffedProtocol.Http1, result.HeadersComplete);
        // Copied: the buffer goes back to the pool, and a sidecar may get these bytes later.
        var tlvs = new List<ProxyTlv>(3) { AxTlvs.PeekedBytes(buffer.AsSpan(0, Math.Min(length, MaxPeekedTlvBytes)).ToArray()) };
        if (result.ProtocolToken.Length > 0)
        {
            tlvs.Add(AxTlvs.Protocol(result.ProtocolToken));
        }
        // The authority a sidecar matches on: the SNI of a ClientHello, or the Host of an HTTP request.
        if ((result.Sni ?? result.Host) is { Length: > 0 and <= AxTlvs.MaxDestinationNameLength } authority)
        {
            tlvs.Add(ProxyTlv.Authority(authority));
        }
        return (l7, [.. tlvs]);
    }

    /// <summary>
    /// Waits until the connection has bytes (or is closed, or time is up), then peeks what is there; 0 when nothing
    /// came. Never consumes.
    /// </summary>
    private async ValueTask<int> PeekAsync(SafeFd socket, Memory<byte> into, CancellationToken timeout)
    {
        var error = Sockets.Receive(socket, into.Span, MSG_PEEK | MSG_DONTWAIT, out var received);
        if (error == Errno.EAGAIN && !timeout.IsCancellationRequested)
        {
            try
            {
                await _reactor.WaitAsync(socket, EpollEvents.In | EpollEvents.RdHup, timeout).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested)
            {
                return 0;
            }
            error = Sockets.Receive(socket, into.Span, MSG_PEEK | MSG_DONTWAIT, out received);
        }
        return error == Errno.Success ? received : 0;
    }

    /// <summary>A sockaddr for <paramref name="source"/> in the family of the accepted socket's own peer address.</summary>
    private static byte[] SockaddrLike(byte[] peer, InetEndpoint source)
    {
        InetEndpoint.TryParse(peer, out var actual, out _);
        if (actual.IsIPv6 && source.IsIPv4)
        {
            source = source.MapToIPv6();
        }
        else if (actual.IsIPv4 && source.IsIPv6)
        {
            if (!source.IsIPv4MappedIPv6)
            {
                return peer; // an IPv6 client cannot be shown to an IPv4 socket: the proxy's address stays
            }
            source = source.MapToIPv4();
        }
        var sockaddr = new byte[source.SockaddrLength];
        source.Write(sockaddr);
        return sockaddr;
    }

    /// <summary>getpeername on the accepted socket answers the original client, as accept did.</summary>
    private static void RecordAcceptedPeer(InterceptedApp app, SafeFd accepted, byte[] peerAddress)
    {
        if (ProcFs.GetInode(accepted, out var inode) == Errno.Success && InetEndpoint.TryParse(peerAddress, out var peer, out _))
        {
            app.Sockets[inode] = new SocketOverride(peer, HasPeer: true, default, HasLocal: false);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1121, LogLevel.Debug, "{AppId}: a trusted proxy's connection to inbound port {Key} began with a malformed or unfinished PROXY header; reset")]
        public static partial void AcceptBadProxyHeader(ILogger logger, string appId, string key);
    }
}
