"""A UDP client for the functional tests.

Usage:
  udp_client.py sendto HOST PORT MESSAGE    unconnected: sendto the address, recvfrom the reply;
                                            prints "from HOST PORT" and the reply
  udp_client.py blocking HOST PORT MESSAGE  the same on a blocking socket (no timeout): recvfrom waits in the call
  udp_client.py connect HOST PORT MESSAGE   connected: connect, send, recvfrom; prints getpeername, the source, the reply
  udp_client.py efault HOST PORT            sendto with a payload pointer that is not mapped; prints the errno's name
  udp_client.py sendmsg HOST PORT MESSAGE   unconnected: sendmsg of the message in two iovecs with an IP_TOS control
                                            message, then recvmsg_into two buffers with IP_PKTINFO on; prints
                                            "from HOST PORT", the reply, "pktinfo DST" and "trunc N" (MSG_TRUNC set)
  udp_client.py sendmsg-blocking ...        the same on a blocking socket: recvmsg waits in the call
  udp_client.py sendmsg-mark HOST PORT      sendmsg with an SO_MARK control message; prints the errno's name
"""
import ctypes
import errno
import socket
import struct
import sys

IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)  # missing from some Python builds; Linux's value
mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
family = socket.AF_INET6 if ":" in host else socket.AF_INET
sock = socket.socket(family, socket.SOCK_DGRAM)
if mode not in ("blocking", "sendmsg-blocking"):
    sock.settimeout(10)

if mode in ("sendto", "blocking"):
    sock.sendto(sys.argv[4].encode(), (host, port))
    data, source = sock.recvfrom(65535)
    print("from", source[0], source[1])
    print(data.decode())
elif mode == "connect":
    sock.connect((host, port))
    peer = sock.getpeername()
    print("peer", peer[0], peer[1])
    sock.send(sys.argv[4].encode())
    data, source = sock.recvfrom(65535)
    print("from", source[0], source[1])
    print(data.decode())
elif mode in ("sendmsg", "sendmsg-blocking"):
    sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
    message = sys.argv[4].encode()
    half = len(message) // 2
    sent = sock.sendmsg([message[:half], message[half:]], [(socket.IPPROTO_IP, socket.IP_TOS, struct.pack("i", 0x10))], 0, (host, port))
    assert sent == len(message), sent
    first, second = bytearray(3), bytearray(65535)
    count, ancillary, flags, source = sock.recvmsg_into([first, second], socket.CMSG_SPACE(12))
    print("from", source[0], source[1])
    print((bytes(first) + bytes(second))[:count].decode())
    for level, kind, data in ancillary:
        if level == socket.IPPROTO_IP and kind == IP_PKTINFO:
            print("pktinfo", socket.inet_ntoa(data[8:12]))
    # A reply longer than the buffers: the kernel's MSG_TRUNC, and the datagram's real length with MSG_TRUNC asked.
    sock.sendmsg([message], [], 0, (host, port))
    small = bytearray(4)
    count, _, flags, source = sock.recvmsg_into([small], 0, socket.MSG_TRUNC)
    print("trunc", count, bool(flags & socket.MSG_TRUNC), source[0])
elif mode == "sendmsg-mark":
    try:
        sock.sendmsg([b"marked"], [(socket.SOL_SOCKET, 36, struct.pack("I", 7))], 0, (host, port))
        print("sent")
    except OSError as error:
        print(errno.errorcode.get(error.errno, error.errno))
elif mode == "efault":
    libc = ctypes.CDLL(None, use_errno=True)
    address = struct.pack("!HH4s8x", socket.AF_INET, port, socket.inet_aton(host))
    address = bytes([address[1], address[0]]) + address[2:]  # sa_family is host order (little endian)
    buffer = ctypes.create_string_buffer(address, len(address))
    result = libc.sendto(sock.fileno(), ctypes.c_void_p(8), ctypes.c_size_t(16), 0, buffer, len(address))
    print(result, errno.errorcode.get(ctypes.get_errno(), ctypes.get_errno()))
