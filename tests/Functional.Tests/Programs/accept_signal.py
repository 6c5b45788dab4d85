# A blocking accept interrupted by SIGALRM, twice: first with a handler that raises (accept fails with EINTR and the
# handler has run), then with a handler that returns (Python retries the accept, PEP 475), which a client then ends.
# Usage: accept_signal.py BIND_HOST PORT
import signal
import socket
import sys
import time

host, port = sys.argv[1], int(sys.argv[2])
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((host, port))
srv.listen(16)
print("listening", flush=True)
ran = []


class Alarm(Exception):
    pass


def raising(signum, frame):
    ran.append(signum)
    raise Alarm()


signal.signal(signal.SIGALRM, raising)
signal.alarm(1)
try:
    srv.accept()
    print("accepted?!", flush=True)
except Alarm:
    print(f"interrupted handler_ran={len(ran)}", flush=True)

signal.signal(signal.SIGALRM, lambda s, f: ran.append(s))
signal.alarm(1)
print("waiting", flush=True)
conn, peer = srv.accept()
conn.recv(100)
print(f"accepted {peer[0]} handler_ran={len(ran)}", flush=True)
conn.close()
time.sleep(60)
