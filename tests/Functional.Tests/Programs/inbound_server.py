# A blocking line echo server that logs every connection it accepts, with the peer address from accept() and from
# getpeername(). Usage: inbound_server.py BIND_HOST PORT NAME [THREADS]
# With THREADS > 1, that many threads block in accept() on the one listener at once.
import socket
import sys
import threading

host, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
threads = int(sys.argv[4]) if len(sys.argv) > 4 else 1
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((host, port))
srv.listen(64)
print(f"listening {srv.getsockname()[0]}:{srv.getsockname()[1]}", flush=True)
lock = threading.Lock()


def serve(conn, peer):
    with conn:
        p = conn.getpeername()
        with lock:
            print(f"accepted {peer[0]}:{peer[1]} getpeername={p[0]}:{p[1]} thread={threading.current_thread().name}", flush=True)
        f = conn.makefile("rb")
        for line in f:
            conn.sendall(f"{name}:{line.decode().strip()}\n".encode())


def acceptor():
    while True:
        conn, peer = srv.accept()
        serve(conn, peer) if threads > 1 else threading.Thread(target=serve, args=(conn, peer), daemon=True).start()


workers = [threading.Thread(target=acceptor, name=f"t{i}", daemon=True) for i in range(threads)]
for w in workers:
    w.start()
for w in workers:
    w.join()
