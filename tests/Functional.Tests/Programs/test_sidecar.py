# An ax-aware test sidecar: registers with the daemon for socket delegation over its API socket (an HTTP/1.1 upgrade
# to ax-delegation/1, docs/delegation.md), then for each delegated connection reads the frame (20 bytes + a PROXY v2
# header, with the sockets as SCM_RIGHTS) and moves bytes:
#   outbound (1 fd: the other end of the application's socketpair): connects to UPSTREAM and pumps both ways;
#   inbound (2 fds: the other end of the socketpair the application accepted, then the client's TCP socket): pumps
#   between them.
# It prints one line per delegation: "delegated KIND id=N src=IP:PORT dst=IP:PORT protocol=P authority=A" (P and A
# from the PROXY header's TLVs: ax's protocol TLV 0xE3 and AUTHORITY 0x02; "-" when absent).
# Usage: test_sidecar.py API_SOCKET UPSTREAM_HOST UPSTREAM_PORT [DIRECTIONS]
import socket
import struct
import sys
import threading

api, upstream_host, upstream_port = sys.argv[1], sys.argv[2], int(sys.argv[3])
directions = sys.argv[4] if len(sys.argv) > 4 else "outbound,inbound"

channel = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
channel.connect(api)
channel.sendall((f"POST /v1/delegation?name=test-sidecar&directions={directions} HTTP/1.1\r\n"
                 "Host: ax\r\nConnection: Upgrade\r\nUpgrade: ax-delegation/1\r\nContent-Length: 0\r\n\r\n").encode())
response = b""
while b"\r\n\r\n" not in response:
    chunk = channel.recv(1)
    if not chunk:
        print("registration failed: closed", flush=True)
        sys.exit(1)
    response += chunk
status = response.split(b"\r\n", 1)[0].decode()
if " 101 " not in status + " ":
    print(f"registration failed: {status}", flush=True)
    sys.exit(1)
# The ready byte: the daemon delegates nothing before it knows the 101 was read (docs/delegation.md).
channel.sendall(b"\x01")
print("registered", flush=True)


def pump(source, sink):
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    finally:
        try:
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def both_ways(a, b):
    t = threading.Thread(target=pump, args=(b, a), daemon=True)
    t.start()
    pump(a, b)
    t.join()
    a.close()
    b.close()


def read_exactly(n):
    data = b""
    while len(data) < n:
        chunk = channel.recv(n - len(data))
        if not chunk:
            sys.exit(0)
        data += chunk
    return data


def address(meta):
    family = meta[13]
    if family >> 4 == 1:
        src = socket.inet_ntoa(meta[16:20]), struct.unpack("!H", meta[24:26])[0]
        dst = socket.inet_ntoa(meta[20:24]), struct.unpack("!H", meta[26:28])[0]
        tlvs = 28
    else:
        src = socket.inet_ntop(socket.AF_INET6, meta[16:32]), struct.unpack("!H", meta[48:50])[0]
        dst = socket.inet_ntop(socket.AF_INET6, meta[32:48]), struct.unpack("!H", meta[50:52])[0]
        tlvs = 52
    return f"{src[0]}:{src[1]}", f"{dst[0]}:{dst[1]}", tlvs


def tlv_text(meta, offset, wanted):
    while offset + 3 <= len(meta):
        kind, length = meta[offset], struct.unpack("!H", meta[offset + 1:offset + 3])[0]
        if kind == wanted:
            return meta[offset + 3:offset + 3 + length].decode(errors="replace")
        offset += 3 + length
    return "-"


while True:
    fixed, fds, _, _ = socket.recv_fds(channel, 20, 4)
    if not fixed:
        break
    fixed += read_exactly(20 - len(fixed))
    magic, kind, nfds, _, ident, length = struct.unpack("!4sBBHQI", fixed)
    meta = read_exactly(length)
    if magic != b"AXD1" or len(fds) != nfds:
        print(f"bad frame {magic!r} kind={kind} nfds={nfds} got={len(fds)}", flush=True)
        sys.exit(1)
    src, dst, tlvs = address(meta)
    name = "outbound" if kind == 1 else "inbound"
    print(f"delegated {name} id={ident} src={src} dst={dst} protocol={tlv_text(meta, tlvs, 0xE3)} authority={tlv_text(meta, tlvs, 0x02)}", flush=True)
    socks = [socket.socket(fileno=fd) for fd in fds]
    if kind == 1:
        upstream = socket.create_connection((upstream_host, upstream_port))
        threading.Thread(target=both_ways, args=(socks[0], upstream), daemon=True).start()
    else:
        threading.Thread(target=both_ways, args=(socks[0], socks[1]), daemon=True).start()
