"""Every fiberws.Config field, each observed from a client."""
import asyncio
import http.client
import threading
import time
import zlib

import pytest
import websockets

import fiberws
from conftest import run, url
from wsraw import RawClient


def echo(conn):
    for mt, msg in conn:
        conn.write_message(mt, msg)


def http_status(port, path, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    h = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
         "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
    h.update(headers or {})
    c.request("GET", path, headers=h)
    r = c.getresponse()
    c.close()
    return r.status


async def roundtrip(port, path, msg="hi", **kw):
    async with websockets.connect(url(port, path), **kw) as ws:
        await ws.send(msg)
        return await ws.recv()


def test_filter(app):
    seen = []

    def only_vip(c):
        seen.append((c.path, c.query("vip"), c.params("id")))
        return c.query("vip") == "1"

    app.websocket("/f/:id", lambda conn: conn.write_message(fiberws.TEXT_MESSAGE, "vip"),
                  config=fiberws.Config(filter=only_vip))
    app.websocket("/f/:id", lambda conn: conn.write_message(fiberws.TEXT_MESSAGE, "fallback"))
    port = app.start("127.0.0.1:0")

    async def recv_one(path):
        async with websockets.connect(url(port, path)) as ws:
            return await ws.recv()

    assert run(recv_one("/f/7?vip=1")) == "vip"
    assert run(recv_one("/f/8")) == "fallback"
    assert seen == [("/f/7", "1", "7"), ("/f/8", None, "8")]


def test_filter_exception_answers_500(app, capfd):
    def bad(c):
        raise RuntimeError("filter broke")

    app.websocket("/fx", echo, config=fiberws.Config(filter=bad))
    port = app.start("127.0.0.1:0")
    assert http_status(port, "/fx") == 500
    assert "filter broke" in capfd.readouterr().err


def test_handshake_timeout(app):
    app.websocket("/hs", echo, config=fiberws.Config(handshake_timeout=0.3))
    port = app.start("127.0.0.1:0")
    c = RawClient(port, timeout=3)
    t0 = time.monotonic()
    c.sock.sendall(b"GET /hs HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n")  # stalls half way
    assert c.sock.recv(100) == b""  # dropped
    elapsed = time.monotonic() - t0
    c.close()
    assert 0.25 <= elapsed < 2.0, elapsed
    assert run(roundtrip(port, "/hs")) == "hi"


def test_subprotocols(app):
    got = []

    def h(conn):
        got.append(conn.subprotocol)
        echo(conn)

    app.websocket("/sp", h, config=fiberws.Config(subprotocols=["b", "a"]))
    port = app.start("127.0.0.1:0")

    async def client(offer):
        async with websockets.connect(url(port, "/sp"), subprotocols=offer) as ws:
            await ws.send("x")
            await ws.recv()
            return ws.subprotocol

    assert run(client(["a", "b"])) == "b"  # the server's preference
    assert run(client(["a"])) == "a"
    assert got == ["b", "a"]


def test_origins(app):
    app.websocket("/or", echo, config=fiberws.Config(origins=["https://good.example"]))
    port = app.start("127.0.0.1:0")
    assert run(roundtrip(port, "/or", origin="https://good.example")) == "hi"
    assert http_status(port, "/or", {"Origin": "https://evil.example"}) == 403


@pytest.mark.parametrize("size", [256, 65536])
def test_read_and_write_buffer_sizes(app, size):
    app.websocket("/buf", echo, config=fiberws.Config(read_buffer_size=size, write_buffer_size=size))
    port = app.start("127.0.0.1:0")
    big = bytes(range(256)) * 1000
    assert run(roundtrip(port, "/buf", big)) == big
    assert run(roundtrip(port, "/buf", "small")) == "small"


def test_buffer_size_invalid():
    with fiberws.App() as a:
        with pytest.raises(fiberws.InvalidArgumentError):
            a.websocket("/x", echo, config=fiberws.Config(read_buffer_size=-5))


class CountingPool:
    def __init__(self):
        self.inner = fiberws.BufferPool()
        self.gets = 0
        self.puts = 0
        self.lock = threading.Lock()

    def get(self, size):
        with self.lock:
            self.gets += 1
        return self.inner.get(size)

    def put(self, buf):
        with self.lock:
            self.puts += 1
        self.inner.put(buf)


def test_write_buffer_pool(app):
    pool = CountingPool()
    app.websocket("/pool", echo, config=fiberws.Config(write_buffer_pool=pool))
    port = app.start("127.0.0.1:0")

    async def client():
        async with websockets.connect(url(port, "/pool")) as ws:
            for i in range(20):
                await ws.send(f"m{i}")
                assert await ws.recv() == f"m{i}"

    run(client())
    time.sleep(0.2)
    assert pool.gets >= 20
    assert pool.gets == pool.puts
    assert sum(len(v) for v in pool.inner._free.values()) >= 1


def test_write_buffer_pool_returning_none_and_bytearray(app):
    class NonePool:
        def get(self, size):
            return None

        def put(self, buf):
            raise AssertionError("never lent")

    class ByteArrayPool:
        def __init__(self):
            self.lent = []

        def get(self, size):
            b = bytearray(size)
            self.lent.append(b)
            return b

        def put(self, buf):
            assert buf is self.lent.pop()

    bp = ByteArrayPool()
    app.websocket("/none", echo, config=fiberws.Config(write_buffer_pool=NonePool()))
    app.websocket("/ba", echo, config=fiberws.Config(write_buffer_pool=bp))
    port = app.start("127.0.0.1:0")
    assert run(roundtrip(port, "/none")) == "hi"
    assert run(roundtrip(port, "/ba")) == "hi"
    assert bp.lent == []


@pytest.mark.parametrize("enable", [True, False])
def test_enable_compression(app, enable):
    got = []

    def h(conn):
        got.append(conn.extensions)
        echo(conn)

    app.websocket("/c", h, config=fiberws.Config(enable_compression=enable))
    port = app.start("127.0.0.1:0")
    big = "compress me " * 5000

    async def client():
        async with websockets.connect(url(port, "/c"), compression="deflate") as ws:
            await ws.send(big)
            return await ws.recv(), [e.name for e in ws.extensions]

    text, ext = run(client())
    assert text == big
    if enable:
        assert ext == ["permessage-deflate"] and got[0].startswith("permessage-deflate")
    else:
        assert ext == [] and got == [""]


def test_recover_handler_gets_exception(app):
    calls = []

    def recover(conn, exc):
        calls.append((conn.params("id"), type(exc), str(exc), conn.locals.get("k")))
        conn.write_message(fiberws.TEXT_MESSAGE, "recovered: " + str(exc))

    @app.use("/")
    def mw(c):
        c.locals["k"] = "v"
        return c.next()

    @app.websocket("/r/:id", config=fiberws.Config(recover_handler=recover))
    def h(conn):
        conn.read_message()
        raise KeyError("missing thing")

    port = app.start("127.0.0.1:0")

    async def client():
        async with websockets.connect(url(port, "/r/5")) as ws:
            await ws.send("go")
            msg = await ws.recv()
            with pytest.raises(websockets.ConnectionClosed) as e:
                await ws.recv()
            return msg, e.value.code

    msg, code = run(client())
    assert msg == "recovered: 'missing thing'"
    assert code == 1011
    assert calls == [("5", KeyError, "'missing thing'", "v")]


def test_read_limit(app):
    seen = []

    @app.websocket("/rl", config=fiberws.Config(read_limit=1000))
    def h(conn):
        conn.write_message(fiberws.TEXT_MESSAGE, conn.read_message()[1])
        try:
            conn.read_message()
        except fiberws.ReadLimitError as e:
            seen.append(e)

    port = app.start("127.0.0.1:0")

    async def client():
        async with websockets.connect(url(port, "/rl")) as ws:
            await ws.send("x" * 1000)
            assert await ws.recv() == "x" * 1000
            await ws.send("x" * 1001)
            with pytest.raises(websockets.ConnectionClosed) as e:
                await ws.recv()
            return e.value.code

    assert run(client()) == 1009
    time.sleep(0.1)
    assert len(seen) == 1 and seen[0].code == fiberws.Result.ERR_READ_LIMIT


def test_max_backpressure_and_close_on_limit(app):
    results = {}

    def flood(name):
        def on_message(conn, mt, data):
            sent = 0
            try:
                for _ in range(100):
                    results.setdefault(name + "_buffered", []).append(conn.send(b"x" * 10000))
                    sent += 1
            except fiberws.BackpressureError as e:
                results[name] = (sent, e.result)
        return on_message

    # All sends of one callback queue before the loop writes any, so the queue passes the limit at once.
    app.websocket_events("/keep", on_message=flood("keep"),
                         config=fiberws.Config(max_backpressure=50000, close_on_backpressure_limit=False))
    app.websocket_events("/drop", on_message=flood("drop"),
                         config=fiberws.Config(max_backpressure=50000, close_on_backpressure_limit=True))
    port = app.start("127.0.0.1:0")

    async def client(path):
        async with websockets.connect(url(port, path), max_size=None) as ws:
            await ws.send("go")
            got = 0
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), 1.0)
                    got += 1
            except asyncio.TimeoutError:
                return got, None
            except websockets.ConnectionClosed as e:
                return got, e.code

    got_keep, closed_keep = run(client("/keep"))
    got_drop, closed_drop = run(client("/drop"))
    assert results["keep"][1] == fiberws.Result.ERR_BACKPRESSURE
    assert 5 <= results["keep"][0] <= 7
    assert results["keep_buffered"] == sorted(results["keep_buffered"])
    assert got_keep == results["keep"][0] and closed_keep is None  # the queued ones arrive; still open
    assert results["drop"][1] == fiberws.Result.ERR_BACKPRESSURE
    assert closed_drop is not None  # disconnected


