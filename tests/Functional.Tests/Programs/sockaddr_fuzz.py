# Calls connect, bind and sendto through libc with random sockaddr bytes and lengths, as a buggy or hostile program
# would, one fresh socket per call, and prints each call's answer. Run twice, with and without ax, the output must be
# the same: ax answers bad sockaddrs as the kernel does. Usage: sockaddr_fuzz.py SEED COUNT
#
# Every address that could be used is in 127.96.31.0/24 (or ::1, ::ffff:127.96.31.x), whatever the random bytes say:
# the address bytes of both layouts are overwritten, so no call can send a packet off the machine. Ports are 1 (for TCP
# only: a ref with no backend under ax, closed without ax, ECONNREFUSED either way), 9 (closed) or 0.
import ctypes
import errno
import random
import socket
import struct
import sys

libc = ctypes.CDLL("libc.so.6", use_errno=True)
libc.connect.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint32]
libc.bind.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint32]
libc.sendto.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_void_p, ctypes.c_uint32]

FAMILIES = [socket.AF_INET, socket.AF_INET6, socket.AF_UNSPEC, socket.AF_UNIX, 16, 17, 0xFFFF, 0x0200, 0x0A00]
V6 = [bytes(15) + b"\x01", bytes(10) + b"\xff\xff" + bytes([127, 96, 31, 7]), bytes(16)]


def sockaddr(rng, stream):
    length = rng.choice([rng.randint(0, 130), rng.randint(0, 30), 16, 24, 28, 0xFFFFFFFF, 1 << 20])
    data = bytearray(rng.randbytes(130))
    family = rng.choice(FAMILIES + [rng.randint(0, 0xFFFF)])
    struct.pack_into("<H", data, 0, family)
    # Port 1 is the ref's only for TCP: ax refuses a datagram to a VIP with no backend too, where the kernel sends it.
    struct.pack_into("!H", data, 2, rng.choice([1, 9, 0] if stream else [9, 0]))
    if family == socket.AF_INET6 or (family not in (socket.AF_INET, socket.AF_UNSPEC) and rng.random() < 0.5):
        data[8:24] = rng.choice(V6)
    else:
        data[4:8] = bytes([127, 96, 31, rng.randint(1, 254)])
    return family, length, bytes(data)


def call(op, sock, buf, length):
    ctypes.set_errno(0)
    if op == "connect":
        rc = libc.connect(sock.fileno(), buf, length)
    elif op == "bind":
        rc = libc.bind(sock.fileno(), buf, length)
    else:
        rc = libc.sendto(sock.fileno(), b"x", 1, 0, buf, length)
    return "ok" if rc >= 0 else errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))


def main():
    seed, count = int(sys.argv[1]), int(sys.argv[2])
    for i in range(count):
        rng = random.Random(seed * 1000003 + i)
        op = rng.choice(["connect", "connect", "bind", "sendto"])
        domain = rng.choice([socket.AF_INET, socket.AF_INET6])
        kind = socket.SOCK_DGRAM if op == "sendto" or rng.random() < 0.2 else socket.SOCK_STREAM
        family, length, data = sockaddr(rng, kind == socket.SOCK_STREAM)
        buf = ctypes.create_string_buffer(data, len(data))
        # A NULL sockaddr now and then: EFAULT, or for sendto on an unconnected socket, EDESTADDRREQ.
        pointer = None if rng.random() < 0.03 else buf
        with socket.socket(domain, kind) as sock:
            # Bounded even if a connect were ever to wait for an answer: SO_SNDTIMEO also times out connect.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 2, 0))
            result = call(op, sock, pointer, length)
        print(f"{i} {op} domain={domain} type={kind} family={family} len={length} {result}", flush=True)


main()
