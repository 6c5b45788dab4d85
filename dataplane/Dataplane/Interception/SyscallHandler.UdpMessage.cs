using System.Buffers;
using System.Buffers.Binary;
using Istio.AppSwitch.Dataplane.Policy;
using Istio.AppSwitch.Dataplane.Registry;
using Istio.AppSwitch.Interop;
using static Istio.AppSwitch.Interop.SocketConstants;

namespace Istio.AppSwitch.Dataplane.Interception;

/// <summary>
/// <c>sendmsg</c> and <c>recvmsg</c> on UDP sockets, for applications started with <c>ax run --udp msg</c>
/// (docs/udp.md): the destination and the source are inside <c>struct msghdr</c>, which the seccomp filter cannot
/// read, so these calls are trapped whole, and only for the applications that ask.
/// </summary>
/// <remarks>
/// A <c>sendmsg</c> to a VIP is handled as a <c>sendto</c>: ax gathers the iovecs from the application's memory and sends
/// the datagram itself, with the control messages it may carry on the application's behalf. A <c>recvmsg</c> on a
/// socket ax redirected is handled as a <c>recvfrom</c>: ax receives, scatters the datagram over the iovecs, and reports
/// the VIP as the source. Everything else (no address, no VIP, a socket ax never redirected) is CONTINUEd after one or
/// two reads of the application's memory.
/// </remarks>
internal sealed partial class SyscallHandler
{
    /// <summary>The most control data ax carries for one datagram, each way. More: ENOBUFS on a send, MSG_CTRUNC on a receive.</summary>
    internal const int MaxDatagramControl = 4096;

    private const int MSG_ERRQUEUE = 0x2000;

    // sendmsg(fd, msg, flags)
    private void HandleSendMsg(InterceptedApp app, in SeccompNotification n)
    {
        Span<byte> header = stackalloc byte[ApplicationMessage.Size];
        if (ProcessMemory.Read((int)n.Pid, n.Arg1, header, out var read) != Errno.Success || read != header.Length
            || !ApplicationMessage.TryParse(header, out var message) || message.Name == 0)
        {
            // No address: a connected socket's send (TCP's, or a connected UDP socket's), which the kernel makes.
            Continue(app, n.Id);
            return;
        }
        if (!TryReadSockaddr(app, in n, message.Name, message.NameLength, checkId: false, out var destination))
        {
            return;
        }
        var decision = _routing.Current.Resolve(app.Record, in destination, protocol: TransportProtocol.Udp);
        if (decision.Kind == ConnectDecisionKind.NoMatch)
        {
            Continue(app, n.Id);
            return;
        }

        // Read before the thread is proven (in SendDatagramTo): what was read is used only after that proof.
        var readError = ReadOutgoingMessage(in n, in message, out var buffer, out var datagram);
        SendDatagramTo(app, in n, in decision, destination, buffer, datagram with { ReadError = readError });
    }

