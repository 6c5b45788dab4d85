"""A UDP echo server: answers each datagram with "echo:" + the datagram, from the address it is bound to.

Usage: udp_echo.py HOST PORT
A datagram that starts with "slow" is answered after half a second (a client's blocking recvfrom waits for it), one
that starts with "sleepy" after four seconds (long enough for a test to restart the daemon meanwhile).
A datagram "close" makes it close its socket and stay alive, so a test can watch the service go away.
"""
import socket
import sys
import time

family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
sock = socket.socket(family, socket.SOCK_DGRAM)
sock.bind((sys.argv[1], int(sys.argv[2])))
print("ready", flush=True)
while True:
    data, peer = sock.recvfrom(65535)
    if data == b"close":
        sock.sendto(b"closing", peer)
        sock.close()
        print("closed", flush=True)
        time.sleep(60)
        sys.exit(0)
    if data.startswith(b"slow"):
        time.sleep(0.5)
    elif data.startswith(b"sleepy"):
        time.sleep(4)
    sock.sendto(b"echo:" + data, peer)
