# The accept benchmark's server: accepts and closes at once, in a loop. Usage: server.py PORT
import socket, sys
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1]))); srv.listen(128)
print("listening", flush=True)
while True:
    c, _ = srv.accept()
    c.close()
