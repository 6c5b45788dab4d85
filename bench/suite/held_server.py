"""The service a held connect waits for, for bench/run: binds 127.0.0.1:PORT, prints CLOCK_MONOTONIC in ns just
before listen(2) (the moment the service starts to exist), accepts one connection and exits. Run under ax."""
import socket
import sys
import time

s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
t = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
s.listen(16)
print(f"listen {t}", flush=True)
c, _ = s.accept()
c.close()
