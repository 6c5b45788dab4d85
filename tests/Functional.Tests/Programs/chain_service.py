# One tier of a dependency chain: initialises slowly, asks its dependency (if any) for its answer, then listens
# and answers every connection with "<name>><dependency's answer>". Started before its dependency, it relies on
# ax holding its connect until the dependency listens.
# Usage: chain_service.py NAME INIT_SECONDS LISTEN_PORT [DEP_HOST DEP_PORT]
import socket
import sys
import time

name, init, port = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
time.sleep(init)
answer = name
if len(sys.argv) > 5:
    dep = socket.create_connection((sys.argv[4], int(sys.argv[5])))
    dep.sendall(b"?\n")
    answer = name + ">" + dep.makefile("rb").readline().decode().strip()
    dep.close()
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(16)
print(f"{name} listening at {time.time():.3f}", flush=True)
while True:
    conn, _ = srv.accept()
    conn.makefile("rb").readline()
    conn.sendall(answer.encode() + b"\n")
    conn.close()
