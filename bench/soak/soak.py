#!/usr/bin/env python3
"""bench/soak's driver (issue 10, "Load and soak"): one ax daemon, two phases, the daemon sampled every second.

Phase 1, held: HELD connects (default 10,000; --quick 2,000) from client processes under ax (1,000 threads each)
to a ref whose backend does not exist yet, so the daemon holds every one; the driver checks that all are held
(the daemon's ax_held_connects gauge and the ref's held count), holds them HOLD_S seconds, then starts the backend
under ax and measures, per connect, the time from the backend's listen(2) to connect(2) returning and to one byte
exchanged each way. None may fail.

Phase 2, paced: RATE connects a minute (default 50,000) for MINUTES minutes (default 10; --quick 1) to a redis
server under ax, through two refs (one kept on TCP, one switched to a Unix socket pair), from 4 client processes
under ax that are replaced every minute (so applications come and go under the daemon). Every connect sends PING
and must read +PONG. The daemon's own connect counters are compared with what the clients saw.

Throughout: the daemon's VmRSS (and its anonymous and file-backed parts), fd count and threads, every second, from
/proc; plotted with gnuplot. Writes results.json, results.md and the PNGs into --out. Loopback only: VIPs
127.96.120.1-3.
"""
import argparse
import json
import math
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "suite"))
from harness import Bench, Failure, free_port, gnuplot_has, log, process_ns  # noqa: E402

HELD_VIP, HELD_VPORT = "127.96.120.1", 7000
TCP_VIP, UNIX_VIP, REDIS_VPORT = "127.96.120.2", "127.96.120.3", 6379
THREADS_PER_CLIENT = 1000
PACED_CLIENTS = 4  # half on the TCP ref, half on the Unix-switched one
GENERATION_S = 60  # a paced client's life; its successor starts on the same schedule
LEAD_S = 8  # how early a generation's processes start (ax run's start-up on a loaded machine) before their slot


