# Connects from a chosen source address, sends one line and prints what came back:
# "reply=<line> local=<ip>:<port>", or "reset" when the server reset the connection, or "eof" when it closed it.
# Usage: inbound_client.py SOURCE_IP HOST PORT MESSAGE
import socket
import sys

source, host, port, message = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(10)
s.bind((source, 0))
try:
    s.connect((host, port))
    local = s.getsockname()
    s.sendall((message + "\n").encode())
    data = s.makefile("rb").readline()
    print(f"reply={data.decode().strip()} local={local[0]}:{local[1]}" if data else "eof", flush=True)
except (ConnectionResetError, BrokenPipeError):
    print("reset", flush=True)
