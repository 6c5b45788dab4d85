#!/usr/bin/env python3
"""bench/run's harness (issue 8): every path against every workload, side by side, in interleaved rounds.

Started by bench/run, which installs the tools, publishes ax and compiles the C clients. Sizes (environment; the
QUICK=1 value in brackets):
  ROUNDS=5 [1]          interleaved rounds; every round runs every workload on every path that applies
  REDIS_N1=5000 [2000]  requests per redis-benchmark run at -c 1;  REDIS_N50=50000 [15000] at -c 50
  MEMC_SECONDS=2 [1]    seconds per memcaslap run (-T 1 -c 16)
  H2_N=10000 [3000]     requests per h2load run (-c 100 -m 1)
  H2_RPS=20 [20]        requests a second per client in the fixed-rate h2load run (100 clients: 2,000/s in all)
  H2_RATE_N=6000 [1000] requests per fixed-rate h2load run
  CONNECT_N=5000 [1000] connects per connect_bench run
  HELD_SAMPLES=2 [1]    held connects per path per round
  UDP_N=10000 [2000]    datagram round trips per udp_bench run
Every address is on loopback; the VIPs are 127.96.88.0/24 (refs) and 127.96.89.0/24 (chain mesh services).
"""
import argparse
import http.client
import json
import os
import platform
import re
import select
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

QUICK = os.environ.get("QUICK") == "1"


def knob(name, default, quick):
    value = os.environ.get(name)
    if value is None:
        return quick if QUICK else default
    if not value.isdigit() or int(value) < 1:
        sys.exit(f"bench/run: {name}={value!r}: expected a positive integer")
    return int(value)


ROUNDS = knob("ROUNDS", 5, 1)
REDIS_N1 = knob("REDIS_N1", 5000, 2000)
REDIS_N50 = knob("REDIS_N50", 50000, 15000)
MEMC_SECONDS = knob("MEMC_SECONDS", 2, 1)
H2_N = knob("H2_N", 10000, 3000)
H2_RPS = knob("H2_RPS", 20, 20)
H2_RATE_N = knob("H2_RATE_N", 6000, 1000)
CONNECT_N = knob("CONNECT_N", 5000, 1000)
HELD_SAMPLES = knob("HELD_SAMPLES", 2, 1)
UDP_N = knob("UDP_N", 10000, 2000)

HZ = os.sysconf("SC_CLK_TCK")
HERE = os.path.dirname(os.path.abspath(__file__))

PATHS = ["direct", "fast", "unix", "sidecar", "chain", "direct-unix"]
PATH_TITLES = {
    "direct": "direct (127.0.0.1)",
    "fast": "ax fast path (TCP, --no-unix)",
    "unix": "ax Unix switch",
    "sidecar": "two HAProxy (sidecar shape)",
    "chain": "ax chain via one HAProxy",
    "direct-unix": "redis-benchmark -s (reference)",
}
UNDER_AX = {"fast", "unix", "chain"}


def log(*args):
    print(*args, file=sys.stderr, flush=True)


class Failure(Exception):
    pass


# --- processes ------------------------------------------------------------------------------------------------------


class Processes:
    """Everything the harness starts, each in a session of its own so that a whole `ax run` tree stops together."""

    def __init__(self, work):
        self.work = work
        self.apps = []
        self.daemon = None

    def start(self, name, argv, daemon=False):
        out = open(os.path.join(self.work, f"{name}.log"), "w")
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        out.close()
        if daemon:
            self.daemon = p
        else:
            self.apps.append((name, p))
        return p

    def logtail(self, name, lines=15):
        try:
            with open(os.path.join(self.work, f"{name}.log")) as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    @staticmethod
    def _stop(procs):
        for p in procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 5
        for p in procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()

    def stop_all(self):
        # The applications first, then the daemon they are trapped by.
        self._stop([p for _, p in reversed(self.apps)])
        self.apps = []
        if self.daemon is not None:
            self._stop([self.daemon])
            self.daemon = None


class UnixHttp(http.client.HTTPConnection):
    """HTTP to the daemon's API socket."""

    def __init__(self, sock_path):
        super().__init__("localhost", timeout=10)
        self.sock_path = sock_path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(self.sock_path)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- /proc ----------------------------------------------------------------------------------------------------------


def system_ticks():
    """(busy, total) jiffies of all CPUs from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # guest time is already in user
    return total - idle, total


def process_ticks(pid):
    """utime + stime of a process (all its threads, dead ones included), in jiffies; 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return 0
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def process_ns(pid):
    """CPU time of a process's live threads in ns (/proc/PID/task/*/schedstat): finer than the 10 ms ticks of stat,
    for short windows in which no thread of it ends."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def find_pids(comm, needle):
    """Processes named comm whose command line contains needle (the ax run child of a process the harness started)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as f:
                if f.read().strip() != comm:
                    continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if needle.encode() in f.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


# --- the bench --------------------------------------------------------------------------------------------------------


