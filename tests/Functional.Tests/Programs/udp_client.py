"""A UDP client for the functional tests.

Usage:
  udp_client.py sendto HOST PORT MESSAGE    unconnected: sendto the address, recvfrom the reply;
                                            prints "from HOST PORT" and the reply
  udp_client.py blocking HOST PORT MESSAGE  the same on a blocking socket (no timeout): recvfrom waits in the call
  udp_client.py connect HOST PORT MESSAGE   connected: connect, send, recvfrom; prints getpeername, the source, the reply
  udp_client.py efault HOST PORT            sendto with a payload pointer that is not mapped; prints the errno's name
"""
import ctypes
import errno
import socket
import struct
import sys

mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
family = socket.AF_INET6 if ":" in host else socket.AF_INET
sock = socket.socket(family, socket.SOCK_DGRAM)
if mode != "blocking":
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
elif mode == "efault":
    libc = ctypes.CDLL(None, use_errno=True)
    address = struct.pack("!HH4s8x", socket.AF_INET, port, socket.inet_aton(host))
    address = bytes([address[1], address[0]]) + address[2:]  # sa_family is host order (little endian)
    buffer = ctypes.create_string_buffer(address, len(address))
    result = libc.sendto(sock.fileno(), ctypes.c_void_p(8), ctypes.c_size_t(16), 0, buffer, len(address))
    print(result, errno.errorcode.get(ctypes.get_errno(), ctypes.get_errno()))
