"""Operations from Python: plain HTTP routes, TLS, stats, the log handler, keepalive, the connection cap."""
import asyncio
import os
import shutil
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest
import websockets

import fiberws
from conftest import run, url


def test_http_routes(app):
    @app.get("/")
    def index(c):
        return f"<h1>hi {c.query('name', 'there')}</h1>"

    @app.get("/api/:id")
    def api(c):
        return 201, "application/json", b'{"id": "%s"}' % c.params("id").encode()

    @app.get("/boom")
    def boom(c):
        raise RuntimeError("broken page")

    port = app.start("127.0.0.1:0")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/?name=py", timeout=5) as r:
        assert r.status == 200
        assert r.headers["Content-Type"] == "text/html; charset=utf-8"
        assert r.read() == b"<h1>hi py</h1>"
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/42", timeout=5) as r:
        assert r.status == 201 and r.headers["Content-Type"] == "application/json"
        assert r.read() == b'{"id": "42"}'
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/boom", timeout=5)
    assert e.value.code == 500


def test_stats_count_messages_and_refusals(app):
    @app.websocket("/echo")
    def echo(conn):
        for mt, msg in conn:
            conn.write_message(mt, msg)

    port = app.start("127.0.0.1:0")

    async def client():
        async with websockets.connect(url(port, "/echo")) as ws:
            for _ in range(5):
                await ws.send(b"12345678")
                assert await ws.recv() == b"12345678"

    run(client())
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/missing", timeout=5)
    s = app.stats()
    for _ in range(100):  # a write is counted once it returned: the last echo may arrive a moment earlier
        if s["messages_out"] >= 5:
            break
        time.sleep(0.01)
        s = app.stats()
    assert s["messages_in"] == 5 and s["messages_out"] == 5
    assert s["bytes_in"] == 40 and s["bytes_out"] == 40
    assert s["refused_not_found"] == 1 and s["websockets_opened"] == 1


def test_log_handler_receives_handler_failures(app):
    seen = []
    fiberws.set_log_handler(lambda level, text: seen.append((level, text)), fiberws.LogLevel.DEBUG)
    try:
        @app.get("/boom")
        def boom(c):
            return 1 / 0

        port = app.start("127.0.0.1:0")
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/boom", timeout=5)
        assert any(level == fiberws.LogLevel.ERROR and "/boom" in text for level, text in seen), seen
    finally:
        fiberws.set_log_handler(None)


def test_keepalive_closes_a_silent_peer():
    closed = []
    with fiberws.App() as app:
        @app.websocket("/ka", config=fiberws.Config(ping_interval=0.2, pong_timeout=0.3))
        def handler(conn):
            try:
                for mt, msg in conn:
                    pass
            except fiberws.CloseError as e:
                closed.append(e.code)

        port = app.start("127.0.0.1:0")

        async def silent():
            # websockets answers pings automatically; a raw socket that never reads or writes does not.
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /ka HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
            await writer.drain()
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            await asyncio.sleep(1.5)
            writer.close()

        run(silent())
        assert closed == [1006]


def test_connection_cap_answers_503():
    with fiberws.App(max_connections=1) as app:
        @app.websocket("/echo")
        def echo(conn):
            for mt, msg in conn:
                conn.write_message(mt, msg)

        port = app.start("127.0.0.1:0")

        async def client():
            async with websockets.connect(url(port, "/echo")):
                with pytest.raises(websockets.exceptions.InvalidStatusCode) as e:
                    async with websockets.connect(url(port, "/echo")):
                        pass
                assert e.value.status_code == 503

        run(client())
        assert app.stats()["refused_too_many_connections"] == 1


def test_tls_echo():
    assert shutil.which("openssl"), "openssl is needed to make a test certificate (./build.sh test installs it)"
    with tempfile.TemporaryDirectory() as d:
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost", "-keyout", key, "-out", cert],
                       check=True, capture_output=True)
        with fiberws.App() as app:
            @app.websocket("/echo")
            def echo(conn):
                for mt, msg in conn:
                    conn.write_message(mt, msg)

            port = app.start_tls("127.0.0.1:0", cert, key)
            ctx = ssl.create_default_context(cafile=cert)

            async def client():
                async with websockets.connect(f"wss://localhost:{port}/echo", ssl=ctx) as ws:
                    await ws.send("over tls")
                    assert await ws.recv() == "over tls"

            run(client())
        with fiberws.App() as app:
            with pytest.raises(fiberws.InvalidArgumentError, match="not found"):
                app.start_tls("127.0.0.1:0", os.path.join(d, "missing.pem"), key)
