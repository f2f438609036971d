"""The Conn surface: every fws_conn_* function through its Python method, driven by websockets or a raw client."""
import asyncio
import queue
import threading
import time

import pytest
import websockets

import fiberws
from conftest import run, url
from wsraw import RawClient


def serve(app, handler, path="/t", config=None):
    app.websocket(path, handler, config=config)
    return app.start("127.0.0.1:0")


def get(q, timeout=10):
    return q.get(timeout=timeout)


def test_read_write_types(app):
    def h(conn):
        mt, data = conn.read_message()
        assert isinstance(data, bytes)
        conn.write_message(fiberws.TEXT_MESSAGE, "str as text")
        conn.write_message(fiberws.BINARY_MESSAGE, bytearray(b"bytearray"))
        conn.write_message(fiberws.BINARY_MESSAGE, memoryview(b"xxmemoryview")[2:])
        conn.write_message(mt, data)
        assert conn.send("send text") == 0
        conn.send(b"send bytes")
        conn.send(fiberws.TEXT_MESSAGE, b"typed")

    port = serve(app, h)

    async def client():
        async with websockets.connect(url(port, "/t")) as ws:
            await ws.send(b"\x00raw\xff")
            return [await ws.recv() for _ in range(7)]

    assert run(client()) == ["str as text", b"bytearray", b"memoryview", b"\x00raw\xff", "send text",
                             b"send bytes", "typed"]


def test_request_values_and_addresses(app):
    q = queue.Queue()

    def h(conn):
        q.put(dict(ip=conn.ip, remote=conn.remote_addr, local=conn.local_addr, hdr=conn.headers("x-test"),
                   absent=conn.headers("x-absent"), dflt=conn.headers("x-absent", "d"),
                   empty=conn.query("e", default="zz"), cookie=conn.cookies("session"),
                   sp=conn.subprotocol, ext=conn.extensions, code=conn.close_code, locals=conn.locals,
                   wild=conn.params("*"), none=conn.params("nope")))

    app.websocket("/v/*", h)
    port = app.start("127.0.0.1:0")

    async def client():
        async with websockets.connect(url(port, "/v/a/b?e="), extra_headers={"X-Test": "yes",
                                                                            "Cookie": "session=abc"}) as ws:
            return ws.local_address

    local = run(client())
    v = get(q)
    assert v["ip"] == "127.0.0.1"
    assert v["remote"] == f"127.0.0.1:{local[1]}"
    assert v["local"] == f"127.0.0.1:{port}"
    assert (v["hdr"], v["absent"], v["dflt"]) == ("yes", None, "d")
    assert v["empty"] == ""  # present but empty: not the default
    assert v["cookie"] == "abc"
    assert (v["sp"], v["ext"], v["code"], v["locals"]) == ("", "", 0, {})
    assert (v["wild"], v["none"]) == ("a/b", None)


def test_normal_close_ends_iteration_and_close_values(app):
    q = queue.Queue()

    def h(conn):
        n = sum(1 for _ in conn)
        q.put((n, conn.close_code, conn.close_text))

    port = serve(app, h)

    async def client():
        async with websockets.connect(url(port, "/t")) as ws:
            await ws.send("a")
            await ws.send("b")
            await ws.close(1001, "leaving")

    run(client())
    assert get(q) == (2, 1001, "leaving")


def test_abnormal_close_raises_close_error(app):
    q = queue.Queue()

    def h(conn):
        try:
            for _ in conn:
                pass
            q.put("ended quietly")
        except fiberws.CloseError as e:
            q.put((e.code, e.text, e.result, fiberws.is_close_error(e, 4000), fiberws.is_close_error(e, 1000),
                   fiberws.is_unexpected_close_error(e, 1000, 1001), fiberws.is_unexpected_close_error(e, 4000)))

    port = serve(app, h)

    async def client():
        async with websockets.connect(url(port, "/t")) as ws:
            await ws.close(4000, "bye")

    run(client())
    assert get(q) == (4000, "bye", fiberws.Result.ERR_CLOSED, True, False, True, False)


def test_tcp_drop_is_1006(app):
    q = queue.Queue()

    def h(conn):
        try:
            conn.read_message()
        except fiberws.CloseError as e:
            q.put((e.code, conn.close_code))

    port = serve(app, h)
    c = RawClient(port)
    assert c.handshake("/t") == 101
    c.close()
    assert get(q) == (1006, 1006)


def test_server_close_and_idempotence(app):
    q = queue.Queue()

    def h(conn):
        conn.close(4001, "server says bye")
        conn.close()  # idempotent
        try:
            conn.write_message(fiberws.TEXT_MESSAGE, "late")
        except fiberws.CloseSentError as e:
            q.put(e.result)

    port = serve(app, h)

    async def client():
        async with websockets.connect(url(port, "/t")) as ws:
            with pytest.raises(websockets.ConnectionClosed) as e:
                await ws.recv()
            return e.value.code, e.value.reason

    assert run(client()) == (4001, "server says bye")
    assert get(q) == fiberws.Result.ERR_CLOSE_SENT