@pytest.mark.parametrize("pings", [True, False])
def test_idle_timeout_and_automatic_pings(app, pings):
    closed = []
    app.websocket_events("/idle", on_close=lambda conn, code, reason: closed.append(code),
                         config=fiberws.Config(idle_timeout=0.6, send_pings_automatically=pings))
    port = app.start("127.0.0.1:0")

    async def client():
        # websockets answers pings by itself; it sends none of its own here.
        async with websockets.connect(url(port, "/idle"), ping_interval=None) as ws:
            try:
                await asyncio.wait_for(ws.recv(), 2.0)
            except asyncio.TimeoutError:
                return "open"
            except websockets.ConnectionClosed:
                return "closed"

    assert run(client()) == ("open" if pings else "closed")


def deflate_offer(port, path, extra_offer=""):
    c = RawClient(port)
    status = c.handshake(path, "Sec-WebSocket-Extensions: permessage-deflate" + extra_offer + "\r\n")
    assert status == 101
    return c


def inflate(payload):
    return zlib.decompressobj(-15).decompress(payload + b"\x00\x00\xff\xff")


def test_compression_threshold(app):
    app.websocket("/th", echo, config=fiberws.Config(enable_compression=True, compression_threshold=100))
    port = app.start("127.0.0.1:0")
    c = deflate_offer(port, "/th")
    try:
        for n, compressed in ((99, False), (100, True)):
            c.send_frame(1, b"a" * n)
            fin, rsv1, op, payload = c.recv_frame()
            assert (op, rsv1) == (1, compressed)
            assert (inflate(payload) if rsv1 else payload) == b"a" * n
    finally:
        c.close()


