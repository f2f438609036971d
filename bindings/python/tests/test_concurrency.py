"""50 Python handler threads at once: a handler blocked in read_message (inside the library) must not hold the
GIL, or no other handler could run."""
import asyncio
import threading
import time

import websockets

import fiberws
from conftest import run, url

N = 50


def test_fifty_handlers_block_in_read_while_others_progress(app):
    lock = threading.Lock()
    blocked = set()  # handler threads currently inside read_message
    threads = set()
    echoed = [0]

    @app.websocket("/c/:i")
    def handler(conn):
        with lock:
            threads.add(threading.get_ident())
        while True:
            with lock:
                blocked.add(conn.params("i"))
            try:
                mt, msg = conn.read_message()
            except fiberws.CloseError:
                return
            finally:
                with lock:
                    blocked.discard(conn.params("i"))
            time.sleep(0.2)  # slow work per message: 50 of them in sequence would take 10 s
            conn.write_message(mt, msg)
            with lock:
                echoed[0] += 1

    port = app.start("127.0.0.1:0")

    async def client():
        conns = await asyncio.gather(*(websockets.connect(url(port, f"/c/{i}")) for i in range(N)))
        # Every handler thread is now inside read_message at the same time.
        deadline = time.monotonic() + 10
        while len(blocked) < N:
            assert time.monotonic() < deadline, f"only {len(blocked)} handlers reached read"
            await asyncio.sleep(0.01)
        t0 = time.monotonic()
        # Connection 0 stays silent (its handler stays blocked in read) while the others echo, twice each.
        for rnd in range(2):
            await asyncio.gather(*(ws.send(f"{i}:{rnd}") for i, ws in enumerate(conns) if i))
            got = await asyncio.gather(*(ws.recv() for i, ws in enumerate(conns) if i))
            assert got == [f"{i}:{rnd}" for i in range(1, N)]
            assert "0" in blocked
        elapsed = time.monotonic() - t0
        await conns[0].send("last")
        assert await conns[0].recv() == "last"
        await asyncio.gather(*(ws.close() for ws in conns))
        return elapsed

    elapsed = run(client(), timeout=60)
    assert elapsed < 4.0, f"{2 * (N - 1)} slow echoes took {elapsed:.1f} s: handlers did not run in parallel"
    assert len(threads) == N
    assert echoed[0] == 2 * (N - 1) + 1
