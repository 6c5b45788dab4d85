# Calls accept4(2) through libc with every flag combination and every kind of addr/addrlen argument, and prints what
# the kernel (or ax in its place) gave back, so the output under ax can be compared with the kernel's.
# Usage: accept_flags.py BIND_HOST PORT   (connects to itself from a thread; one line per case)
import ctypes
import fcntl
import os
import socket
import sys
import threading

host, port = sys.argv[1], int(sys.argv[2])
libc = ctypes.CDLL(None, use_errno=True)
SOCK_NONBLOCK, SOCK_CLOEXEC = 0o4000, 0o2000000
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((host, port))
srv.listen(16)
print("listening", flush=True)
clients = []


def connect():
    c = socket.create_connection((host, port))
    clients.append(c)
    return c


def case(name, flags, addr, addrlen):
    threading.Thread(target=connect).start()
    fd = libc.accept4(srv.fileno(), addr, addrlen, flags)
    if fd < 0:
        print(f"{name}: errno={os.strerror(ctypes.get_errno())}", flush=True)
        return
    fl = fcntl.fcntl(fd, fcntl.F_GETFL)
    fdfl = fcntl.fcntl(fd, fcntl.F_GETFD)
    line = f"{name}: nonblock={int(bool(fl & os.O_NONBLOCK))} cloexec={int(bool(fdfl & fcntl.FD_CLOEXEC))}"
    if addrlen is not None:
        line += f" addrlen={addrlen._obj.value}"
    if addr is not None and not isinstance(addr, int):
        raw = bytes(addr)
        line += f" family={int.from_bytes(raw[0:2], 'little')} port_ok={int(int.from_bytes(raw[2:4], 'big') != 0)} tail={raw[4:].hex()}"
    peer = socket.socket(fileno=fd).getpeername()
    print(line + f" peer={peer[0]}", flush=True)


for name, flags in [("accept4-0", 0), ("accept4-nonblock", SOCK_NONBLOCK), ("accept4-cloexec", SOCK_CLOEXEC),
                    ("accept4-both", SOCK_NONBLOCK | SOCK_CLOEXEC)]:
    buf = (ctypes.c_ubyte * 16)()
    n = ctypes.c_uint32(16)
    case(name, flags, buf, ctypes.byref(n))
# Truncation: room for 6 bytes only; the full length comes back, the rest of the buffer is untouched (0xAA).
buf = (ctypes.c_ubyte * 16)(*([0xAA] * 16))
n = ctypes.c_uint32(6)
case("truncated", 0, buf, ctypes.byref(n))
case("null-addr", 0, None, None)
# A bad pointer: EFAULT, and the connection is not leaked to anyone.
n = ctypes.c_uint32(16)
case("bad-addr", 0, ctypes.c_void_p(8), ctypes.byref(n))
print("done", flush=True)
