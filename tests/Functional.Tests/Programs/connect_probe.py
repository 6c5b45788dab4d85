# Connects once and reports how the connect ended and how long it took, as "result=<ok|errno name> ms=<elapsed>".
# Usage: connect_probe.py HOST PORT MODE [SECONDS]
#   MODE blocking    - a blocking connect (then one request line, whose answer is printed as reply=...)
#   MODE nonblocking - one nonblocking connect(2) call: its immediate result
#   MODE alarm       - a blocking connect that SIGALRM interrupts after SECONDS (the application's own timeout)
#   MODE twice       - a nonblocking connect, wait until connected, print "connected", sleep SECONDS, then connect
#                      again (the idiom that asks for the outcome): its result is reported
#   MODE blocking-twice - a blocking connect, then at once a second connect of the same socket: its result is
#                      reported (the kernel's is EISCONN)
import errno
import os
import signal
import socket
import sys
import time

host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0


class AppTimeout(Exception):
    pass


def on_alarm(signum, frame):
    raise AppTimeout()


s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
start = time.monotonic()
reply = ""
try:
    if mode == "twice":
        import select
        s.setblocking(False)
        s.connect_ex((host, port))
        select.select([], [s], [], 10)
        print("connected", flush=True)
        time.sleep(seconds)
        start = time.monotonic()
        code = s.connect_ex((host, port))
        result = "ok" if code == 0 else errno.errorcode.get(code, str(code))
    elif mode == "blocking-twice":
        s.connect((host, port))
        code = s.connect_ex((host, port))
        result = "ok" if code == 0 else errno.errorcode.get(code, str(code))
    elif mode == "nonblocking":
        s.setblocking(False)
        code = s.connect_ex((host, port))
        result = "ok" if code == 0 else errno.errorcode.get(code, str(code))
    else:
        if mode == "alarm":
            signal.signal(signal.SIGALRM, on_alarm)
            signal.setitimer(signal.ITIMER_REAL, seconds)
        s.connect((host, port))
        signal.setitimer(signal.ITIMER_REAL, 0)
        s.sendall(b"probe\n")
        reply = s.makefile("rb").readline().decode().strip()
        result = "ok"
except AppTimeout:
    result = "apptimeout"
except OSError as e:
    result = errno.errorcode.get(e.errno, str(e.errno))
elapsed = (time.monotonic() - start) * 1000
print(f"result={result} ms={elapsed:.0f} reply={reply} pid={os.getpid()}", flush=True)
