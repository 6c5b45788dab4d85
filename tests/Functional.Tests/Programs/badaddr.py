# Calls connect(2) with broken arguments through libc, as a buggy or hostile program would, and prints the errno
# names. Under ax the answers must be the kernel's own.
import ctypes
import ctypes.util
import errno
import socket
import struct

libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
fd = s.fileno()


def call(addr, length):
    ctypes.set_errno(0)
    rc = libc.connect(fd, addr, length)
    return "ok" if rc == 0 else errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))


# struct sockaddr_in: sa_family in host order, the port in network order, the address, 8 bytes of padding.
good = struct.pack("<H", socket.AF_INET) + struct.pack("!H", 9) + socket.inet_aton("127.96.0.99") + bytes(8)
buf = ctypes.create_string_buffer(good, len(good))
print("badptr=" + call(ctypes.c_void_p(8), 16))
print("shortlen=" + call(buf, 3))
print("hugelen=" + call(buf, 4096))
print("negative=" + call(buf, -1))
