"""A held connect (docs/dependency-ordering.md), for bench/run: connects to HOST PORT, which nothing serves yet, and
prints CLOCK_MONOTONIC in ns when connect(2) returns. Says "connecting" first, so that the harness knows when to
start the server. Run under ax."""
import socket
import sys
import time

s = socket.socket()
print("connecting", flush=True)
s.connect((sys.argv[1], int(sys.argv[2])))
print(f"connected {time.clock_gettime_ns(time.CLOCK_MONOTONIC)}", flush=True)
s.close()
