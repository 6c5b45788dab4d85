"""Connects N times to HOST:PORT in a row, one line each way per connection, and counts which backend answered.

Usage: mesh_loop.py HOST PORT N GATE
After N/3 connects it prints "paused" and waits until the file GATE exists (the test kills a backend meanwhile), then
goes on. Prints "before NAME=COUNT ...", "after NAME=COUNT ..." and "failures COUNT" (connects or exchanges that failed).
"""
import os
import socket
import sys
import time

host, port, n, gate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
phases = {"before": {}, "after": {}}
failures = 0
phase = "before"
for i in range(n):
    if i == n // 3:
        print("paused", flush=True)
        while not os.path.exists(gate):
            time.sleep(0.01)
        phase = "after"
    try:
        with socket.create_connection((host, port), timeout=5) as conn:
            conn.sendall(f"m{i}\n".encode())
            reply = conn.makefile("r").readline()
        name = reply.split(":", 1)[0] if ":" in reply else "?"
        phases[phase][name] = phases[phase].get(name, 0) + 1
    except OSError as error:
        failures += 1
        print("failure", i, error, file=sys.stderr, flush=True)
for phase, counts in phases.items():
    print(phase, " ".join(f"{k}={v}" for k, v in sorted(counts.items())), flush=True)
print("failures", failures, flush=True)
