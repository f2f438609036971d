"""Exceptions: the result-code mapping, handler and middleware exceptions, recover handlers, helpers."""
import builtins
import http.client
import json

import pytest
import websockets

import fiberws
from conftest import run, url


def test_error_classes_map_every_failure_code():
    failures = [r for r in fiberws.Result if r < 0 and r != fiberws.Result.END_OF_MESSAGE]
    assert sorted(fiberws.ERRORS) == sorted(failures)
    for code, cls in fiberws.ERRORS.items():
        assert issubclass(cls, fiberws.Error) and cls.RESULT == code
        e = cls("msg", code) if cls is not fiberws.CloseError else cls(1000, "", "msg")
        assert e.result == code and e.result_name == "FWS_" + fiberws.Result(code).name
    assert issubclass(fiberws.TimeoutError, builtins.TimeoutError)
    assert issubclass(fiberws.InvalidArgumentError, ValueError)
    named = {"CloseError": -2, "ReadLimitError": -4, "CloseSentError": -3, "BadHandshakeError": -5,
             "TimeoutError": -6, "ProtocolError": -10, "NotFoundError": -7, "InvalidStateError": -8,
             "BackpressureError": -14}
    for name, code in named.items():
        assert fiberws.ERRORS[code] is getattr(fiberws, name)


def test_error_carries_last_error_message():
    with fiberws.App() as app:
        with pytest.raises(fiberws.InvalidArgumentError) as e:
            app.websocket("no-slash", lambda c: None)
        assert e.value.code == fiberws.Result.ERR_INVALID_ARGUMENT
        assert "pattern" in str(e.value) and e.value.message == str(e.value)
        app.start("127.0.0.1:0")
        with pytest.raises(fiberws.InvalidStateError):
            app.websocket("/late", lambda c: None)
        with pytest.raises(fiberws.IoError) as io:
            fiberws.App().start(f"127.0.0.1:{app.port}")  # the port is taken
        assert isinstance(io.value, OSError)


def test_default_recover_sends_error_and_1011(app, capfd):
    @app.websocket("/boom")
    def boom(conn):
        conn.read_message()
        raise ValueError('bad "input"\nhere')

    port = app.start("127.0.0.1:0")

    async def client():
        async with websockets.connect(url(port, "/boom")) as ws:
            await ws.send("go")
            msg = await ws.recv()
            with pytest.raises(websockets.ConnectionClosed) as e:
                await ws.recv()
            return msg, e.value.code

    msg, code = run(client())
    assert json.loads(msg) == {"error": 'bad "input"\nhere'}
    assert msg.startswith('{"error":')
    assert code == 1011
    err = capfd.readouterr().err
    assert "fiberws: handler on /boom failed:" in err and "Traceback" in err and "ValueError" in err


def test_base_exceptions_do_not_escape(app, capfd):
    @app.websocket("/exit")
    def h(conn):
        raise SystemExit(3)

    port = app.start("127.0.0.1:0")

    async def client():
        async with websockets.connect(url(port, "/exit")) as ws:
            await ws.recv()
            with pytest.raises(websockets.ConnectionClosed) as e:
                await ws.recv()
            return e.value.code

    assert run(client()) == 1011
    assert "SystemExit" in capfd.readouterr().err
    assert "Exception ignored on calling ctypes callback" not in capfd.readouterr().err


def test_failing_recover_handler_still_closes_1011(app, capfd):
    def recover(conn, exc):
        raise RuntimeError("recover broke too")

    @app.websocket("/r", config=fiberws.Config(recover_handler=recover))
    def h(conn):
        raise ValueError("first")

    port = app.start("127.0.0.1:0")

    async def client():
        async with websockets.connect(url(port, "/r")) as ws:
            with pytest.raises(websockets.ConnectionClosed) as e:
                await ws.recv()
            return e.value.code

    assert run(client()) == 1011
    assert "recover broke too" in capfd.readouterr().err


def status_of(port, path, upgrade=True):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    headers = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="} if upgrade else {}
    c.request("GET", path, headers=headers)
    s = c.getresponse().status
    c.close()
    return s


def test_middleware_results(app, capfd):
    @app.use("/")
    def mw(c):
        p = c.path
        if p == "/int":
            return 418
        if p == "/http":
            raise fiberws.HTTPError(403)
        if p == "/upgrade":
            raise fiberws.UpgradeRequired()
        if p == "/none":
            return None
        if p == "/raise":
            raise KeyError("mw broke")
        if p == "/bad":
            return "nonsense"
        if p == "/ok-forgot-return":
            c.next()
            return None
        return c.next()

    app.websocket("/ok", lambda conn: None)
    app.websocket("/ok-forgot-return", lambda conn: None)
    port = app.start("127.0.0.1:0")
    assert status_of(port, "/int") == 418
    assert status_of(port, "/http") == 403
    assert status_of(port, "/upgrade") == 426
    assert status_of(port, "/none") == 200
    assert status_of(port, "/raise") == 500
    assert status_of(port, "/bad") == 500
    assert status_of(port, "/missing") == 404
    assert status_of(port, "/ok") == 101
    assert status_of(port, "/ok-forgot-return") == 101
    err = capfd.readouterr().err
    assert "mw broke" in err and "nonsense" in err
    with pytest.raises(ValueError):
        fiberws.HTTPError(42)


def test_ctx_outside_callback_is_invalid(app):
    kept = []

    @app.use("/")
    def mw(c):
        kept.append(c)
        assert c.is_websocket_upgrade() is False
        assert c.ip == "127.0.0.1" and c.headers("host").startswith("127.0.0.1") and c.get("x-no") is None
        assert c.params("id") is None and c.query("q") == "1" and c.cookies("k", "d") == "d"
        return 204

    port = app.start("127.0.0.1:0")
    assert status_of(port, "/x?q=1", upgrade=False) == 204
    with pytest.raises(fiberws.InvalidStateError):
        kept[0].path


def test_format_close_message():
    assert fiberws.format_close_message(1000, "bye") == b"\x03\xe8bye"
    assert fiberws.format_close_message(4000) == b"\x0f\xa0"
    assert fiberws.format_close_message(fiberws.CLOSE_NO_STATUS_RECEIVED) == b""
    with pytest.raises(fiberws.InvalidArgumentError):
        fiberws.format_close_message(1006, "")
    with pytest.raises(fiberws.InvalidArgumentError):
        fiberws.format_close_message(1000, "x" * 124)


def test_close_error_helpers():
    e = fiberws.CloseError(1001, "away")
    assert e.code == 1001 and e.text == "away" and e.result == fiberws.Result.ERR_CLOSED
    assert fiberws.is_close_error(e, 1000, 1001)
    assert not fiberws.is_unexpected_close_error(e, 1000, 1001)
    assert fiberws.is_unexpected_close_error(e, 1000)
    assert not fiberws.is_close_error(ValueError(), 1001)
    assert not fiberws.is_unexpected_close_error(fiberws.TimeoutError(), 1000)
    assert str(e) == "websocket: close 1001: away"