def proc_status(pid):
    """VmRSS, RssAnon, RssFile (kB) and Threads of a process, from /proc/PID/status."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "Threads"):
                out[key] = int(value.split()[0])
    return out


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


SMAPS_HEAD = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \d+\s*(.*)$")


def smaps_parts(pid, exe):
    """The daemon's resident memory by kind (kB), from /proc/PID/smaps:
    - exe: pages of the ax file itself (ReadyToRun code and metadata of the single-file bundle): file-backed, shared
      with every `ax run` launcher, reclaimable, and bounded by the file's size;
    - jit: the runtime's double-mapped JIT code (/memfd:doublemapper);
    - gc: the GC's reservation, found as the largest run of contiguous anonymous mappings (the regions GC reserves
      one large range at start and commits inside it);
    - native: every other anonymous mapping (malloc's arenas, [heap], thread stacks, the runtime's own);
    - libs: other files (libc, libstdc++...)."""
    vmas = []
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            m = SMAPS_HEAD.match(line)
            if m:
                vmas.append([int(m.group(1), 16), int(m.group(2), 16), m.group(3).strip(), 0])
            elif line.startswith("Rss:"):
                vmas[-1][3] = int(line.split()[1])
    runs, last = [], None
    for v in vmas:
        if v[2] == "":
            if last is not None and last[1] == v[0]:
                last[1], last[2] = v[1], last[2] + v[3]
            else:
                last = [v[0], v[1], v[3]]
                runs.append(last)
        else:
            last = None
    gc_run = max(runs, key=lambda r: r[1] - r[0]) if runs else None
    parts = {"exe": 0, "jit": 0, "gc": gc_run[2] if gc_run else 0, "native": 0, "libs": 0}
    for start, end, path, rss in vmas:
        if path == exe:
            parts["exe"] += rss
        elif path.startswith("/memfd:doublemapper"):
            parts["jit"] += rss
        elif path in ("", "[heap]") or path.startswith("[stack") or path.startswith("[anon"):
            if not (gc_run and gc_run[0] <= start and end <= gc_run[1]):
                parts["native"] += rss
        elif not path.startswith("["):
            parts["libs"] += rss
    return parts


class Sampler(threading.Thread):
    """Samples the daemon once a second: RSS (anonymous and file-backed), fds, threads, CPU (ns), and the phase."""

    def __init__(self, pid, started, exe):
        super().__init__(daemon=True)
        self.pid, self.started, self.exe = pid, started, exe
        self.phase = "start"
        self.samples = []
        self.stopping = threading.Event()

    def sample(self):
        s = proc_status(self.pid)
        out = {"t": round(time.monotonic() - self.started, 2), "phase": self.phase, "rss_kb": s["VmRSS"],
               "anon_kb": s["RssAnon"], "file_kb": s["RssFile"], "threads": s["Threads"], "fds": fd_count(self.pid),
               "cpu_ns": process_ns(self.pid)}
        if len(self.samples) % 10 == 0:  # smaps of a process with 10,000 fds is cheap, but not free: every 10 s
            out["parts_kb"] = smaps_parts(self.pid, self.exe)
        return out

    def run(self):
        next_at = time.monotonic()
        while not self.stopping.is_set():
            try:
                self.samples.append(self.sample())
            except (OSError, KeyError):
                return  # the daemon is gone; the driver notices on its own
            next_at += 1
            self.stopping.wait(max(0, next_at - time.monotonic()))


class Soak(Bench):
    def start_daemon(self):
        self.metrics_port = free_port()
        self.launch_daemon(["--metrics", f"127.0.0.1:{self.metrics_port}"])

    def metrics(self):
        """The daemon's Prometheus text, as {name{labels}: value}."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10) as r:
            text = r.read().decode()
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                out[key] = float(value)
        return out

    def connects(self, ref, decision):
        """The daemon's ax_connections_total for one ref and decision, summed over modes."""
        pattern = re.compile(r'^ax_connections_total\{(.*)\}$')
        total = 0
        for key, value in self.metrics().items():
            m = pattern.match(key)
            if m and f'ref="{ref}"' in m.group(1) and f'decision="{decision}"' in m.group(1):
                total += value
        return int(total)

    def held_gauge(self):
        return int(self.metrics().get("ax_held_connects", 0))

    def apps(self):
        return len(self.api_get("/v1/apps"))

    def ref_held(self, name):
        for r in self.api_get("/v1/refs"):
            if r.get("name") == name:
                return r.get("held", 0)
        return 0

    def daemon_alive(self):
        if self.procs.daemon.poll() is not None:
            raise Failure(f"ax daemon exited with {self.procs.daemon.returncode}:\n{self.procs.logtail('daemon')}")

    def read_log(self, name):
        with open(os.path.join(self.work, f"{name}.log")) as f:
            return f.read()


def snapshot(bench):
    s = proc_status(bench.daemon_pid)
    return {"rss_kb": s["VmRSS"], "anon_kb": s["RssAnon"], "file_kb": s["RssFile"], "threads": s["Threads"],
            "fds": fd_count(bench.daemon_pid)}


