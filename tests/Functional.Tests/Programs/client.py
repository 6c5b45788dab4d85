# A blocking-socket client for the functional tests: connects, sends a line, prints the answer and what
# getpeername says. Usage: client.py HOST PORT MESSAGE [ipv6]
import socket
import sys

host, port, message = sys.argv[1], int(sys.argv[2]), sys.argv[3]
family = socket.AF_INET6 if len(sys.argv) > 4 and sys.argv[4] == "ipv6" else socket.AF_INET
s = socket.socket(family, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
s.connect((host, port))
s.sendall(message.encode() + b"\n")
data = b""
while not data.endswith(b"\n"):
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
peer = s.getpeername()
nodelay = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
print(f"reply={data.decode().strip()} peer={peer[0]}:{peer[1]} nodelay={1 if nodelay else 0}")