def test_close_from_another_thread_wakes_reader(app):
    q = queue.Queue()

    def h(conn):
        threading.Timer(0.2, conn.close, args=(1000, "stop")).start()
        t0 = time.monotonic()
        n = sum(1 for _ in conn)  # ends quietly: the close came from this side
        q.put((n, time.monotonic() - t0 < 5))

    port = serve(app, h)

    async def client():
        async with websockets.connect(url(port, "/t")) as ws:
            with pytest.raises(websockets.ConnectionClosed) as e:
                await ws.recv()
            return e.value.code

    assert run(client()) == 1000
    assert get(q) == (0, True)


def test_shutdown_wakes_reader_quietly(capfd):
    q = queue.Queue()
    app = fiberws.App()
    try:
        def h(conn):
            q.put("in")
            n = sum(1 for _ in conn)
            q.put(("done", n))

        port = serve(app, h)

        async def client():
            async with websockets.connect(url(port, "/t")) as ws:
                await asyncio.get_running_loop().run_in_executor(None, get, q)
                assert await asyncio.get_running_loop().run_in_executor(None, app.shutdown, 5.0)
                with pytest.raises(websockets.ConnectionClosed) as e:
                    await ws.recv()
                return e.value.code

        assert run(client()) == 1001
        assert get(q) == ("done", 0)
    finally:
        app.close()
    assert "Traceback" not in capfd.readouterr().err


def test_control_frames_and_handlers(app):
    q = queue.Queue()

    def h(conn):
        pings, pongs = [], []
        conn.set_ping_handler(lambda data: (pings.append(data), conn.write_control(fiberws.PONG_MESSAGE, data)))
        conn.set_pong_handler(pongs.append)
        conn.write_control(fiberws.PING_MESSAGE, b"srv-ping", timeout=1.0)
        conn.read_message()  # the client sends "next" after its ping was answered
        conn.set_ping_handler(None)  # the default answers by itself
        conn.set_pong_handler(None)
        conn.read_message()
        q.put((pings, pongs))

    port = serve(app, h)

    async def client():
        async with websockets.connect(url(port, "/t"), ping_interval=None) as ws:
            waiter = await ws.ping(b"cli-ping")
            await asyncio.wait_for(waiter, 5)
            await asyncio.sleep(0.1)  # our pong to the server's ping is out
            await ws.send("next")
            await asyncio.sleep(0.1)
            waiter = await ws.ping(b"again")
            await asyncio.wait_for(waiter, 5)
            await ws.send("done")

    run(client())
    assert get(q) == ([b"cli-ping"], [b"srv-ping"])


def test_close_handler(app):
    q = queue.Queue()

    def h(conn):
        got = []
        conn.set_close_handler(lambda code, text: (got.append((code, text)), conn.close(3999, "mine")))
        try:
            conn.read_message()
        except fiberws.CloseError as e:
            q.put((got, e.code, e.text))

    port = serve(app, h)

    async def client():
        async with websockets.connect(url(port, "/t")) as ws:
            await ws.close(4002, "client")
            return ws.close_code, ws.close_reason

    assert run(client()) == (3999, "mine")  # our close handler answered instead of the default echo
    assert get(q) == ([(4002, "client")], 4002, "client")


def test_control_handler_exception_fails_the_read(app):
    q = queue.Queue()

    def h(conn):
        def bad(data):
            raise ValueError("ping handler broke")
        conn.set_ping_handler(bad)
        try:
            conn.read_message()
        except fiberws.InternalError as e:
            q.put((type(e.__cause__), str(e.__cause__)))

    port = serve(app, h)

    async def client():
        async with websockets.connect(url(port, "/t"), ping_interval=None) as ws:
            await ws.ping(b"x")
            with pytest.raises(websockets.ConnectionClosed):
                await ws.recv()

    run(client())
    assert get(q) == (ValueError, "ping handler broke")


def test_next_reader_and_writer(app):
    q = queue.Queue()

    def h(conn):
        r = conn.next_reader()
        first = r.read(3)
        buf = bytearray(4)
        n = r.readinto(buf)
        rest = list(r)  # the remaining pieces as they arrived
        q.put((r.type, first, bytes(buf[:n]), rest, r.read()))
        r2 = conn.next_reader()
        q.put((r2.type, r2.read()))
        with conn.next_writer(fiberws.TEXT_MESSAGE) as w:
            w.write("pie")
            w.write(b"ces")
        with pytest.raises(ValueError):
            w.write("closed")
        with conn.next_writer(fiberws.BINARY_MESSAGE) as w:
            w.writelines([b"a", b"b"])

    port = serve(app, h)

    async def client():
        async with websockets.connect(url(port, "/t")) as ws:
            await ws.send([b"abcdef", b"ghij", b"klm"])  # one message, three frames
            await ws.send("whole")
            return await ws.recv(), await ws.recv()

    assert run(client()) == ("pieces", b"ab")
    t, first, mid, rest, tail = get(q)
    assert (t, first, mid, tail) == (fiberws.BINARY_MESSAGE, b"abc", b"def", b"")
    assert b"".join(rest) == b"ghijklm"
    assert get(q) == (fiberws.TEXT_MESSAGE, b"whole")


