# A line echo server: answers "<name>:<line>" for each line. Usage: echo_server.py BIND_HOST PORT NAME
import socket
import sys
import threading

host, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
family = socket.AF_INET6 if ":" in host else socket.AF_INET
srv = socket.socket(family, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((host, port))
srv.listen(64)
local = srv.getsockname()
print(f"listening {local[0]}:{local[1]}", flush=True)


def serve(conn):
    with conn:
        f = conn.makefile("rb")
        for line in f:
            conn.sendall(f"{name}:{line.decode().strip()}\n".encode())


while True:
    conn, _ = srv.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
