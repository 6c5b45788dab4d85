"""The dependency that held connects wait for, for bench/soak (phase 1): binds 127.0.0.1:PORT and prints
CLOCK_MONOTONIC in ns just before listen(2), the moment the service starts to exist for ax. Then it accepts every
connection, sends each one byte, and counts the connections whose one byte came back; prints "exchanged N" each
time another 1,000 have (and at EXPECTED), and exits once EXPECTED have. Run under ax.

Usage: held_backend.py PORT EXPECTED
"""
import resource
import select
import socket
import sys
import time


def main():
    port, expected = int(sys.argv[1]), int(sys.argv[2])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", port))
    lsock.setblocking(False)
    t = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    # The kernel caps the backlog at net.core.somaxconn; a burst larger than that waits for SYN retransmits.
    lsock.listen(65535)
    print(f"listen {t}", flush=True)
    ep = select.epoll()
    ep.register(lsock.fileno(), select.EPOLLIN)
    conns = {}
    exchanged = 0
    while exchanged < expected:
        for fd, _ in ep.poll(1):
            if fd == lsock.fileno():
                while True:
                    try:
                        c, _ = lsock.accept()
                    except BlockingIOError:
                        break
                    c.setblocking(False)
                    try:
                        c.send(b"x")
                    except OSError as e:
                        print(f"send: {e}", flush=True)
                        c.close()
                        continue
                    conns[c.fileno()] = c
                    ep.register(c.fileno(), select.EPOLLIN)
                continue
            c = conns.pop(fd)
            ep.unregister(fd)
            try:
                ok = c.recv(1) == b"y"
            except OSError as e:
                print(f"recv: {e}", flush=True)
                ok = False
            c.close()
            if ok:
                exchanged += 1
                if exchanged % 1000 == 0 or exchanged == expected:
                    print(f"exchanged {exchanged}", flush=True)


if __name__ == "__main__":
    main()
