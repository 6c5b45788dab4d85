"""python client for the ax nonblocking-connect study.
usage: python3 client.py VARIANT HOST PORT
  asyncio           asyncio.open_connection(host, port)                   (no timeout)
  asyncio-waitfor   asyncio.wait_for(asyncio.open_connection(...), 2)
  socket            socket.create_connection((host, port))                (blocking socket)
  socket-timeout    socket.create_connection((host, port), timeout=2)     (nonblocking socket + poll)
"""
import asyncio, socket, sys, time

variant, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
REQ = b"GET / HTTP/1.0\r\nHost: study\r\n\r\n"
print("START", flush=True)
start = time.monotonic()
el = lambda: time.monotonic() - start

def done(outcome, detail):
    print(f"RESULT outcome={outcome} elapsed={el():.3f}s detail={detail!r}", flush=True)
    sys.exit(0 if outcome == "OK" else 1)

def err(e):
    return f"{type(e).__name__}: {e!r}"

async def aio(waitfor):
    try:
        coro = asyncio.open_connection(host, port)
        r, w = await (asyncio.wait_for(coro, 2) if waitfor else coro)
    except BaseException as e:
        return ("ERR", err(e))
    at = el()
    try:
        w.write(REQ)
        await w.drain()
        line = await asyncio.wait_for(r.readline(), 5)
        w.close()
    except BaseException as e:
        return ("ERR", f"connected at {at:.3f}s; {err(e)}")
    if not line:
        return ("ERR", f"connected at {at:.3f}s; EOF before a response")
    return ("OK", f"connected at {at:.3f}s; {line.decode().strip()}")

if variant in ("asyncio", "asyncio-waitfor"):
    done(*asyncio.run(aio(variant == "asyncio-waitfor")))
elif variant in ("socket", "socket-timeout"):
    try:
        s = socket.create_connection((host, port), timeout=2) if variant == "socket-timeout" \
            else socket.create_connection((host, port))
    except BaseException as e:
        done("ERR", err(e))
    at = el()
    try:
        s.settimeout(5)
        s.sendall(REQ)
        line = s.makefile("rb").readline()
    except BaseException as e:
        done("ERR", f"connected at {at:.3f}s; {err(e)}")
    if not line:
        done("ERR", f"connected at {at:.3f}s; EOF before a response")
    done("OK", f"connected at {at:.3f}s; {line.decode().strip()}")
else:
    done("ERR", "unknown variant " + variant)
