"""Held connects for bench/soak (phase 1): N threads each connect to HOST PORT, which nothing serves yet, so that ax
holds every one of them (docs/dependency-ordering.md). Run under ax.

A held connect parks its thread in the kernel until the daemon answers, so one thread holds one connect: a
nonblocking socket does not help, since ax holds a nonblocking connect too. Each thread, once its connect returns,
reads the one byte the backend sends, writes one byte back and closes. Prints "started N" when every thread has
been started, then, when all have finished, one JSON line: per connect the CLOCK_MONOTONIC ns at which connect(2)
returned and at which the byte exchange ended, or the error.

Usage: held_clients.py HOST PORT N
"""
import json
import resource
import socket
import sys
import threading
import time


def main():
    host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < n + 64:
        sys.exit(f"held_clients: RLIMIT_NOFILE hard limit {hard} is below the {n + 64} descriptors needed")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    # The threads only wait in the kernel: a small stack keeps 1,000 of them to a few MB of resident memory.
    threading.stack_size(256 * 1024)
    results = [None] * n

    def one(i):
        s = socket.socket()
        try:
            s.connect((host, port))
            connected = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
            s.settimeout(120)
            if s.recv(1) != b"x":
                raise OSError("the backend's byte did not come")
            s.sendall(b"y")
            results[i] = [connected, time.clock_gettime_ns(time.CLOCK_MONOTONIC)]
        except OSError as e:
            results[i] = f"{type(e).__name__}: {e}"
        finally:
            s.close()

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    print(f"started {n}", flush=True)
    for t in threads:
        t.join()
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    main()
