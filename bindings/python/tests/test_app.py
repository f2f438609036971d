"""App lifetime: start/listen/shutdown/close, the with statement, callbacks kept alive, garbage collection."""
import asyncio
import gc
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import websockets

import fiberws
from conftest import run, url

PKG_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(fiberws.__file__)))


def test_with_statement_frees():
    with fiberws.App() as app:
        app.websocket("/w", lambda c: None)
        assert app.start("127.0.0.1:0") > 0
    assert app._h is None
    app.close()  # idempotent
    with pytest.raises(fiberws.InvalidStateError):
        app.start("127.0.0.1:0")


def test_app_settings():
    with fiberws.App(max_header_bytes=512, header_read_timeout=2.0, handler_stack_kib=512,
                     close_timeout=0.5) as app:
        app.websocket("/s", lambda c: c.write_message(fiberws.TEXT_MESSAGE, "ok"))
        port = app.start("127.0.0.1:0")

        async def client(headers):
            async with websockets.connect(url(port, "/s"), extra_headers=headers) as ws:
                return await ws.recv()

        assert run(client({})) == "ok"
        with pytest.raises(websockets.InvalidStatusCode) as e:
            run(client({"X-Big": "x" * 600}))
        assert e.value.status_code == 431
    with pytest.raises(fiberws.InvalidArgumentError):
        fiberws.App(max_header_bytes=10)


def test_listen_returns_after_shutdown_from_another_thread():
    with fiberws.App() as app:
        app.websocket("/x", lambda c: None)
        threading.Timer(0.3, app.shutdown).start()
        t0 = time.monotonic()
        app.listen("127.0.0.1:0")
        assert time.monotonic() - t0 < 5
        assert app.port and app.port > 0


def test_ctrl_c_stops_listen_cleanly():
    code = (
        "import fiberws, sys\n"
        "app = fiberws.App()\n"
        "app.websocket('/x', lambda c: None)\n"
        "print('ready', flush=True)\n"
        "app.listen('127.0.0.1:0')\n"
        "print('listen returned', flush=True)\n"
        "app.close()\n"
    )
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ, PYTHONPATH=PKG_PARENT))
    try:
        assert p.stdout.readline().strip() == "ready"
        time.sleep(0.3)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=15)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == 0, err
    assert out.strip() == "listen returned" and "Traceback" not in err


def test_exit_with_running_app_and_connections_is_clean():
    code = (
        "import fiberws, wsraw\n"
        "app = fiberws.App()\n"
        "@app.websocket('/x')\n"
        "def h(c):\n"
        "    for mt, m in c: c.write_message(mt, m)\n"
        "port = app.start('127.0.0.1:0')\n"
        "ws = wsraw.RawClient(port)\n"
        "assert ws.handshake('/x') == 101\n"
        "ws.send_frame(1, b'hi'); assert ws.recv_frame()[3] == b'hi'\n"
        "print('exiting', flush=True)\n"  # the interpreter exits with the app running and a handler blocked
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, PYTHONPATH=PKG_PARENT + os.pathsep + os.path.dirname(__file__)))
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "exiting" and "Traceback" not in p.stderr and "Fatal" not in p.stderr


def test_callbacks_survive_garbage_collection(app):
    # Handlers defined inline and dropped by the caller: the App keeps the CFUNCTYPE objects alive.
    def register():
        app.use("/", lambda c: c.next())
        app.websocket("/g", lambda conn: [conn.write_message(mt, m) for mt, m in conn],
                      config=fiberws.Config(filter=lambda c: True, write_buffer_pool=fiberws.BufferPool()))
        app.websocket_events("/e", on_message=lambda conn, mt, d: conn.send(mt, d))

    register()
    gc.collect()
    port = app.start("127.0.0.1:0")
    gc.collect()

    async def client(path):
        async with websockets.connect(url(port, path)) as ws:
            for i in range(3):
                await ws.send(f"m{i}")
                assert await ws.recv() == f"m{i}"
                gc.collect()

    run(client("/g"))
    run(client("/e"))


def test_unreferenced_stopped_app_is_collected():
    import weakref
    app = fiberws.App()
    app.websocket("/x", lambda c: None)
    app.start("127.0.0.1:0")
    ref = weakref.ref(app)
    del app
    gc.collect()
    assert ref() is not None  # running apps are kept alive
    ref().shutdown()
    gc.collect()
    assert ref() is None


def test_register_after_start_is_invalid_state(app):
    app.start("127.0.0.1:0")
    with pytest.raises(fiberws.InvalidStateError):
        app.use("/late", lambda c: c.next())
    with pytest.raises(fiberws.InvalidStateError):
        app.websocket_events("/late", on_open=lambda c: None)
    with pytest.raises(fiberws.InvalidStateError):
        app.start("127.0.0.1:0")


def test_publish_before_start_is_invalid_state(app):
    with pytest.raises(fiberws.InvalidStateError):
        app.publish("t", "x")
