# Connects from a chosen source address, as a proxy would: sends a PROXY protocol v2 header first, then one line,
# and prints what came back: "reply=<line> local=<ip>:<port>", "reset" when the server reset the connection, or
# "eof" when it closed it.
# Usage: proxied_client.py SOURCE_IP HOST PORT MESSAGE KIND [CLIENT_IP CLIENT_PORT]
#   KIND: proxy (a PROXY header naming CLIENT_IP:CLIENT_PORT -> HOST:PORT), local (a LOCAL header, as a health check
#   sends), garbage (the v2 signature followed by a version nibble that does not exist), none (no header).
import socket
import struct
import sys

source, host, port, message, kind = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
client_ip = sys.argv[6] if len(sys.argv) > 6 else "10.1.2.3"
client_port = int(sys.argv[7]) if len(sys.argv) > 7 else 4567
SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
if kind == "proxy":
    addresses = socket.inet_aton(client_ip) + socket.inet_aton(host) + struct.pack("!HH", client_port, port)
    header = SIGNATURE + bytes([0x21, 0x11]) + struct.pack("!H", len(addresses)) + addresses
elif kind == "local":
    header = SIGNATURE + bytes([0x20, 0x00]) + struct.pack("!H", 0)
elif kind == "garbage":
    header = SIGNATURE + bytes([0x71, 0x11]) + struct.pack("!H", 12) + bytes(12)
else:
    header = b""
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(10)
s.bind((source, 0))
try:
    s.connect((host, port))
    local = s.getsockname()
    s.sendall(header + (message + "\n").encode())
    data = s.makefile("rb").readline()
    print(f"reply={data.decode().strip()} local={local[0]}:{local[1]}" if data else "eof", flush=True)
except (ConnectionResetError, BrokenPipeError):
    print("reset", flush=True)