    /// <summary>
    /// Gathers a <c>sendmsg</c>'s payload and control data from the application into a pooled buffer (the caller owns
    /// it). Returns the error the kernel would give the call for what could not be read or is not carried.
    /// </summary>
    private static Errno ReadOutgoingMessage(in SeccompNotification n, in ApplicationMessage message, out byte[] buffer, out OutgoingDatagram datagram)
    {
        var pid = (int)n.Pid;
        var flags = (int)n.Arg2;
        if (message.IoVectorCount > ApplicationMessage.MaxIoVectors)
        {
            buffer = ArrayPool<byte>.Shared.Rent(1);
            datagram = new OutgoingDatagram(0, 0, flags, Errno.Success);
            return Errno.EMSGSIZE;
        }
        var controlLength = message.Control == 0 ? 0 : (int)Math.Min(message.ControlLength, MaxDatagramControl + 1);

        var vectors = ArrayPool<byte>.Shared.Rent(Math.Max((int)message.IoVectorCount * ApplicationMessage.IoVectorSize, 1));
        try
        {
            var vectorBytes = vectors.AsSpan(0, (int)message.IoVectorCount * ApplicationMessage.IoVectorSize);
            if (ProcessMemory.Read(pid, message.IoVectors, vectorBytes, out var read) != Errno.Success || read != vectorBytes.Length)
            {
                buffer = ArrayPool<byte>.Shared.Rent(1);
                datagram = new OutgoingDatagram(0, 0, flags, Errno.Success);
                return Errno.EFAULT;
            }
            if (!ApplicationMessage.TryGetTotalLength(vectorBytes, out var total))
            {
                buffer = ArrayPool<byte>.Shared.Rent(1);
                datagram = new OutgoingDatagram(0, 0, flags, Errno.Success);
                return Errno.EINVAL;
            }

            var payloadLength = Math.Min(total, MaxDatagram);
            var carried = Math.Min(controlLength, MaxDatagramControl);
            buffer = ArrayPool<byte>.Shared.Rent(Math.Max(payloadLength + carried, 1));
            datagram = new OutgoingDatagram(payloadLength, carried, flags, Errno.Success);
            if (total > MaxDatagram)
            {
                return Errno.EMSGSIZE;
            }
            if (ProcessMemory.ReadGather(pid, vectorBytes, buffer.AsSpan(0, payloadLength), out var gathered) != Errno.Success
                || gathered != payloadLength)
            {
                return Errno.EFAULT;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(vectors);
        }

        if (controlLength > MaxDatagramControl)
        {
            return Errno.ENOBUFS;
        }
        var control = buffer.AsSpan(datagram.PayloadLength, controlLength);
        if (controlLength > 0
            && (ProcessMemory.Read(pid, message.Control, control, out var controlRead) != Errno.Success || controlRead != controlLength))
        {
            return Errno.EFAULT;
        }
        return VetControl(control);
    }

    /// <summary>
    /// Whether ax may send these control messages on the application's behalf. ax's send runs with the daemon's
    /// credentials, and the kernel checks a control message's privileges against the sender (<c>SO_MARK</c>,
    /// <c>SO_PRIORITY</c>, IPv6 extension headers), so only those that need none are carried: the source address and
    /// interface, TOS/TTL and their IPv6 twins, don't-fragment, and UDP GSO. Anything else is EPERM.
    /// </summary>
    internal static Errno VetControl(ReadOnlySpan<byte> control)
    {
        var reader = new ControlMessageReader(control);
        while (reader.TryRead(out var level, out var type, out _))
        {
            var carried = (level, type) switch
            {
                (IPPROTO_IP, IP_PKTINFO or IP_TOS or IP_TTL) => true,
                (IPPROTO_IPV6, IPV6_PKTINFO or IPV6_HOPLIMIT or IPV6_TCLASS or IPV6_DONTFRAG) => true,
                (SOL_UDP, UDP_SEGMENT) => true,
                _ => false,
            };
            if (!carried)
            {
                return Errno.EPERM;
            }
        }
        return reader.Malformed ? Errno.EINVAL : Errno.Success;
    }

    // recvmsg(fd, msg, flags)
    private void HandleRecvMsg(InterceptedApp app, in SeccompNotification n)
    {
        var flags = (int)n.Arg2;
        // As for recvfrom: most sockets were never redirected, and their calls go back to the kernel after one probe.
        // The error queue reports the destination of a failed send, which ax leaves as the kernel says it.
        if (app.DatagramPeers.IsEmpty || (flags & MSG_ERRQUEUE) != 0
            || ProcFs.GetSocketInode((int)n.Pid, (int)n.Arg0, out var inode) != Errno.Success
            || !app.DatagramPeers.TryGetValue(inode, out var peers))
        {
            Continue(app, n.Id);
            return;
        }
        Span<byte> header = stackalloc byte[ApplicationMessage.Size];
        if (ProcessMemory.Read((int)n.Pid, n.Arg1, header, out var read) != Errno.Success || read != header.Length
            || !ApplicationMessage.TryParse(header, out var message) || message.Name == 0
            || message.IoVectorCount > ApplicationMessage.MaxIoVectors
            || !TryGetVectorsLength((int)n.Pid, in message, out var length))
        {
            // No source asked for, or a call the kernel fails: the kernel's answer is the right one.
            Continue(app, n.Id);
            return;
        }
        if (!TryGetAppSocket(app, in n, (int)n.Arg0, peers.Domain, out var appSocket, out _))
        {
            return;
        }
        var call = new DatagramReceive(n.Id, (int)n.Pid, message.IoVectors, Math.Min(length, MaxDatagram), flags, message.Name,
            n.Arg1 + ApplicationMessage.NameLengthOffset, n.Arg1, (int)message.IoVectorCount, message.Control,
            message.Control == 0 ? 0 : (int)Math.Min(message.ControlLength, MaxDatagramControl));
        ReceiveOrHold(app, appSocket, peers, in call);
    }

    private static bool TryGetVectorsLength(int pid, in ApplicationMessage message, out int length)
    {
        length = 0;
        var size = (int)message.IoVectorCount * ApplicationMessage.IoVectorSize;
        var vectors = ArrayPool<byte>.Shared.Rent(Math.Max(size, 1));
        try
        {
            return ProcessMemory.Read(pid, message.IoVectors, vectors.AsSpan(0, size), out var read) == Errno.Success && read == size
                && ApplicationMessage.TryGetTotalLength(vectors.AsSpan(0, size), out length);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(vectors);
        }
    }

    /// <summary>
    /// Writes a received datagram into a <c>recvmsg</c> caller's memory as the kernel does: the payload scattered over
    /// its iovecs, the source into <c>msg_name</c> with its full length in <c>msg_namelen</c>, the control data into
    /// <c>msg_control</c> with its length in <c>msg_controllen</c>, and the flags into <c>msg_flags</c>. The iovecs are
    /// read again here: a held call's may have been written since the trap, and the kernel would use the new ones too.
    /// </summary>
    private static bool DeliverMessage(in DatagramReceive call, ReadOnlySpan<byte> payload, ReadOnlySpan<byte> source, int sourceLength,
        ReadOnlySpan<byte> control, int messageFlags)
    {
        var size = call.VectorCount * ApplicationMessage.IoVectorSize;
        var vectors = ArrayPool<byte>.Shared.Rent(Math.Max(size, 1));
        try
        {
            if (ProcessMemory.Read(call.Pid, call.Buffer, vectors.AsSpan(0, size), out var read) != Errno.Success || read != size
                || ProcessMemory.WriteScatter(call.Pid, vectors.AsSpan(0, size), payload, out var written) != Errno.Success
                || written != payload.Length)
            {
                return false;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(vectors);
        }
        if (!WriteSockaddr(call.Pid, call.Address, call.AddressLength, source, sourceLength)
            || (control.Length > 0 && ProcessMemory.Write(call.Pid, call.Control, control, out _) != Errno.Success))
        {
            return false;
        }
        // msg_controllen (8 bytes) and msg_flags (4) are adjacent.
        Span<byte> tail = stackalloc byte[12];
        BinaryPrimitives.WriteUInt64LittleEndian(tail, (ulong)control.Length);
        BinaryPrimitives.WriteInt32LittleEndian(tail[8..], messageFlags);
        return ProcessMemory.Write(call.Pid, call.Message + ApplicationMessage.ControlLengthOffset, tail, out var tailWritten) == Errno.Success
            && tailWritten == tail.Length;
    }
}
