# A blocking accept bounded by SO_RCVTIMEO: the kernel answers EAGAIN when the timeout passes with no connection.
# Prints "eagain after=<seconds>" (or what happened instead). Usage: accept_timeout.py BIND_HOST PORT SECONDS
import socket
import struct
import sys
import time

host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((host, port))
srv.listen(16)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", int(seconds), int((seconds % 1) * 1e6)))
start = time.monotonic()
try:
    srv.accept()
    print("accepted?!", flush=True)
except BlockingIOError:
    print(f"eagain after={time.monotonic() - start:.1f}", flush=True)