def test_stale_reader(app):
    q = queue.Queue()

    def h(conn):
        r = conn.next_reader()
        conn.read_message()
        try:
            r.read()
        except fiberws.InvalidStateError:
            q.put("stale")

    port = serve(app, h)

    async def client():
        async with websockets.connect(url(port, "/t")) as ws:
            await ws.send("one")
            await ws.send("two")
            await asyncio.sleep(0.2)

    run(client())
    assert get(q) == "stale"


def test_read_deadline_and_limit(app):
    q = queue.Queue()

    def h(conn):
        conn.set_read_deadline(0.2)
        t0 = time.monotonic()
        try:
            conn.read_message()
        except fiberws.TimeoutError as e:
            q.put((isinstance(e, TimeoutError), e.result, round(time.monotonic() - t0, 1) >= 0.2))

    def h2(conn):
        conn.set_read_deadline(None)
        conn.set_read_limit(10)
        conn.read_message()
        try:
            conn.read_message()
        except fiberws.ReadLimitError:
            q.put("limit")

    app.websocket("/d", h)
    app.websocket("/l", h2)
    port = app.start("127.0.0.1:0")

    async def idle():
        async with websockets.connect(url(port, "/d")) as ws:
            with pytest.raises(websockets.ConnectionClosed):
                await ws.recv()

    async def limit():
        async with websockets.connect(url(port, "/l")) as ws:
            await ws.send("x" * 10)
            await ws.send("x" * 11)
            with pytest.raises(websockets.ConnectionClosed) as e:
                await ws.recv()
            return e.value.code

    run(idle())
    assert get(q) == (True, fiberws.Result.ERR_TIMEOUT, True)
    assert run(limit()) == 1009
    assert get(q) == "limit"


def test_write_deadline(app):
    q = queue.Queue()

    def h(conn):
        conn.set_write_deadline(0.3)
        chunk = b"x" * (256 * 1024)
        try:
            for i in range(400):  # at most 100 MiB: more than loopback buffers hold
                conn.write_message(fiberws.BINARY_MESSAGE, chunk)
            q.put("never blocked")
        except fiberws.TimeoutError:
            q.put("timeout")
        except fiberws.Error as e:
            q.put(repr(e))

    port = serve(app, h)
    c = RawClient(port)
    try:
        assert c.handshake("/t") == 101
        assert get(q, 30) == "timeout"  # the client never reads
    finally:
        c.close()


def test_prepared_message_and_join(app):
    q = queue.Queue()
    pm = fiberws.PreparedMessage(fiberws.TEXT_MESSAGE, "prepared")

    def h(conn):
        conn.write_prepared(pm)
        conn.write_prepared(pm)
        q.put(fiberws.join_messages(conn, 3, "\n").read())
        q.put(conn.join_messages(2).read())

    port = serve(app, h)

    async def client():
        async with websockets.connect(url(port, "/t")) as ws:
            got = [await ws.recv(), await ws.recv()]
            for m in ["a", "b", b"c", "d", "e"]:
                await ws.send(m)
            await asyncio.sleep(0.2)
            return got

    assert run(client()) == ["prepared", "prepared"]
    assert get(q) == b"a\nb\nc\n"
    assert get(q) == b"de"
    pm.close()
    pm.close()
    with fiberws.PreparedMessage(fiberws.BINARY_MESSAGE, b"x") as pm2:
        assert pm2._h
    assert not pm2._h


def test_write_compression_switches(app):
    q = queue.Queue()

    def h(conn):
        for enable in (False, True):
            conn.enable_write_compression(enable)
            conn.set_compression_level(9)
            conn.write_message(fiberws.TEXT_MESSAGE, "z" * 500)
        try:
            conn.set_compression_level(10)
        except fiberws.InvalidArgumentError as e:
            q.put(e.result)
        conn.read_message()

    port = serve(app, h, config=fiberws.Config(enable_compression=True))
    c = RawClient(port)
    try:
        assert c.handshake("/t", "Sec-WebSocket-Extensions: permessage-deflate\r\n") == 101
        assert [c.recv_frame()[1] for _ in range(2)] == [False, True]
        assert get(q) == fiberws.Result.ERR_INVALID_ARGUMENT
        c.send_frame(1, b"end")
    finally:
        c.close()


def test_conn_after_handler_returned(app):
    q = queue.Queue()
    port = serve(app, q.put)

    async def client():
        async with websockets.connect(url(port, "/t")) as ws:
            await asyncio.sleep(0.1)

    run(client())
    conn = get(q)
    conn.close()  # does nothing
    with pytest.raises(fiberws.InvalidStateError):
        conn.write_message(fiberws.TEXT_MESSAGE, "x")
    with pytest.raises(fiberws.InvalidStateError):
        conn.params("id")
    assert "ended" in repr(conn)
