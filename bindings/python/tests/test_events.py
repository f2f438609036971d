"""The event API: handler objects, classes and keyword callables; send, topics and publish; backpressure;
exceptions in callbacks."""
import asyncio
import queue
import threading

import pytest
import websockets

import fiberws
from conftest import run, url


def test_event_object_echo_with_locals(app):
    log = []

    class Echo:
        def on_open(self, conn):
            log.append(("open", conn.params("room"), conn.query("u"), conn.locals.get("user")))
            conn.locals["count"] = 0

        def on_message(self, conn, mt, data):
            conn.locals["count"] += 1
            buffered = conn.send(mt, data)
            assert isinstance(buffered, int) and buffered >= len(data)

        def on_close(self, conn, code, reason):
            log.append(("close", code, reason, conn.locals["count"]))

    @app.use("/ev")
    def mw(c):
        c.locals["user"] = {"name": c.query("u")}  # any Python object
        return c.next()

    app.websocket_events("/ev/:room", Echo())
    port = app.start("127.0.0.1:0")

    async def client():
        async with websockets.connect(url(port, "/ev/lobby?u=ann")) as ws:
            out = []
            for m in ["one", b"two", "three"]:
                await ws.send(m)
                out.append(await ws.recv())
            await ws.close(4100, "done")
            return out

    assert run(client()) == ["one", b"two", "three"]
    for _ in range(100):
        if len(log) == 2:
            break
        threading.Event().wait(0.02)
    assert log == [("open", "lobby", "ann", {"name": "ann"}), ("close", 4100, "done", 3)]


def test_event_decorated_class_and_keywords(app):
    @app.websocket_events("/cls")
    class Upper:
        def on_message(self, conn, mt, data):
            conn.send(data.decode().upper())

    assert isinstance(Upper, type)  # the decorator returns the class unchanged
    app.websocket_events("/kw", on_message=lambda conn, mt, data: conn.send(b"kw:" + data))
    with pytest.raises(TypeError):
        app.websocket_events("/nothing", object())
    port = app.start("127.0.0.1:0")

    async def client(path, msg):
        async with websockets.connect(url(port, path)) as ws:
            await ws.send(msg)
            return await ws.recv()

    assert run(client("/cls", "abc")) == "ABC"
    assert run(client("/kw", b"x")) == b"kw:x"


def test_publish_to_several_subscribers(app):
    opened = queue.Queue()

    class Chat:
        def on_open(self, conn):
            conn.subscribe("news")
            if conn.query("sports") == "1":
                conn.subscribe("sports")
            opened.put(conn)

        def on_message(self, conn, mt, data):
            if data == b"leave":
                conn.unsubscribe("news")
                with pytest.raises(fiberws.NotFoundError):
                    conn.unsubscribe("news")
                conn.send("left")
            else:
                # on the loop thread: the count is exact
                conn.send(f"receivers={app.publish('news', data)}")

    app.websocket_events("/chat", Chat())
    port = app.start("127.0.0.1:0")

    async def client():
        a = await websockets.connect(url(port, "/chat?sports=1"))
        b = await websockets.connect(url(port, "/chat"))
        c = await websockets.connect(url(port, "/chat"))
        loop = asyncio.get_running_loop()
        for _ in range(3):
            await loop.run_in_executor(None, opened.get, True, 5)
        # from outside the loop thread: queued, count unknown (-1)
        assert app.publish("news", "hello all") == -1
        got = [await ws.recv() for ws in (a, b, c)]
        assert app.publish("sports", fiberws.BINARY_MESSAGE, b"goal") == -1
        got.append(await a.recv())
        await c.send("leave")
        got.append(await c.recv())
        await a.send("from a")
        got.append(await a.recv())  # a is subscribed too: its own publish (binary: data was bytes) comes first
        got.append(await a.recv())
        got.append(await b.recv())
        for ws in (a, b, c):
            await ws.close()
        return got

    assert run(client()) == ["hello all"] * 3 + [b"goal", "left", b"from a", "receivers=2", b"from a"]


def test_backpressure_error_and_drain(app):
    q = queue.Queue()

    class Flood:
        def on_message(self, conn, mt, data):
            sent = 0
            try:
                while sent < 1000:
                    conn.send(b"y" * 8192)
                    sent += 1
            except fiberws.BackpressureError as e:
                q.put(("refused", sent, e.result, conn.buffered_amount > 60000))

        def on_drain(self, conn):
            q.put(("drain", conn.buffered_amount))

    app.websocket_events("/bp", Flood(), config=fiberws.Config(max_backpressure=64 * 1024,
                                                               close_on_backpressure_limit=False))
    port = app.start("127.0.0.1:0")

    async def client():
        async with websockets.connect(url(port, "/bp"), max_size=None) as ws:
            await ws.send("go")
            n = 0
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), 1.0)
                    n += 1
            except asyncio.TimeoutError:
                return n

    n = run(client())
    kind, sent, result, full = q.get(timeout=5)
    assert (kind, result, full) == ("refused", fiberws.Result.ERR_BACKPRESSURE, True)
    assert n == sent


def test_event_callback_exception_recovers_and_closes_1011(app, capfd):
    calls = []

    def recover(conn, exc):
        calls.append((type(exc).__name__, str(exc)))
        conn.send("sorry")

    class Bad:
        def on_message(self, conn, mt, data):
            raise LookupError("no such thing")

    app.websocket_events("/bad", Bad(), config=fiberws.Config(recover_handler=recover))
    app.websocket_events("/bad2", on_message=lambda c, mt, d: 1 / 0)
    port = app.start("127.0.0.1:0")

    async def client(path):
        async with websockets.connect(url(port, path)) as ws:
            await ws.send("x")
            msg = await ws.recv()
            with pytest.raises(websockets.ConnectionClosed) as e:
                await ws.recv()
            return msg, e.value.code

    assert run(client("/bad")) == ("sorry", 1011)
    assert calls == [("LookupError", "no such thing")]
    assert run(client("/bad2")) == ('{"error":"division by zero"}', 1011)
    assert "ZeroDivisionError" in capfd.readouterr().err


def test_event_conn_is_not_readable(app):
    q = queue.Queue()

    def on_open(conn):
        try:
            conn.read_message()
        except fiberws.InvalidStateError as e:
            q.put(e.result)
        conn.close(1000)

    app.websocket_events("/nr", on_open=on_open)
    port = app.start("127.0.0.1:0")

    async def client():
        async with websockets.connect(url(port, "/nr")) as ws:
            with pytest.raises(websockets.ConnectionClosed) as e:
                await ws.recv()
            return e.value.code

    assert run(client()) == 1000
    assert q.get(timeout=5) == fiberws.Result.ERR_INVALID_STATE


def test_subscribe_on_blocking_conn_is_invalid_state(app):
    q = queue.Queue()

    def h(conn):
        try:
            conn.subscribe("t")
        except fiberws.InvalidStateError:
            q.put("invalid")

    app.websocket("/b", h)
    port = app.start("127.0.0.1:0")

    async def client():
        async with websockets.connect(url(port, "/b")) as ws:
            await asyncio.sleep(0.1)

    run(client())
    assert q.get(timeout=5) == "invalid"