def percentiles(values):
    values = sorted(values)
    if not values:
        return {}
    n = len(values)
    return {"min": values[0], "p50": values[n // 2], "p90": values[min(n - 1, n * 90 // 100)],
            "p99": values[min(n - 1, n * 99 // 100)], "max": values[-1], "mean": sum(values) / n}


# --- phase 1: held connects ---------------------------------------------------------------------------------------


def held_phase(bench, sampler, n, hold_s):
    sampler.phase = "held"
    result = {"connects": n}
    port = free_port()
    bench.axc("create", "ref", "soak-held", "--vip", f"{HELD_VIP}:{HELD_VPORT}", "--selector", "app=soak-held",
              "--no-unix", "--wait", "10m")
    result["before"] = snapshot(bench)
    counts = [THREADS_PER_CLIENT] * (n // THREADS_PER_CLIENT) + ([n % THREADS_PER_CLIENT] if n % THREADS_PER_CLIENT else [])
    began = time.monotonic()
    clients = []
    for i, k in enumerate(counts):
        name = f"held-client-{i}"
        clients.append((name, bench.under_ax(name, f"app=soak-held-client,part={i}",
                                             ["python3", os.path.join(HERE, "held_clients.py"), HELD_VIP, str(HELD_VPORT), str(k)])))
    # Every connect is held: the gauge (all refs) and the ref's own count, with nothing else running.
    deadline = time.monotonic() + max(120, n / 20)
    held = 0
    while time.monotonic() < deadline:
        bench.daemon_alive()
        for name, p in clients:
            if p.poll() is not None:
                raise Failure(f"{name} exited with {p.returncode} while its connects should be held:\n{bench.procs.logtail(name)}")
        held = bench.held_gauge()
        if held >= n:
            break
        time.sleep(0.5)
    else:
        raise Failure(f"only {held} of {n} connects held after {time.monotonic() - began:.0f} s")
    result["all_held_after_s"] = round(time.monotonic() - began, 1)
    result["held_gauge"] = held
    result["held_by_ref"] = bench.ref_held("soak-held")
    log(f"held: {held} connects held ({result['held_by_ref']} by soak-held) after {result['all_held_after_s']} s")

    # The daemon's cost of holding them: CPU over hold_s with nothing else to do (the 100 ms tick checks each).
    c0, t0 = process_ns(bench.daemon_pid), time.monotonic()
    time.sleep(hold_s)
    c1, t1 = process_ns(bench.daemon_pid), time.monotonic()
    result["hold_cpu_ms_per_s"] = round((c1 - c0) / 1e6 / (t1 - t0), 1)
    result["peak"] = snapshot(bench)
    bench.daemon_alive()
    if bench.held_gauge() != n:
        raise Failure(f"held connects went from {n} to {bench.held_gauge()} while nothing happened; client exits: "
                      f"{[p.poll() for _, p in clients]}:\n{bench.procs.logtail('daemon')}")

    sampler.phase = "release"
    backend = bench.under_ax("held-backend", "app=soak-held", ["python3", os.path.join(HERE, "held_backend.py"), str(port), str(n)])
    deadline = time.monotonic() + 300
    for name, p in clients:
        try:
            p.wait(max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise Failure(f"{name}: not finished 300 s after the backend started (held now: {bench.held_gauge()})")
    try:
        backend.wait(30)
    except subprocess.TimeoutExpired:
        raise Failure(f"held-backend: all clients finished but it has not counted {n} exchanges:\n{bench.procs.logtail('held-backend')}")
    m = re.search(r"listen (\d+)", bench.read_log("held-backend"))
    if not m:
        raise Failure(f"held-backend printed no listen time:\n{bench.procs.logtail('held-backend')}")
    listen_ns = int(m.group(1))
    connected, exchanged, errors = [], [], {}
    for name, p in clients:
        lines = bench.read_log(name).strip().splitlines()
        if p.returncode != 0 or not lines:
            raise Failure(f"{name}: exit {p.returncode}:\n{bench.procs.logtail(name)}")
        for r in json.loads(lines[-1]):
            if isinstance(r, list):
                connected.append((r[0] - listen_ns) / 1e6)
                exchanged.append((r[1] - listen_ns) / 1e6)
            else:
                kind = str(r)[:120]
                errors[kind] = errors.get(kind, 0) + 1
    result["ok"] = len(exchanged)
    result["failed"] = n - len(exchanged)
    result["errors"] = errors
    result["connected_ms"] = percentiles(connected)
    result["exchanged_ms"] = percentiles(exchanged)
    result["released_cdf"] = cdf(exchanged)
    result["daemon_released"] = bench.connects("soak-held", "allowed")
    log(f"held: released {len(exchanged)} of {n}, all exchanged {result['exchanged_ms'].get('max', 0):.0f} ms after listen; "
        f"failed {result['failed']}")

    # After: the clients and the backend have exited; give the sweep its two passes to drop their state.
    sampler.phase = "after-held"
    bench.procs.apps = [(name, p) for name, p in bench.procs.apps if p.poll() is None]
    deadline = time.monotonic() + 30
    while (bench.held_gauge() != 0 or bench.apps() != 0) and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(5)
    result["after"] = snapshot(bench)
    result["held_after"] = bench.held_gauge()
    result["apps_after"] = bench.apps()
    bench.axc("delete", "ref", "soak-held")
    return result


def cdf(values_ms, points=200):
    """(ms, fraction released) pairs for the plot."""
    values = sorted(values_ms)
    if not values:
        return []
    step = max(1, len(values) // points)
    out = [[values[i], (i + 1) / len(values)] for i in range(0, len(values), step)]
    out.append([values[-1], 1.0])
    return out


# --- phase 2: paced connects --------------------------------------------------------------------------------------


def paced_phase(bench, sampler, per_minute, minutes):
    sampler.phase = "paced"
    result = {"per_minute": per_minute, "minutes": minutes}
    port = free_port()
    redis = bench.under_ax("redis", "app=soak-redis", ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                                       "--save", "", "--appendonly", "no", "--maxclients", "10000"])
    bench.wait_service(port, "redis", redis)
    bench.axc("create", "ref", "soak-tcp", "--vip", f"{TCP_VIP}:{REDIS_VPORT}", "--selector", "app=soak-redis", "--no-unix")
    bench.axc("create", "ref", "soak-unix", "--vip", f"{UNIX_VIP}:{REDIS_VPORT}", "--selector", "app=soak-redis")
    result["apps_before"] = bench.apps()
    daemon_before = {ref: {d: bench.connects(ref, d) for d in ("allowed", "refused")} for ref in ("soak-tcp", "soak-unix")}
    rate = per_minute / 60 / PACED_CLIENTS
    t0 = time.monotonic() + LEAD_S
    result["start"] = snapshot(bench)
    running, done = [], []
    for g in range(minutes):
        slot = t0 + g * GENERATION_S
        while time.monotonic() < slot - LEAD_S:
            bench.daemon_alive()
            reap(bench, running, done)
            time.sleep(0.5)
        for c in range(PACED_CLIENTS):
            vip = TCP_VIP if c % 2 == 0 else UNIX_VIP
            name = f"paced-{g}-{c}"
            p = bench.under_ax(name, f"app=soak-client,ref={'tcp' if vip == TCP_VIP else 'unix'}",
                               ["python3", os.path.join(HERE, "paced_client.py"), vip, str(REDIS_VPORT), f"{rate:.6f}",
                                f"{slot:.6f}", str(GENERATION_S)])
            running.append((name, p, g, vip))
        log(f"paced: minute {g + 1}/{minutes} started; load average {loadavg()}; daemon {snapshot(bench)}")
    deadline = t0 + minutes * GENERATION_S + 120
    while running and time.monotonic() < deadline:
        bench.daemon_alive()
        reap(bench, running, done)
        time.sleep(0.5)
    if running:
        raise Failure(f"paced clients still running 120 s after their last slot: {[r[0] for r in running]}")

    total_s = minutes * GENERATION_S
    timeline = [0] * (total_s + 1)
    ok = failed = planned = 0
    errors, lags, c50, c99, cmax, e50, e99 = {}, [], [], [], [], [], []
    for name, g, vip, r in done:
        planned += r["planned"]
        ok += r["ok"]
        failed += r["failed"]
        for k, v in r["errors"].items():
            errors[k] = errors.get(k, 0) + v
        lags.append(r["lag_max_s"])
        if r["ok"]:
            c50.append(r["connect_us"]["50"])
            c99.append(r["connect_us"]["99"])
            cmax.append(r["connect_us"]["max"])
            e50.append(r["exchange_us"]["50"])
            e99.append(r["exchange_us"]["99"])
        for s, k in enumerate(r["per_second"]):
            i = g * GENERATION_S + s
            if i < len(timeline):
                timeline[i] += k
    daemon_after = {ref: {d: bench.connects(ref, d) for d in ("allowed", "refused")} for ref in ("soak-tcp", "soak-unix")}
    result.update(planned=planned, ok=ok, failed=failed, errors=errors, lag_max_s=max(lags) if lags else None,
                  client_processes=len(done),
                  connect_us={"p50_median": statistics.median(c50) if c50 else None, "p99_max": max(c99) if c99 else None,
                              "max": max(cmax) if cmax else None},
                  exchange_us={"p50_median": statistics.median(e50) if e50 else None, "p99_max": max(e99) if e99 else None},
                  daemon_counted={ref: {d: daemon_after[ref][d] - daemon_before[ref][d] for d in ("allowed", "refused")}
                                  for ref in daemon_after},
                  per_second=timeline[:total_s])
    result["achieved_per_minute"] = round(ok / (total_s / 60))
    sampler.phase = "after-paced"
    deadline = time.monotonic() + 30
    while bench.apps() != result["apps_before"] and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(5)
    result["apps_after"] = bench.apps()
    result["after"] = snapshot(bench)
    return result


def reap(bench, running, done):
    for entry in list(running):
        name, p, g, vip = entry
        if p.poll() is None:
            continue
        running.remove(entry)
        lines = bench.read_log(name).strip().splitlines()
        try:
            r = json.loads(lines[-1])
        except (IndexError, ValueError):
            raise Failure(f"{name}: exit {p.returncode}, no result:\n{bench.procs.logtail(name)}")
        done.append((name, g, vip, r))
        if r["failed"]:
            log(f"{name}: {r['failed']} failed connects: {r['errors']}")
    bench.procs.apps = [(n, p) for n, p in bench.procs.apps if p.poll() is None]


def loadavg():
    return " ".join(open("/proc/loadavg").read().split()[:3])


# --- memory flatness ----------------------------------------------------------------------------------------------


def growth(samples, phase):
    """Mean RSS, anon, fds and threads over the first and the last minute of a phase (or its halves if shorter)."""
    ss = [s for s in samples if s["phase"] == phase]
    if len(ss) < 4:
        return None
    k = min(60, len(ss) // 2)
    first, last = ss[:k], ss[-k:]
    out = {"seconds": len(ss), "window_s": k}
    for key in ("rss_kb", "anon_kb", "file_kb", "fds", "threads"):
        a = sum(s[key] for s in first) / k
        b = sum(s[key] for s in last) / k
        out[key] = {"first": round(a, 1), "last": round(b, 1), "growth": round(b - a, 1)}
    for name, window in (("parts_first", first), ("parts_last", last)):
        with_parts = [s["parts_kb"] for s in window if "parts_kb" in s]
        if with_parts:
            out[name] = {k: round(sum(p[k] for p in with_parts) / len(with_parts)) for k in PARTS}
    out["rss_max_kb"] = max(s["rss_kb"] for s in ss)
    out["fds_max"] = max(s["fds"] for s in ss)
    out["threads_max"] = max(s["threads"] for s in ss)
    return out


def plot(out, samples, held, paced):
    term = "set terminal pngcairo size 1000,450 font 'sans,10'" if gnuplot_has("pngcairo") else "set terminal png size 1000,450"
    data = os.path.join(out, "samples.dat")
    with open(data, "w") as f:
        for s in samples:
            f.write(f"{s['t']} {s['rss_kb'] / 1024:.2f} {s['anon_kb'] / 1024:.2f} {s['file_kb'] / 1024:.2f} {s['fds']} {s['threads']}\n")
    marks = []
    last = None
    for s in samples:
        if s["phase"] != last:
            marks.append(f"set arrow from {s['t']}, graph 0 to {s['t']}, graph 1 nohead dt 3 lc rgb 'gray'")
            marks.append(f"set label '{s['phase']}' at {s['t']}, graph 0.97 offset 0.3,0 font ',8' tc rgb 'gray40'")
            last = s["phase"]
    scripts = {
        "rss": ["set ylabel 'MB'", "set yrange [0:*]",
                f"plot '{data}' using 1:2 with lines lw 2 title 'VmRSS', '' using 1:3 with lines title 'RssAnon', "
                "'' using 1:4 with lines title 'RssFile'"],
        "fds": ["set ylabel 'open fds'", "set yrange [0:*]", f"plot '{data}' using 1:5 with lines lw 2 title 'daemon fds'"],
        "threads": ["set ylabel 'threads'", "set yrange [0:*]", f"plot '{data}' using 1:6 with lines lw 2 title 'daemon threads'"],
    }
    for name, body in scripts.items():
        run_gnuplot([term, f"set output '{os.path.join(out, name + '.png')}'", "set grid", "set key outside bottom center horizontal",
                     "set xlabel 'seconds since the daemon started'", *marks, *body])
    os.remove(data)
    parts = [s for s in samples if "parts_kb" in s]
    if parts:
        data = os.path.join(out, "parts.dat")
        with open(data, "w") as f:
            for s in parts:
                p = s["parts_kb"]
                f.write(f"{s['t']} " + " ".join(f"{p[k] / 1024:.2f}" for k in PARTS) + "\n")
        run_gnuplot([term, f"set output '{os.path.join(out, 'rss-parts.png')}'", "set grid", "set key outside bottom center horizontal",
                     "set xlabel 'seconds since the daemon started'", "set ylabel 'resident MB'", "set yrange [0:*]", *marks,
                     "plot " + ", ".join(f"'{data}' using 1:{i + 2} with linespoints title '{PART_TITLES[k]}'" for i, k in enumerate(PARTS))])
        os.remove(data)
    if paced and paced.get("per_second"):
        rate = os.path.join(out, "rate.dat")
        with open(rate, "w") as f:
            for i, k in enumerate(paced["per_second"]):
                f.write(f"{i} {k}\n")
        run_gnuplot([term, f"set output '{os.path.join(out, 'rate.png')}'", "set grid", "set yrange [0:*]",
                     "set xlabel 'seconds into the paced phase'", "set ylabel 'connects checked per second'",
                     f"plot '{rate}' using 1:2 with lines title 'PING/PONG connects per second (all clients)'"])
        os.remove(rate)
    if held and held.get("released_cdf"):
        rel = os.path.join(out, "release.dat")
        with open(rel, "w") as f:
            for ms, frac in held["released_cdf"]:
                f.write(f"{ms:.3f} {frac:.5f}\n")
        run_gnuplot([term, f"set output '{os.path.join(out, 'release.png')}'", "set grid", "set yrange [0:1]",
                     "set xlabel 'ms after the backend listened'", "set ylabel 'fraction of held connects'",
                     f"plot '{rel}' using 1:2 with lines lw 2 title '{held['connects']} held connects: connected and a byte exchanged'"])
        os.remove(rel)


PARTS = ["exe", "jit", "gc", "native", "libs"]
PART_TITLES = {"exe": "the ax file (mapped)", "jit": "JIT code", "gc": "GC heap", "native": "native anonymous", "libs": "shared libraries"}


def run_gnuplot(lines):
    r = subprocess.run(["gnuplot"], input="\n".join(lines) + "\n", capture_output=True, text=True)
    if r.returncode != 0:
        log(f"gnuplot: {r.stderr.strip()}")


# --- report -------------------------------------------------------------------------------------------------------


def mb(kb):
    return f"{kb / 1024:.1f}"


def write_markdown(filename, meta, held, paced, growths):
    L = ["# bench/soak: load and soak (issue 10)", "",
         f"Generated by `bench/soak/run{' --quick' if meta['quick'] else ''}` on {meta['date']}, {meta['duration_s']:.0f} s in all, "
         f"{meta['cpus']} CPUs ({meta['kernel']}), load average {meta['loadavg_start']} at the start and "
         f"{meta['loadavg_end']} at the end (the machine is shared). Daemon environment: "
         f"{', '.join(f'{k}={v}' for k, v in meta['dotnet_env'].items()) or 'none set'}.", ""]
    if held:
        c, e = held["connected_ms"], held["exchanged_ms"]
        L += ["## Phase 1: held connects", "",
              f"{held['connects']:,} connects from {math.ceil(held['connects'] / THREADS_PER_CLIENT)} client processes under ax, "
              f"to a ref with no backend: all held after {held['all_held_after_s']} s (`ax_held_connects` "
              f"{held['held_gauge']:,}, the ref's held count {held['held_by_ref']:,}). Daemon CPU while holding them: "
              f"{held['hold_cpu_ms_per_s']} ms per s. Then the backend started under ax.", "",
              f"Released: {held['ok']:,} connected and exchanged a byte each way, **{held['failed']} failed**"
              + (f" ({held['errors']})" if held["errors"] else "") + f"; the daemon counted {held['daemon_released']:,} allowed.", "",
              "| ms after the backend's listen(2) | min | p50 | p90 | p99 | max |", "|---|---|---|---|---|---|",
              f"| connect(2) returned | {c['min']:.1f} | {c['p50']:.1f} | {c['p90']:.1f} | {c['p99']:.1f} | {c['max']:.1f} |",
              f"| one byte each way | {e['min']:.1f} | {e['p50']:.1f} | {e['p90']:.1f} | {e['p99']:.1f} | {e['max']:.1f} |", "",
              "| daemon | before | all held (peak) | after |", "|---|---|---|---|",
              f"| VmRSS, MB | {mb(held['before']['rss_kb'])} | {mb(held['peak']['rss_kb'])} | {mb(held['after']['rss_kb'])} |",
              f"| fds | {held['before']['fds']} | {held['peak']['fds']} | {held['after']['fds']} |",
              f"| threads | {held['before']['threads']} | {held['peak']['threads']} | {held['after']['threads']} |", "",
              f"After: {held['held_after']} held, {held['apps_after']} applications registered.", ""]
    if paced:
        dc = paced["daemon_counted"]
        L += ["## Phase 2: paced connects", "",
              f"{paced['per_minute']:,} connects a minute for {paced['minutes']} min to redis under ax, half through a TCP "
              f"ref and half through a Unix-switched ref, from {paced['client_processes']} client processes under ax "
              f"({PACED_CLIENTS} at a time, each replaced after {GENERATION_S} s). Each connect: PING, +PONG, close.", "",
              f"- planned {paced['planned']:,}, **ok {paced['ok']:,}, failed {paced['failed']}**"
              + (f" ({paced['errors']})" if paced["errors"] else "") + f"; achieved {paced['achieved_per_minute']:,} a minute;",
              f"- the daemon counted, allowed/refused: TCP ref {dc['soak-tcp']['allowed']:,}/{dc['soak-tcp']['refused']}, "
              f"Unix ref {dc['soak-unix']['allowed']:,}/{dc['soak-unix']['refused']};",
              f"- connect(2) µs: median of the clients' p50 {paced['connect_us']['p50_median']}, worst client p99 "
              f"{paced['connect_us']['p99_max']}, max {paced['connect_us']['max']}; whole PING exchange: p50 "
              f"{paced['exchange_us']['p50_median']}, worst p99 {paced['exchange_us']['p99_max']};",
              f"- largest lag behind the schedule: {paced['lag_max_s']} s;",
              f"- applications registered before {paced['apps_before']}, after {paced['apps_after']}.", ""]
    L += ["## Daemon memory, fds and threads", "",
          "Means over the first and the last minute of each phase (halves when a phase is shorter than two minutes).", "",
          "| phase | seconds | VmRSS MB first → last | RssAnon MB first → last | fds first → last | threads first → last | max RSS MB | max fds |",
          "|---|---|---|---|---|---|---|---|"]
    for phase, g in growths.items():
        if g:
            L.append(f"| {phase} | {g['seconds']} | {mb(g['rss_kb']['first'])} → {mb(g['rss_kb']['last'])} | "
                     f"{mb(g['anon_kb']['first'])} → {mb(g['anon_kb']['last'])} | {g['fds']['first']:.0f} → {g['fds']['last']:.0f} | "
                     f"{g['threads']['first']:.0f} → {g['threads']['last']:.0f} | {mb(g['rss_max_kb'])} | {g['fds_max']} |")
    L += ["", "Resident memory by kind (`/proc/PID/smaps`, every 10 s; means over the same windows), MB:", "",
          "| phase, window | " + " | ".join(PART_TITLES[k] for k in PARTS) + " |", "|---" * (len(PARTS) + 1) + "|"]
    for phase, g in growths.items():
        for window in ("first", "last"):
            p = (g or {}).get(f"parts_{window}")
            if p:
                L.append(f"| {phase}, {window} | " + " | ".join(mb(p[k]) for k in PARTS) + " |")
    L += ["", f"At the end: {mb(meta['end']['rss_kb'])} MB VmRSS ({mb(meta['end']['anon_kb'])} anonymous), "
          f"{meta['end']['fds']} fds, {meta['end']['threads']} threads.", "",
          "![RSS](rss.png)", "", "![RSS by kind](rss-parts.png)", "", "![fds](fds.png)", "", "![threads](threads.png)", ""]
    if held:
        L += ["![release](release.png)", ""]
    if paced:
        L += ["![rate](rate.png)", ""]
    with open(filename, "w") as f:
        f.write("\n".join(L))
    return "\n".join(L)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ax", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--held", type=int)
    ap.add_argument("--hold-seconds", type=int, default=10)
    ap.add_argument("--per-minute", type=int, default=50000)
    ap.add_argument("--minutes", type=int)
    ap.add_argument("--started", type=float, default=time.time())
    args = ap.parse_args()
    held_n = args.held if args.held is not None else (2000 if args.quick else 10000)
    minutes = args.minutes if args.minutes is not None else (1 if args.quick else 10)
    if held_n < 0 or minutes < 0 or args.per_minute < PACED_CLIENTS or args.hold_seconds < 1:
        sys.exit("bench/soak: --held and --minutes must be ≥ 0, --per-minute ≥ 4, --hold-seconds ≥ 1")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGHUP, lambda *_: sys.exit(129))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(130))
    os.makedirs(args.out, exist_ok=True)
    loadavg_start = loadavg()
    work = tempfile.mkdtemp(prefix="ax-soak-")
    bench = Soak(args.ax, None, work)
    held = paced = None
    sampler = None
    try:
        bench.start_daemon()
        sampler = Sampler(bench.daemon_pid, time.monotonic(), os.path.realpath(args.ax))
        sampler.start()
        time.sleep(3)
        log(f"daemon up in {work}: {snapshot(bench)}; load average {loadavg_start}")
        if held_n:
            held = held_phase(bench, sampler, held_n, args.hold_seconds)
        if minutes:
            paced = paced_phase(bench, sampler, args.per_minute, minutes)
        end = snapshot(bench)
    finally:
        if sampler:
            sampler.stopping.set()
            sampler.join()
        bench.procs.stop_all()
        if os.environ.get("KEEP_WORK") == "1":
            log(f"bench/soak: logs kept in {work}")
        else:
            subprocess.run(["rm", "-rf", work])

    samples = sampler.samples
    growths = {"held": growth(samples, "held"), "paced": growth(samples, "paced"),
               "whole run": growth([dict(s, phase="all") for s in samples], "all")}
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "quick": args.quick,
            "duration_s": time.time() - args.started, "loadavg_start": loadavg_start, "loadavg_end": loadavg(),
            "cpus": os.cpu_count(), "kernel": f"Linux {platform.release()}", "end": end,
            "dotnet_env": {k: v for k, v in os.environ.items() if k.startswith("DOTNET_gc") or k.startswith("DOTNET_GC")}}
    failed = (held or {}).get("failed", 0) + (paced or {}).get("failed", 0)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"meta": meta, "held": held, "paced": paced, "growth": growths, "samples": samples}, f)
    plot(args.out, samples, held, paced)
    print(write_markdown(os.path.join(args.out, "results.md"), meta, held, paced, growths))
    log(f"bench/soak: {meta['duration_s']:.0f} s; results in {args.out}/results.md")
    if failed:
        sys.exit(f"bench/soak: {failed} connects failed")


if __name__ == "__main__":
    try:
        main()
    except Failure as e:
        sys.exit(f"bench/soak: {e}")
