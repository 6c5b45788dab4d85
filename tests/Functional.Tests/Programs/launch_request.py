# Speaks ax's launch protocol by hand (docs/interception.md; LaunchProtocol.cs): connects to the daemon's launch
# socket, sends one request frame (a 4-byte little-endian length, then JSON) with one fd attached (SCM_RIGHTS), and
# prints the daemon's answer, its JSON as it came. The fd is a pipe, not a seccomp listener: what is tested is what the
# daemon decides about the launcher before it uses the fd.
# Usage: launch_request.py LAUNCH_SOCKET SIDECAR_NAME
import json
import os
import socket
import struct
import sys

path, sidecar = sys.argv[1], sys.argv[2]
body = json.dumps({"version": 1, "labels": {}, "command": ["true"], "sidecar": sidecar}).encode()
read_end, write_end = os.pipe()
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
s.connect(path)
s.sendmsg([struct.pack("<i", len(body)) + body], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", read_end))])
answer = b""
while len(answer) < 4 or len(answer) < 4 + struct.unpack("<i", answer[:4])[0]:
    chunk = s.recv(4096)
    if not chunk:
        break
    answer += chunk
print(answer[4:].decode() if len(answer) >= 4 else "closed", flush=True)
