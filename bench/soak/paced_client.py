"""Paced connects for bench/soak (phase 2): from START (CLOCK_MONOTONIC seconds) for SECONDS, RATE connects a second
to HOST PORT, a redis server behind a ref. Each connect sends PING, must read +PONG, and closes: every connect is
checked. Connect i is due at START + i / RATE; a client that falls behind goes on at once (no connect is skipped),
and reports how far behind it fell. Run under ax.

Prints one JSON line at the end: connects done and failed, the errors by kind, the connect(2) and whole-exchange
latency percentiles (µs), the largest lag behind the schedule (s), and the connects done in each second.

Usage: paced_client.py HOST PORT RATE START SECONDS
"""
import json
import socket
import sys
import time


def pct(values, q):
    return values[min(len(values) - 1, len(values) * q // 100)] if values else None


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    rate, start, seconds = float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
    n = round(rate * seconds)
    ok, failed, errors, lag = 0, 0, {}, 0.0
    connect_us, exchange_us = [], []
    per_second = [0] * (int(seconds) + 1)
    now = time.monotonic()
    if start > now:
        time.sleep(start - now)
    for i in range(n):
        due = start + i / rate
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        else:
            lag = max(lag, now - due)
        s = socket.socket()
        s.settimeout(10)
        try:
            t0 = time.perf_counter_ns()
            s.connect((host, port))
            t1 = time.perf_counter_ns()
            s.sendall(b"PING\r\n")
            reply = b""
            while not reply.endswith(b"\r\n"):
                chunk = s.recv(64)
                if not chunk:
                    break
                reply += chunk
            if reply != b"+PONG\r\n":
                raise OSError(f"reply {reply[:40]!r}")
            t2 = time.perf_counter_ns()
            ok += 1
            connect_us.append((t1 - t0) // 1000)
            exchange_us.append((t2 - t0) // 1000)
            per_second[min(len(per_second) - 1, int(time.monotonic() - start))] += 1
        except OSError as e:
            failed += 1
            kind = f"{type(e).__name__}: {e}"[:120]
            errors[kind] = errors.get(kind, 0) + 1
        finally:
            s.close()
    connect_us.sort()
    exchange_us.sort()
    print(json.dumps({
        "planned": n, "ok": ok, "failed": failed, "errors": errors, "lag_max_s": round(lag, 3),
        "connect_us": {q: pct(connect_us, q) for q in (50, 90, 99)} | {"max": connect_us[-1] if connect_us else None},
        "exchange_us": {q: pct(exchange_us, q) for q in (50, 90, 99)} | {"max": exchange_us[-1] if exchange_us else None},
        "per_second": per_second,
    }), flush=True)


if __name__ == "__main__":
    main()
