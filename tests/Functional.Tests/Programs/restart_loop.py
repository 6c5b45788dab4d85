"""Connects to HOST:PORT again and again while the test restarts the daemon, until the file STOP exists.

Usage: restart_loop.py HOST PORT STOP
Each connection sends one line and reads the answer, with a 30 s timeout: a call that a crashed daemon took and never
answered would show as a failure (the next daemon restarts such calls itself, docs/interception.md). Prints one JSON
line at the end: connects, failures, the slowest connect and exchange in ms, and the first errors.
"""
import json
import os
import socket
import sys
import time

host, port, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3]

connects = failures = 0
worst = 0.0
errors = []
print("started", flush=True)
while not os.path.exists(stop):
    began = time.monotonic()
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(30)
        s.connect((host, port))
        s.sendall(f"r{connects}\n".encode())
        reply = s.makefile("r").readline()
        s.close()
        if not reply.endswith(f":r{connects}\n"):
            raise OSError(f"unexpected reply {reply!r}")
    except OSError as error:
        failures += 1
        if len(errors) < 5:
            errors.append(f"{connects}: {error}")
    connects += 1
    worst = max(worst, time.monotonic() - began)
    time.sleep(0.005)
print(json.dumps({"connects": connects, "failures": failures, "worst_ms": round(worst * 1000, 1), "errors": errors}), flush=True)
