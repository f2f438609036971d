"""The seed example: its values in-process, and examples/echo.py as a program (including Ctrl-C)."""
import asyncio
import http.client
import os
import signal
import socket
import subprocess
import sys
import time

import websockets

import fiberws
from conftest import run, url

EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "echo.py")


def seed_app(app, seen):
    @app.use("/ws")
    def upgrade(c):
        if fiberws.is_websocket_upgrade(c):
            c.locals["allowed"] = True
            return c.next()
        raise fiberws.UpgradeRequired()

    @app.websocket("/ws/:id")
    def echo(conn):
        seen.update(allowed=conn.locals["allowed"], id=conn.params("id"), v=conn.query("v"),
                    session=conn.cookies("session"), session_default=conn.cookies("session", default=""))
        for mt, msg in conn:
            conn.write_message(mt, msg)
        seen["end"] = conn.close_code


def test_seed_values_and_echo(app):
    seen = {}
    seed_app(app, seen)
    port = app.start("127.0.0.1:0")
    assert port > 0

    async def client():
        async with websockets.connect(url(port, "/ws/123?v=1.0")) as ws:
            out = []
            for m in ["hello", b"\x00\x01binary", "", "é" * 1000]:
                await ws.send(m)
                out.append(await ws.recv())
            return out

    assert run(client()) == ["hello", b"\x00\x01binary", "", "é" * 1000]
    deadline = time.monotonic() + 5
    while "end" not in seen and time.monotonic() < deadline:
        time.sleep(0.01)
    assert seen == {"allowed": True, "id": "123", "v": "1.0", "session": None, "session_default": "",
                    "end": 1000}


def test_plain_get_gets_426(app):
    seed_app(app, {})
    port = app.start("127.0.0.1:0")
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", "/ws/123")
    assert c.getresponse().status == 426
    c.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_example_program_echo_and_ctrl_c():
    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(EXAMPLE)), PYTHONUNBUFFERED="1")
    p = subprocess.Popen([sys.executable, EXAMPLE, f"127.0.0.1:{port}"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, env=env, text=True)
    try:
        async def client():
            for _ in range(100):
                try:
                    ws = await websockets.connect(url(port, "/ws/123?v=1.0"))
                    break
                except OSError:
                    await asyncio.sleep(0.05)
            else:
                raise AssertionError("example did not start")
            try:
                await ws.send("hello")
                return await ws.recv()
            finally:
                await ws.close()

        assert run(client()) == "hello"
        time.sleep(0.3)
        p.send_signal(signal.SIGINT)  # Ctrl-C: listen() shuts the app down and returns
        out, _ = p.communicate(timeout=15)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == 0, out
    lines = [line.split(" ", 2)[2] for line in out.splitlines() if line.count(" ") >= 2]
    assert lines[:5] == [f"listening on 127.0.0.1:{port}", "True", "123", "1.0", "''"], out
    assert "recv: hello" in lines
    assert any(line.startswith("read: websocket: close 1000") for line in lines), out
    assert "Traceback" not in out


def test_example_program_bind_failure_exits_1():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(EXAMPLE)))
        p = subprocess.run([sys.executable, EXAMPLE, f"127.0.0.1:{port}"], capture_output=True, text=True,
                           env=env, timeout=30)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "Traceback" not in p.stdout + p.stderr
