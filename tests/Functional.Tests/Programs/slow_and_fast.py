# One thread makes a blocking connect that cannot complete soon (its backend's accept queue is full, so the
# kernel drops the SYNs), bounded by SO_SNDTIMEO; meanwhile another thread connects elsewhere. Under ax the slow
# decision must not hold up the fast one. Usage: slow_and_fast.py SLOW_HOST SLOW_PORT FAST_HOST FAST_PORT
import socket
import struct
import sys
import threading
import time

slow, fast = (sys.argv[1], int(sys.argv[2])), (sys.argv[3], int(sys.argv[4]))
t0 = time.monotonic()
result = {}


def slow_connect():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 2, 0))
    try:
        s.connect(slow)
        result["slow"] = "connected"
    except OSError as e:
        result["slow"] = type(e).__name__
    result["slow_s"] = time.monotonic() - t0


thread = threading.Thread(target=slow_connect)
thread.start()
time.sleep(0.3)
f = socket.create_connection(fast)
f.sendall(b"fast\n")
reply = f.makefile().readline().strip()
result["fast_s"] = time.monotonic() - t0
result["slow_pending_when_fast_done"] = thread.is_alive()
thread.join()
print(f"fast={reply} fast_s={result['fast_s']:.2f} slow={result['slow']} slow_s={result['slow_s']:.2f} "
      f"slow_pending_when_fast_done={result['slow_pending_when_fast_done']}")