def test_compression_level(app):
    import random
    rnd = random.Random(7)
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]
    text = " ".join(rnd.choice(words) + str(rnd.randint(0, 99)) for _ in range(20000)).encode()
    app.websocket("/l1", echo, config=fiberws.Config(enable_compression=True, compression_level=1))
    app.websocket("/l9", echo, config=fiberws.Config(enable_compression=True, compression_level=9))
    port = app.start("127.0.0.1:0")
    sizes = {}
    for path in ("/l1", "/l9"):
        c = deflate_offer(port, path)
        c.send_frame(1, text)
        fin, rsv1, op, payload = c.recv_frame()
        c.close()
        assert rsv1 and inflate(payload) == text
        sizes[path] = len(payload)
    assert sizes["/l9"] < sizes["/l1"], sizes


def test_server_no_context_takeover_and_max_window_bits(app):
    app.websocket("/nct", echo, config=fiberws.Config(enable_compression=True, server_no_context_takeover=True))
    app.websocket("/wb", echo, config=fiberws.Config(enable_compression=True, server_max_window_bits=10))
    port = app.start("127.0.0.1:0")
    c = deflate_offer(port, "/nct")
    ext = c.headers["sec-websocket-extensions"]
    assert "server_no_context_takeover" in ext
    # Without context takeover the same message compresses to the same bytes every time.
    outs = []
    for _ in range(2):
        c.send_frame(1, b"repeat this text please " * 10)
        outs.append(c.recv_frame()[3])
    assert outs[0] == outs[1] and inflate(outs[0]) == b"repeat this text please " * 10
    c.close()
    c = deflate_offer(port, "/wb", "; server_max_window_bits=15")
    assert "server_max_window_bits=10" in c.headers["sec-websocket-extensions"]
    c.send_frame(1, b"window " * 100)
    assert inflate(c.recv_frame()[3]) == b"window " * 100
    c.close()


def test_config_type_errors(app):
    with pytest.raises(TypeError):
        app.websocket("/t", echo, config=fiberws.Config(subprotocols="chat"))
    with pytest.raises(TypeError):
        app.websocket("/t", echo, config={"read_limit": 5})
    with pytest.raises(TypeError):
        app.websocket("/t", echo, config=fiberws.Config(write_buffer_pool=object()))
    with pytest.raises(ValueError):
        app.websocket("/t", echo, config=fiberws.Config(handshake_timeout=-1))
