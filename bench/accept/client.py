# The accept benchmark's client: N connections in a row from SOURCE (127.0.0.2), each timed from connect until the
# server has accepted and closed it. Usage: client.py PORT N [SOURCE]
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
src = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.2"
lat = []
for i in range(n):
    s = socket.socket(); s.bind((src, 0))
    t = time.perf_counter()
    s.connect(("127.0.0.1", port))
    s.recv(1)  # returns when the server (its accept, then close) is done with the connection
    lat.append(time.perf_counter() - t)
    s.close()
lat.sort()
print(f"n={n} median={lat[n//2]*1e6:.0f}us p90={lat[int(n*0.9)]*1e6:.0f}us")
