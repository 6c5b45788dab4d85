# A listener that never accepts, with its accept queue filled: further SYNs are dropped and connects hang.
# Usage: full_backlog_server.py PORT
import socket
import sys
import threading

port = int(sys.argv[1])
srv = socket.socket()
srv.bind(("127.0.0.1", port))
srv.listen(0)
fillers = []
for _ in range(2):
    c = socket.socket()
    c.setblocking(False)
    c.connect_ex(("127.0.0.1", port))
    fillers.append(c)
print("listening, queue full", flush=True)
threading.Event().wait()
