"""Round trips with the websockets client (asyncio API): text and binary from 0 B to 1 MiB, with and without
permessage-deflate, on both APIs; and Locals bookkeeping."""
import http.client
import os
import time

import pytest
import websockets

import fiberws
from conftest import run, url

SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20]


@pytest.mark.parametrize("compression", [None, "deflate"])
@pytest.mark.parametrize("api", ["blocking", "events"])
def test_sizes(app, api, compression):
    cfg = fiberws.Config(enable_compression=True)
    if api == "blocking":
        @app.websocket("/rt", config=cfg)
        def echo(conn):
            for mt, msg in conn:
                conn.write_message(mt, msg)
    else:
        app.websocket_events("/rt", on_message=lambda conn, mt, data: conn.send(mt, data), config=cfg)
    port = app.start("127.0.0.1:0")

    async def client():
        async with websockets.connect(url(port, "/rt"), compression=compression, max_size=None) as ws:
            assert [e.name for e in ws.extensions] == (["permessage-deflate"] if compression else [])
            for n in SIZES:
                text = ("é" * (n // 2) + "a" * (n % 2))
                binary = os.urandom(n)
                await ws.send(text)
                assert await ws.recv() == text
                await ws.send(binary)
                assert await ws.recv() == binary

    run(client(), timeout=60)


def test_locals_are_released(app):
    seen = []

    @app.use("/")
    def mw(c):
        c.locals["obj"] = object()
        if c.query("deny"):
            return 403
        return c.next()

    app.websocket("/ok", lambda conn: seen.append(type(conn.locals["obj"])))
    port = app.start("127.0.0.1:0")

    async def client():
        async with websockets.connect(url(port, "/ok")) as ws:
            await ws.close()

    run(client())
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", "/ok?deny=1")
    assert c.getresponse().status == 403
    c.close()
    time.sleep(0.1)
    assert seen == [object]
    assert app._locals._pending == {}  # claimed by the connection, or dropped with the 403