class Bench:
    def __init__(self, ax, tools, work):
        self.ax = ax
        self.tools = tools
        self.work = work
        self.procs = Processes(work)
        self.api = os.path.join(work, "ax.sock")
        os.environ["AX_API"] = self.api
        self.targets = {}  # server -> {path: (host, port)}
        self.haproxy = {"sidecar": [], "chain": []}
        # The gate: a client under test writes to `ready` once it exists (under ax, after ax run's start-up), and
        # waits on `go`. The CPU counters are read between the two, so that start-up costs are not counted.
        self.ready = os.path.join(work, "ready")
        self.go = os.path.join(work, "go")
        os.mkfifo(self.ready)
        os.mkfifo(self.go)
        # Both ends held open read-write by the harness: opening them never blocks, and no EOF is ever seen.
        self.ready_fd = os.open(self.ready, os.O_RDWR | os.O_NONBLOCK)
        self.go_fd = os.open(self.go, os.O_RDWR | os.O_NONBLOCK)

    # -- ax ------------------------------------------------------------------------------------------------------------

    def axc(self, *args, check=True):
        r = subprocess.run([self.ax, *args], capture_output=True, text=True)
        if check and r.returncode != 0:
            raise Failure(f"ax {' '.join(args)}: exit {r.returncode}: {r.stderr.strip() or r.stdout.strip()}")
        return r.stdout

    def api_post(self, path, body):
        r = subprocess.run(["curl", "-sS", "--unix-socket", self.api, "-X", "POST", "-H", "content-type: application/json",
                            "-w", "\n%{http_code}", f"http://ax{path}", "--data", json.dumps(body)], capture_output=True, text=True)
        status = r.stdout.rsplit("\n", 1)[-1]
        if r.returncode != 0 or status != "200":
            raise Failure(f"POST {path}: {status} {r.stdout.strip()} {r.stderr.strip()}")

    def api_get(self, path):
        """GET on the daemon's API over its Unix socket, without the start-up of an ax CLI process."""
        c = UnixHttp(self.api)
        try:
            c.request("GET", path)
            r = c.getresponse()
            body = r.read()
            if r.status != 200:
                raise Failure(f"GET {path}: {r.status} {body[:200]!r}")
            data = json.loads(body)
            return data if isinstance(data, list) else data.get("items", data)
        except (OSError, ValueError) as e:
            raise Failure(f"GET {path}: {e}")
        finally:
            c.close()

    def switched(self, app_name):
        """Connections the daemon switched to Unix socket pairs for the server under ax named app_name."""
        return sum(s.get("switched", 0) for s in self.api_get("/v1/services")
                   if s.get("appName") == app_name and s.get("labels", {}).get("app", "").startswith("bench8-"))

    def has_service(self, port):
        return f':{port}"' in self.axc("get", "services", "-o", "json")

    def wait_service(self, port, name, proc, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.has_service(port):
                return
            if proc.poll() is not None:
                raise Failure(f"{name} exited with {proc.returncode}:\n{self.procs.logtail(name)}")
            time.sleep(0.05)
        raise Failure(f"{name}: no service on port {port} after {timeout} s:\n{self.procs.logtail(name)}")

    def under_ax(self, name, labels, argv):
        return self.procs.start(name, [self.ax, "run", "--labels", labels, "--", *argv])

    # -- set-up --------------------------------------------------------------------------------------------------------

    def start_servers(self, under_ax):
        """redis, memcached, nginx (h2c), connect_bench's and udp_bench's servers; returns their ports."""
        w, tag = self.work, "ax" if under_ax else "plain"
        ports = {name: free_port() for name in ("redis", "memcached", "nginx", "accept", "udp")}
        root = ["-u", "root"] if os.geteuid() == 0 else []
        nginx_conf = os.path.join(w, f"nginx-{tag}.conf")
        os.makedirs(os.path.join(w, f"nginx-{tag}"))
        with open(nginx_conf, "w") as f:
            f.write(f"""daemon off;
master_process off;
worker_processes 1;
error_log {w}/nginx-{tag}-error.log warn;
pid {w}/nginx-{tag}.pid;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {w}/nginx-{tag}/body;
    proxy_temp_path {w}/nginx-{tag}/proxy;
    fastcgi_temp_path {w}/nginx-{tag}/fastcgi;
    uwsgi_temp_path {w}/nginx-{tag}/uwsgi;
    scgi_temp_path {w}/nginx-{tag}/scgi;
    keepalive_requests 1000000;
    server {{
        # Cleartext HTTP/2 with prior knowledge (h2c): the shape of gRPC without TLS.
        listen 127.0.0.1:{ports['nginx']} http2;
        location / {{ return 200 "hello from nginx\\n"; }}
    }}
}}
""")
        servers = {
            "redis": ["redis-server", "--port", str(ports["redis"]), "--bind", "127.0.0.1", "--unixsocket",
                      os.path.join(w, f"redis-{tag}.sock"), "--unixsocketperm", "700", "--save", "", "--appendonly", "no"],
            "memcached": ["memcached", *root, "-l", "127.0.0.1", "-p", str(ports["memcached"]), "-t", "1", "-c", "4096"],
            "nginx": ["nginx", "-p", w, "-c", nginx_conf],
            "accept": [os.path.join(self.tools, "connect_bench"), "server", str(ports["accept"])],
            "udp": [os.path.join(self.tools, "udp_bench"), "server", str(ports["udp"])],
        }
        for name, argv in servers.items():
            if under_ax:
                p = self.under_ax(f"{name}-ax", f"app=bench8-{name}", argv)
            else:
                p = self.procs.start(f"{name}-plain", argv)
            if name == "udp":
                time.sleep(0.3)
                if p.poll() is not None:
                    raise Failure(f"udp server exited:\n{self.procs.logtail(f'udp-{tag}')}")
            elif under_ax:
                self.wait_service(ports[name], f"{name}-ax", p)
            else:
                self.wait_port(ports[name])
        return ports

    def launch_daemon(self, flags, timeout=30.0):
        """Starts `ax daemon` on this bench's API socket with FLAGS and waits for its sockets; keeps its pid."""
        daemon = self.procs.start("daemon", [self.ax, "daemon", "--api", self.api, "--keeper-linger", "0s", *flags], daemon=True)
        for _ in range(int(timeout / 0.05)):
            if os.path.exists(self.api) and os.path.exists(self.api + ".launch"):
                break
            if daemon.poll() is not None:
                raise Failure(f"ax daemon exited with {daemon.returncode}:\n{self.procs.logtail('daemon')}")
            time.sleep(0.05)
        else:
            raise Failure(f"ax daemon: no API socket after {timeout:.0f} s")
        self.daemon_pid = daemon.pid

    def setup(self):
        w = self.work
        self.chain_port = free_port()
        self.launch_daemon(["--envoy", f"127.0.0.1:{self.chain_port}"], timeout=20.0)

        # Two of each server: one under ax (the ax paths; a Unix switch needs both ends under ax) and one without
        # (direct and the two proxies: the world without ax, where nothing traps the server's accept either).
        ports, plain = self.start_servers(under_ax=True), self.start_servers(under_ax=False)
        self.redis_sock = os.path.join(w, "redis-plain.sock")
        servers = ["redis", "memcached", "nginx", "accept"]

        # Refs: one TCP (--no-unix) and one that may switch to a Unix socket pair, per server.
        vport = {"redis": 6379, "memcached": 11211, "nginx": 80, "accept": 9000}
        for i, name in enumerate(servers, start=1):
            self.axc("create", "ref", f"bench8-{name}-tcp", "--vip", f"127.96.88.{i}:{vport[name]}", "--selector", f"app=bench8-{name}", "--no-unix")
            self.axc("create", "ref", f"bench8-{name}-unix", "--vip", f"127.96.88.{20 + i}:{vport[name]}", "--selector", f"app=bench8-{name}")
        self.axc("create", "ref", "bench8-udp", "--vip", "127.96.88.40:9", "--selector", "app=bench8-udp", "--no-unix")
        self.held_port = free_port()
        self.axc("create", "ref", "bench8-held-tcp", "--vip", "127.96.88.50:7000", "--selector", "app=bench8-held", "--no-unix")
        self.axc("create", "ref", "bench8-held-unix", "--vip", "127.96.88.51:7000", "--selector", "app=bench8-held")

        # Chain: mesh services in mode chain, as the xds-agent would push them for a service with an L7 policy.
        clusters, services = [], []
        for i, name in enumerate(servers, start=1):
            clusters.append({"name": f"outbound|{vport[name]}||bench8-{name}", "connectTimeout": "5s",
                             "endpoints": [{"address": "127.0.0.1", "port": ports[name]}]})
            services.append({"key": f"127.96.89.{i}:{vport[name]}", "vip": f"127.96.89.{i}:{vport[name]}", "mode": "chain",
                             "reasons": ["header_mutation"], "dnsNames": [f"bench8-{name}.default.svc.cluster.local"],
                             "clusters": [{"name": f"outbound|{vport[name]}||bench8-{name}"}]})
        self.api_post("/v1/mesh", {"version": "bench8", "clusters": clusters, "services": services})

        # The chained proxy, under ax (its own connects to the VIPs are then redirected, not chained again).
        preamble = """global
    maxconn 8000
    nbthread 2
defaults
    mode tcp
    timeout connect 5s
    timeout client 5m
    timeout server 5m
"""
        chain_cfg = os.path.join(w, "haproxy-chain.cfg")
        with open(chain_cfg, "w") as f:
            f.write(preamble + f"""frontend chained
    bind 127.0.0.1:{self.chain_port} accept-proxy
    default_backend original_destination
backend original_destination
    # 0.0.0.0:0: the destination the PROXY header named, the VIP; ax redirects HAProxy's connect to the endpoint.
    server s 0.0.0.0:0
""")
        p = self.under_ax("haproxy-chain", "app=bench8-chain-proxy", ["haproxy", "-db", "-f", chain_cfg])
        self.wait_service(self.chain_port, "haproxy-chain", p)
        self.haproxy["chain"] = find_pids("haproxy", chain_cfg)

        # The sidecar shape: a client-side proxy and a server-side proxy, neither under ax.
        client_side, server_side = preamble, preamble
        sidecar_ports = {}
        for name in servers:
            c, s = free_port(), free_port()
            sidecar_ports[name] = c
            client_side += f"listen out_{name}\n    bind 127.0.0.1:{c}\n    server s 127.0.0.1:{s}\n"
            server_side += f"listen in_{name}\n    bind 127.0.0.1:{s}\n    server s 127.0.0.1:{plain[name]}\n"
        for side, text in (("server", server_side), ("client", client_side)):
            cfg = os.path.join(w, f"haproxy-{side}.cfg")
            with open(cfg, "w") as f:
                f.write(text)
            p = self.procs.start(f"haproxy-{side}", ["haproxy", "-db", "-f", cfg])
            self.haproxy["sidecar"].append(p.pid)
        for name in servers:
            self.wait_port(sidecar_ports[name])

        for i, name in enumerate(servers, start=1):
            self.targets[name] = {
                "direct": ("127.0.0.1", plain[name]),
                "fast": (f"127.96.88.{i}", vport[name]),
                "unix": (f"127.96.88.{20 + i}", vport[name]),
                "sidecar": ("127.0.0.1", sidecar_ports[name]),
                "chain": (f"127.96.89.{i}", vport[name]),
            }
        self.targets["udp"] = {"direct": ("127.0.0.1", plain["udp"]), "fast": ("127.96.88.40", 9)}

    def evidence(self):
        """What the daemon counted, to show that each ax path took the way it names: connections switched to Unix
        socket pairs per server, and the chained proxy's own connects that ax redirected to the servers."""
        def get(kind):
            try:
                data = json.loads(self.axc("get", kind, "-o", "json"))
            except (Failure, ValueError):
                return []
            return data if isinstance(data, list) else data.get("items", [])
        switched = {s.get("appName", "?"): s.get("switched", 0) for s in get("services") if s.get("switched")}
        proxy = [a.get("connects", {}) for a in get("apps") if a.get("labels", {}).get("app") == "bench8-chain-proxy"]
        return {"switched_by_server": switched, "chain_proxy_connects": proxy[0] if proxy else None}

    def wait_port(self, port, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.05)
        raise Failure(f"nothing listens on 127.0.0.1:{port} after {timeout} s")

    # -- one measured run ---------------------------------------------------------------------------------------------

    def drain(self):
        for fd in (self.ready_fd, self.go_fd):
            try:
                while os.read(fd, 4096):
                    pass
            except BlockingIOError:
                pass

    def measured(self, path, argv, timeout=180):
        """Runs argv (under ax on the ax paths) and returns (output, cpu ticks of the system, daemon, haproxy)."""
        self.drain()
        gate = ["sh", "-c", 'echo r >"$1"; read x <"$2"; shift 2; exec "$@"', "gate", self.ready, self.go, *argv]
        cmd = [self.ax, "run", "--", *gate] if path in UNDER_AX else gate
        out = tempfile.TemporaryFile(mode="w+")
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = time.monotonic() + 30
            while True:
                r, _, _ = select.select([self.ready_fd], [], [], 0.1)
                if r:
                    os.read(self.ready_fd, 64)
                    break
                if p.poll() is not None or time.monotonic() > deadline:
                    out.seek(0)
                    raise Failure(f"{' '.join(cmd)}: did not start: {out.read()[-500:]}")
            proxies = self.haproxy.get(path, [])
            s0, d0, h0 = system_ticks(), process_ticks(self.daemon_pid), sum(process_ticks(x) for x in proxies)
            os.write(self.go_fd, b"g\n")
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                raise Failure(f"{' '.join(argv)}: still running after {timeout} s")
            s1, d1, h1 = system_ticks(), process_ticks(self.daemon_pid), sum(process_ticks(x) for x in proxies)
            out.seek(0)
            text = out.read()
            if p.returncode != 0:
                raise Failure(f"{' '.join(argv)}: exit {p.returncode}: {text.strip()[-500:]}")
            cpu = {"system": s1[0] - s0[0], "daemon": d1 - d0, "haproxy": (h1 - h0) if proxies else None}
            return text, cpu
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
            out.close()


# --- workloads ----------------------------------------------------------------------------------------------------------


def redis_workload(test, clients, n):
    def argv(bench, path):
        if path == "direct-unix":
            where = ["-s", bench.redis_sock]
        else:
            host, port = bench.targets["redis"][path]
            where = ["-h", host, "-p", str(port)]
        return ["redis-benchmark", *where, "-t", test, "-n", str(n), "-c", str(clients), "--csv"]

    def parse(text):
        for row in text.splitlines():
            cells = [c.strip('"') for c in row.strip().split('","')]
            if cells and cells[0] == test.upper():
                rps, avg, _, p50, p95, p99 = (float(x) for x in cells[1:7])
                return {"requests": n, "throughput": rps, "mean": avg * 1000, "p50": p50 * 1000, "p95": p95 * 1000,
                        "p99": p99 * 1000}
        raise Failure(f"no {test.upper()} line in redis-benchmark's output: {text[-300:]}")

    return {"name": f"redis-{test}-c{clients}", "title": f"redis-benchmark {test.upper()} -c {clients}", "server": "redis-server",
            "connections": f"{clients} (+1 for CONFIG GET)",
            "paths": ["direct", "fast", "unix", "sidecar", "chain", "direct-unix"], "argv": argv, "parse": parse,
            "unit": "requests/s", "source": "redis-benchmark --csv: rps, avg, p50, p95, p99 (it reports no p90)"}


def memcached_workload():
    def argv(bench, path):
        host, port = bench.targets["memcached"][path]
        t = f"{MEMC_SECONDS}s"
        return ["memcaslap", "-s", f"{host}:{port}", "-T", "1", "-c", "16", "-t", t, "-S", t]

    def parse(text):
        m = re.search(r"Run time: [\d.]+s Ops: (\d+) TPS: (\d+)", text)
        avg = re.search(r"Total Statistics.*?Avg:\s+([\d.]+)", text, re.S)
        if not m or not avg:
            raise Failure(f"memcaslap's output has no totals: {text[-300:]}")
        return {"requests": int(m.group(1)), "throughput": float(m.group(2)), "mean": float(avg.group(1))}

    return {"name": "memcached", "title": "memcaslap -T 1 -c 16 (90% get, 10% set)", "server": "memcached", "connections": "16",
            "paths": ["direct", "fast", "unix", "sidecar", "chain"], "argv": argv, "parse": parse, "unit": "ops/s",
            "source": "memcaslap: TPS and the mean of its Total Statistics (its percentiles are a log2 histogram only)"}


def h2load_workload(rps=None):
    """Closed loop (rps None): as fast as the path goes, for throughput. With rps: each of the 100 clients sends rps
    requests a second, a fixed load below every path's saturation, so that the latency is the path's and not a queue's
    (the shape of the seed's gRPC figure, p50 at 100 connections)."""
    n = H2_RATE_N if rps else H2_N

    def argv(bench, path):
        host, port = bench.targets["nginx"][path]
        bench.h2log = os.path.join(bench.work, "h2load.log")
        if os.path.exists(bench.h2log):
            os.remove(bench.h2log)  # each run's percentiles from its own requests only
        rate = ["--rps", str(rps)] if rps else []
        return ["h2load", "-c", "100", "-m", "1", "-n", str(n), *rate, "--log-file", bench.h2log, f"http://{host}:{port}/"]

    return {"name": "h2load-rate" if rps else "h2load",
            "title": f"h2load -c 100 -m 1 --rps {rps} ({100 * rps} requests/s in all), nginx h2c" if rps else "h2load -c 100 -m 1, nginx h2c",
            "server": "nginx", "connections": "100", "paths": ["direct", "fast", "unix", "sidecar", "chain"],
            "argv": argv, "parse": lambda bench, text: parse_h2load(bench, text, n), "unit": "requests/s",
            "source": "h2load: req/s; p50/p90/p99 computed from its --log-file (per-request response time)"}


def parse_h2load(bench, text, n):
    m = re.search(r"finished in [\d.]+[mu]?s, ([\d.]+) req/s", text)
    ok = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded", text)
    if not m or not ok:
        raise Failure(f"h2load's output has no totals: {text[-300:]}")
    if int(ok.group(1)) != n:
        raise Failure(f"h2load: {ok.group(1)} of {n} requests succeeded: {text[-300:]}")
    times = []
    with open(bench.h2log) as f:
        for line in f:
            cells = line.split()
            if len(cells) >= 3:
                times.append(int(cells[2]))
    times.sort()
    return {"requests": n, "throughput": float(m.group(1)), "mean": sum(times) / len(times), **percentiles(times)}


def connect_workload():
    def argv(bench, path):
        host, port = bench.targets["accept"][path]
        return [os.path.join(bench.tools, "connect_bench"), "client", host, str(port), str(CONNECT_N)]

    def parse(text):
        kv = {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", text)}
        if "p50" not in kv:
            raise Failure(f"connect_bench: {text[-300:]}")
        return {"requests": CONNECT_N, "throughput": kv["connects_per_s"], "p50": kv["p50"], "p90": kv["p90"], "p99": kv["p99"]}

    return {"name": "connect", "title": "connect(2), one at a time", "server": "connect_bench", "connections": f"{CONNECT_N}", "paths": ["direct", "fast", "unix", "sidecar", "chain"],
            "argv": argv, "parse": parse, "unit": "connects/s",
            "source": "bench/connect_bench.c: only connect(2) is timed; sidecar: connect completes at the client-side proxy"}


def udp_workload(mode):
    def argv(bench, path):
        host, port = bench.targets["udp"][path]
        return [os.path.join(bench.tools, "udp_bench"), mode, host, str(port), str(UDP_N)]

    def parse(text):
        try:
            mean = float(text.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise Failure(f"udp_bench: {text[-300:]}")
        return {"requests": UDP_N, "throughput": 1e6 / mean, "mean": mean}

    name = "udp" if mode == "connected" else "udp-sendto"
    title = "UDP 32-byte round trip, connected" if mode == "connected" else "UDP 32-byte round trip, sendto/recvfrom"
    return {"name": name, "title": title, "paths": ["direct", "fast"], "argv": argv, "parse": parse, "unit": "round trips/s",
            "source": "bench/udp/udp_bench.c: mean round trip (it reports no percentiles); throughput = 1/mean"}


def percentiles(sorted_values):
    n = len(sorted_values)
    return {f"p{q}": float(sorted_values[min(n - 1, n * q // 100)]) for q in (50, 90, 99)}


def held_sample(bench, path):
    """One held connect: the client connects to a ref with no service; then the service starts. Returns the µs from the
    server's listen(2) to the client's connect(2) returning, and the daemon's CPU ticks while it held the connect."""
    vip = "127.96.88.50" if path == "fast" else "127.96.88.51"
    client = subprocess.Popen([bench.ax, "run", "--", "python3", os.path.join(HERE, "held_client.py"), vip, "7000"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    server = None
    try:
        line = client.stdout.readline()
        if not line.startswith("connecting"):
            raise Failure(f"held client: {line}{client.stdout.read()}")
        time.sleep(0.2)  # the connect is parked in the daemon by now
        d0, t0 = process_ns(bench.daemon_pid), time.monotonic()
        time.sleep(0.3)
        d1, t1 = process_ns(bench.daemon_pid), time.monotonic()
        server = subprocess.Popen([bench.ax, "run", "--labels", "app=bench8-held", "--", "python3",
                                   os.path.join(HERE, "held_server.py"), str(bench.held_port)],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        cout, _ = client.communicate(timeout=30)
        sout, _ = server.communicate(timeout=30)
        c = re.search(r"connected (\d+)", cout)
        s = re.search(r"listen (\d+)", sout)
        if client.returncode != 0 or not c or not s:
            raise Failure(f"held connect: client exit {client.returncode}: {cout.strip()[-300:]}; server: {sout.strip()[-300:]}")
        # The next sample must find no service again.
        deadline = time.monotonic() + 10
        while bench.has_service(bench.held_port) and time.monotonic() < deadline:
            time.sleep(0.05)
        return (int(c.group(1)) - int(s.group(1))) / 1000, d1 - d0, t1 - t0
    finally:
        for p in (client, server):
            if p is not None and p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


# --- statistics and reports ---------------------------------------------------------------------------------------------

LATENCIES = ("p50", "p90", "p95", "p99", "mean")


def summarize(workloads, raw):
    """Medians over rounds, and each path's ratio to direct: the median of the per-round ratios (paired by round)."""
    summary = {}
    for w in workloads:
        name = w["name"]
        rows = {}
        for path in PATHS:
            runs = raw[name].get(path)
            if path not in w["paths"] or runs is None:
                continue
            good = [r for r in runs if "error" not in r]
            entry = {"rounds": len(good), "errors": [r["error"] for r in runs if "error" in r]}
            if good:
                keys = [k for k in ("throughput", *LATENCIES, "system_us", "daemon_us", "haproxy_us", "switched") if all(r.get(k) is not None for r in good)]
                for k in keys:
                    entry[k] = statistics.median(r[k] for r in good)
            rows[path] = entry
        direct = raw[name].get("direct", [])
        for path, entry in rows.items():
            if path == "direct" or not direct:
                continue
            ratios = {}
            for k in ("throughput", *LATENCIES):
                pairs = [(r[k], d[k]) for r, d in zip(raw[name][path], direct)
                         if "error" not in r and "error" not in d and r.get(k) is not None and d.get(k)]
                if pairs:
                    ratios[k] = statistics.median(a / b for a, b in pairs)
                    if k in LATENCIES:
                        entry.setdefault("added", {})[k] = statistics.median(a - b for a, b in pairs)
            entry["ratio"] = ratios
        summary[name] = rows
    return summary


def fmt(value, digits=1):
    if value is None:
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def targets(summary):
    out = []
    for name in ("redis-set-c1", "redis-get-c1", "redis-set-c50", "redis-get-c50", "memcached", "h2load"):
        fast = summary.get(name, {}).get("fast", {}).get("ratio", {})
        if "throughput" in fast:
            lat = "p50" if "p50" in fast else "mean"
            t, l = fast["throughput"], fast.get(lat)
            met = t >= 0.97 and (l is None or l <= 1.03)
            out.append({"what": f"{name}: fast path throughput and {lat}, vs direct", "target": "within 3%",
                        "measured": f"throughput ×{t:.3f}, {lat} ×{fmt(l, 3)}", "met": met})
    for name in ("h2load-rate", "h2load"):
        h2 = summary.get(name, {})
        if "added" in h2.get("fast", {}) and "added" in h2.get("sidecar", {}):
            a_fast, a_side = h2["fast"]["added"]["p50"], h2["sidecar"]["added"]["p50"]
            if a_side <= 0:
                verdict, met = ": the two proxies add nothing measurable either (the client's queue dominates)", None
            elif a_fast <= 0:
                verdict, met = ": the fast path adds nothing measurable", True
            else:
                verdict, met = f": {a_side / a_fast:.1f}× lower", a_side / a_fast >= 5
            out.append({"what": f"{name} -c 100: added p50, fast path vs two proxies", "target": "≥ 5× lower",
                        "measured": f"fast {a_fast:+.0f} µs, two proxies {a_side:+.0f} µs{verdict}", "met": met})
    c = summary.get("connect", {}).get("fast", {}).get("added", {})
    if "p50" in c:
        out.append({"what": "added connect p50 (fast path)", "target": "≤ 30 µs", "measured": f"{c['p50']:+.1f} µs", "met": c["p50"] <= 30})
    for name in ("redis-get-c50", "redis-set-c50", "redis-get-c1", "redis-set-c1"):
        r = summary.get(name, {})
        if "throughput" in r.get("unix", {}) and "throughput" in r.get("fast", {}) and "ratio" in r.get("direct-unix", {}):
            switch = r["unix"]["throughput"] / r["fast"]["throughput"]
            ref = r["direct-unix"]["ratio"]["throughput"]
            out.append({"what": f"{name}: Unix switch vs ax TCP, throughput", "target": f"faster, by what -s vs -h shows (×{ref:.3f})",
                        "measured": f"×{switch:.3f}", "met": switch >= ref * 0.97})
    return out


def write_markdown(filename, meta, workloads, summary, goals):
    lines = ["# bench/run: every path side by side (issue 8)", "",
             f"Generated by `bench/run` on {meta['date']}: {meta['rounds']} interleaved rounds, {meta['duration_s']:.0f} s in all, "
             f"load average {meta['loadavg_start']} at the start and {meta['loadavg_end']} at the end, {meta['cpus']} CPUs "
             f"({meta['kernel']}). {'QUICK=1 (a smoke run: too short to trust). ' if meta['quick'] else ''}"
             "Medians over the rounds; a ratio to direct is the median of the per-round ratios. Latencies in µs. "
             "CPU per request: the whole machine's busy time (`/proc/stat`, other load included), the daemon's and the "
             "HAProxy processes' utime+stime (`/proc/PID/stat`, 10 ms ticks), over the measured run only (the client's "
             "start-up is excluded by a gate), divided by the requests. HAProxy stands in for Envoy on the sidecar and "
             "chain paths.", ""]
    lines += ["## Targets (measured, not asserted)", "", "| what | target | measured | met |", "|---|---|---|---|"]
    for g in goals:
        met = "not measurable" if g["met"] is None else "yes" if g["met"] else "**no**"
        lines.append(f"| {g['what']} | {g['target']} | {g['measured']} | {met} |")
    lines += ["", f"Daemon RSS after the run: {meta['daemon_rss_kb'] / 1024:.1f} MB (VmRSS).", ""]
    ev = meta["evidence"]
    lines += [f"The paths took their ways (the daemon's counters at the end): connections switched to Unix socket pairs "
              f"per server {json.dumps(ev['switched_by_server'])}; the chained HAProxy's own connects "
              f"{json.dumps(ev['chain_proxy_connects'])}.", "",
              "Wall time per workload, all rounds, s: " + ", ".join(f"{k} {v:.0f}" for k, v in meta["seconds_by_workload"].items()) + ".", ""]
    for w in workloads:
        rows = summary[w["name"]]
        tail = "p95" if w["name"].startswith("redis") else "p90"
        lines += [f"## {w['title']}", "", f"Source: {w['source']}. Throughput in {w['unit']}.", "",
                  f"| path | p50 | {tail} | p99 | mean | throughput | × direct | p50 × direct | sys CPU µs/req | daemon CPU µs/req | HAProxy CPU µs/req |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for path in PATHS:
            if path not in w["paths"]:
                continue
            e = rows.get(path)
            if not e or "throughput" not in e and "p50" not in e:
                errs = "; ".join(sorted(set(e["errors"])))[:300] if e else "not run"
                lines.append(f"| {PATH_TITLES[path]} | failed: {errs} |||||||||| ")
                continue
            r = e.get("ratio", {})
            lat = "p50" if "p50" in r else "mean"
            lines.append(f"| {PATH_TITLES[path]} | {fmt(e.get('p50'))} | {fmt(e.get(tail))} | {fmt(e.get('p99'))} | {fmt(e.get('mean'))} | "
                         f"{fmt(e.get('throughput'), 0)} | {fmt(r.get('throughput'), 3) if path != 'direct' else '1'} | "
                         f"{(fmt(r.get(lat), 3) + ('' if lat == 'p50' else ' (mean)')) if path != 'direct' else '1'} | "
                         f"{fmt(e.get('system_us'), 2)} | {fmt(e.get('daemon_us'), 2)} | {fmt(e.get('haproxy_us'), 2)} |")
        if "switched" in rows.get("unix", {}):
            lines.append(f"\nUnix switch path: {rows['unix']['switched']:.0f} connections switched per run (median), of "
                         f"{w['connections']} the client opened (any not switched were redirected over TCP).")
        missing = [PATH_TITLES[p] for p in PATHS[:5] if p not in w["paths"]]
        if missing:
            lines.append(f"\nn/a here: {', '.join(missing)}.")
        if any(e.get("errors") for e in rows.values()):
            for path, e in rows.items():
                for err in sorted(set(e.get("errors", []))):
                    lines.append(f"\n{PATH_TITLES[path]}: failed in a round: `{err[:300]}`")
        lines.append("")
    held = summary.get("held", {})
    if held:
        lines += ["## A held connect (dependency ordering)", "",
                  "A client under ax connects to a ref whose service does not exist yet; 0.5 s later the server starts "
                  "under ax. Latency: from just before the server's `listen(2)` to the client's `connect(2)` returning "
                  "(CLOCK_MONOTONIC in both). Daemon CPU: the daemon's threads' CPU time (`schedstat`, ns) during 0.3 s "
                  "of the hold, per second held, background work (the 2 s socket sweep) included. Direct, two proxies and chain: n/a (without ax the connect is refused).", "",
                  "| path | p50 µs | max µs | samples | daemon CPU while holding, ms per s |", "|---|---|---|---|---|"]
        for path, e in held.items():
            lines.append(f"| {PATH_TITLES[path]} | {fmt(e.get('p50'))} | {fmt(e.get('max'))} | {e.get('samples', 0)} | {fmt(e.get('daemon_hold_ms_per_s'), 2)} |"
                         + (f" failed: {'; '.join(sorted(set(e['errors'])))[:300]}" if e.get("errors") else ""))
        lines.append("")
    lines += ["## Plots", "", "![throughput ratio](throughput-ratio.png)", "", "![p50 ratio](p50-ratio.png)", ""]
    for w in workloads:
        lines.append(f"![{w['name']}](latency-{w['name']}.png)")
    lines.append("")
    with open(filename, "w") as f:
        f.write("\n".join(lines))
    return "\n".join(lines)


def plot(out, workloads, summary):
    """PNG plots by gnuplot: ratios to direct across workloads, and each workload's latencies by path."""
    paths = ["fast", "unix", "sidecar", "chain"]
    for metric, fname, ylabel in (("throughput", "throughput-ratio", "throughput / direct"), ("p50", "p50-ratio", "p50 (or mean) / direct")):
        data = os.path.join(out, f"{fname}.dat")
        with open(data, "w") as f:
            for w in workloads:
                cells = []
                for p in paths:
                    r = summary[w["name"]].get(p, {}).get("ratio", {})
                    v = r.get(metric) if metric != "p50" else r.get("p50", r.get("mean"))
                    cells.append("?" if v is None else f"{v:.4f}")
                f.write(w["name"] + " " + " ".join(cells) + "\n")
        gnuplot(out, fname, data, ylabel, len(paths), [PATH_TITLES[p] for p in paths], hline=True)
        os.remove(data)
    for w in workloads:
        tail = "p95" if w["name"].startswith("redis") else "p90"
        data = os.path.join(out, f"latency-{w['name']}.dat")
        cols = ["p50", tail, "p99", "mean"]
        with open(data, "w") as f:
            for p in PATHS:
                e = summary[w["name"]].get(p)
                if p in w["paths"] and e:
                    f.write(p + " " + " ".join("?" if e.get(c) is None else f"{e[c]:.2f}" for c in cols) + "\n")
        gnuplot(out, f"latency-{w['name']}", data, f"{w['title']}: latency, µs", len(cols), cols, hline=False)
        os.remove(data)


def gnuplot(out, name, data, ylabel, ncols, titles, hline):
    script = [
        "set terminal pngcairo size 1000,500 font 'sans,10'" if gnuplot_has("pngcairo") else "set terminal png size 1000,500",
        f"set output '{os.path.join(out, name + '.png')}'",
        "set datafile missing '?'", "set style data histograms", "set style histogram clustered gap 1",
        "set style fill solid 0.8 border -1", "set key outside right top", "set xtics rotate by -30 nomirror",
        "set grid ytics", f"set ylabel '{ylabel}'", "set yrange [0:*]",
    ]
    if hline:
        script.append("set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2 lw 1.5")
    plots = [f"'{data}' using {i + 2}:xtic(1) title '{t}'" for i, t in enumerate(titles)]
    script.append("plot " + ", ".join(plots))
    r = subprocess.run(["gnuplot"], input="\n".join(script) + "\n", capture_output=True, text=True)
    if r.returncode != 0:
        log(f"gnuplot {name}: {r.stderr.strip()}")


_terminals = None


def gnuplot_has(terminal):
    global _terminals
    if _terminals is None:
        r = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True, text=True)
        _terminals = r.stdout + r.stderr
    return terminal in _terminals


# --- main ---------------------------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ax", required=True)
    ap.add_argument("--tools", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--started", type=float, default=time.time())
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGHUP, lambda *_: sys.exit(129))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(130))
    os.makedirs(args.out, exist_ok=True)
    loadavg_start = " ".join(open("/proc/loadavg").read().split()[:3])
    work = tempfile.mkdtemp(prefix="ax-bench8-")
    bench = Bench(args.ax, args.tools, work)
    workloads = [redis_workload("set", 1, REDIS_N1), redis_workload("get", 1, REDIS_N1), redis_workload("set", 50, REDIS_N50),
                 redis_workload("get", 50, REDIS_N50), memcached_workload(), h2load_workload(), h2load_workload(H2_RPS), connect_workload(),
                 udp_workload("connected"), udp_workload("unconnected")]
    raw = {w["name"]: {} for w in workloads}
    held_raw = {"fast": [], "unix": []}
    seconds = {}  # wall time per workload, all rounds: what to shrink when the run takes too long
    try:
        bench.setup()
        log(f"set up in {work}; load average {loadavg_start}; {ROUNDS} rounds")
        # One unmeasured run of each path, so that the first round does not pay for the daemon's tiering.
        for w in (workloads[2], workloads[7]):
            for path in w["paths"]:
                try:
                    bench.measured(path, w["argv"](bench, path))
                except Failure as e:
                    log(f"warm-up {w['name']} {path}: {e}")
        for rnd in range(1, ROUNDS + 1):
            t = time.monotonic()
            for w in workloads:
                began = time.monotonic()
                for path in w["paths"]:
                    try:
                        server = w.get("server") if path == "unix" else None
                        before = bench.switched(server) if server else None
                        text, cpu = bench.measured(path, w["argv"](bench, path))
                        result = w["parse"](bench, text) if w["name"].startswith("h2load") else w["parse"](text)
                        n = result["requests"]
                        result["system_us"] = cpu["system"] / HZ * 1e6 / n
                        result["daemon_us"] = cpu["daemon"] / HZ * 1e6 / n
                        result["haproxy_us"] = None if cpu["haproxy"] is None else cpu["haproxy"] / HZ * 1e6 / n
                        if server:
                            result["switched"] = bench.switched(server) - before
                    except Failure as e:
                        result = {"error": str(e).strip().splitlines()[0][:400] if str(e).strip() else "failed"}
                        log(f"round {rnd} {w['name']} {path}: {e}")
                    raw[w["name"]].setdefault(path, []).append(result)
                seconds[w["name"]] = seconds.get(w["name"], 0) + time.monotonic() - began
            began = time.monotonic()
            for path in held_raw:
                for _ in range(HELD_SAMPLES):
                    try:
                        us, ns, held_s = held_sample(bench, path)
                        held_raw[path].append({"us": us, "daemon_ms": ns / 1e6, "seconds": held_s})
                    except Failure as e:
                        held_raw[path].append({"error": str(e).strip()[:400]})
                        log(f"round {rnd} held {path}: {e}")
            seconds["held"] = seconds.get("held", 0) + time.monotonic() - began
            log(f"round {rnd}/{ROUNDS}: {time.monotonic() - t:.0f} s, load average {' '.join(open('/proc/loadavg').read().split()[:3])}")
        rss = rss_kb(bench.daemon_pid)
        evidence = bench.evidence()
    finally:
        bench.procs.stop_all()
        subprocess.run(["rm", "-rf", work])

    summary = summarize(workloads, raw)
    held = {}
    for path, samples in held_raw.items():
        good = [s for s in samples if "error" not in s]
        e = {"samples": len(good), "errors": [s["error"] for s in samples if "error" in s]}
        if good:
            us = sorted(s["us"] for s in good)
            e.update(p50=statistics.median(us), max=us[-1],
                     daemon_hold_ms_per_s=sum(s["daemon_ms"] for s in good) / sum(s["seconds"] for s in good))
        held[path] = e
    summary["held"] = held
    goals = targets(summary)
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rounds": ROUNDS, "quick": QUICK,
            "duration_s": time.time() - args.started, "loadavg_start": loadavg_start,
            "loadavg_end": " ".join(open("/proc/loadavg").read().split()[:3]), "cpus": os.cpu_count(),
            "kernel": f"Linux {platform.release()}", "daemon_rss_kb": rss,
            "seconds_by_workload": {k: round(v, 1) for k, v in seconds.items()}, "evidence": evidence,
            "sizes": {"REDIS_N1": REDIS_N1, "REDIS_N50": REDIS_N50, "MEMC_SECONDS": MEMC_SECONDS, "H2_N": H2_N,
                      "CONNECT_N": CONNECT_N, "HELD_SAMPLES": HELD_SAMPLES, "UDP_N": UDP_N},
            "paths": PATH_TITLES, "note": "HAProxy 2.6 (mode tcp, nbthread 2) stands in for Envoy on the sidecar and chain paths"}
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"meta": meta, "targets": goals, "summary": summary, "raw": raw, "held_raw": held_raw}, f, indent=1)
    plot(args.out, workloads, summary)
    print(write_markdown(os.path.join(args.out, "results.md"), meta, workloads, summary, goals))
    log(f"bench/run: {meta['duration_s']:.0f} s; results in {args.out}/results.md")


if __name__ == "__main__":
    try:
        main()
    except Failure as e:
        sys.exit(f"bench/run: {e}")
