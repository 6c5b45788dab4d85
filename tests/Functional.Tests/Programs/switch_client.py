# A client for the Unix-switch tests: connects, sets and reads TCP options, sends one line and prints what it saw,
# including whether its socket is really a Unix socket (its inode listed in /proc/net/unix).
# Usage: switch_client.py HOST PORT MESSAGE [nonblocking]
import os
import select
import socket
import sys

host, port, message = sys.argv[1], int(sys.argv[2]), sys.argv[3]
nonblocking = len(sys.argv) > 4 and sys.argv[4] == "nonblocking"
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
if nonblocking:
    s.setblocking(False)
    err = s.connect_ex((host, port))
    assert err in (0, 115), f"connect_ex: {err}"  # EINPROGRESS
    select.select([], [s], [], 10)
    assert s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
    s.setblocking(True)
else:
    s.connect((host, port))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 42)
s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
nodelay = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
keepidle = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE)
keepcnt = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT)
info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
congestion = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16).rstrip(b"\0").decode()
keepalive = s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
s.sendall(message.encode() + b"\n")
data = b""
while not data.endswith(b"\n"):
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
peer = s.getpeername()
local = s.getsockname()
inode = os.stat(f"/proc/self/fd/{s.fileno()}").st_ino
with open("/proc/net/unix") as f:
    unix_inodes = {line.split()[6] for line in list(f)[1:] if len(line.split()) > 6}
print(f"reply={data.decode().strip()}")
print(f"peer={peer[0]}:{peer[1]} local={local[0]}:{local[1]}")
print(f"nodelay={nodelay} keepidle={keepidle} keepcnt={keepcnt} state={info[0]} congestion={congestion} keepalive={keepalive}")
print(f"unix={'yes' if str(inode) in unix_inodes else 'no'}")
