"""The browser chat demo (bindings/c/examples/chat/chat.c) driven in headless Chromium over the DevTools protocol:
two pages (?name=alice and ?name=bob) load the page the demo serves, connect to /chat, and each types a message
that must show up in the other page. A PNG screenshot of bob's page is saved at the end.

Usage: /usr/bin/python3 run_chat.py CHAT OUTPUT   (OUTPUT: a directory, which gets chat.png, or a path ending in .png)

Debian packages only: chromium and python3-websockets (10.x, asyncio client)."""
import asyncio
import base64
import json
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib

import websockets

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
OVERALL_TIMEOUT = 60  # seconds, for everything after the processes are started
STEP_TIMEOUT = 15     # seconds, for any single wait


class CdpError(Exception):
    pass


class Cdp:
    """A minimal DevTools protocol client on one browser WebSocket, with flat sessions for the pages."""

    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0
        self.pending = {}
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self):
        try:
            async for raw in self.ws:
                msg = json.loads(raw)
                fut = self.pending.pop(msg.get("id"), None)
                if fut is not None and not fut.done():
                    if "error" in msg:
                        fut.set_exception(CdpError(msg["error"].get("message", str(msg["error"]))))
                    else:
                        fut.set_result(msg.get("result", {}))
        except websockets.ConnectionClosed:
            pass
        finally:
            for fut in self.pending.values():
                if not fut.done():
                    fut.set_exception(CdpError("the DevTools connection closed"))

    async def send(self, method, params=None, session=None, timeout=STEP_TIMEOUT):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        fut = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = fut
        await self.ws.send(json.dumps(msg))
        return await asyncio.wait_for(fut, timeout)

    async def evaluate(self, session, expression):
        r = await self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                 "awaitPromise": True}, session)
        if "exceptionDetails" in r:
            raise CdpError(f"{expression!r} threw: {r['exceptionDetails'].get('text')}")
        return r["result"].get("value")

    async def wait_for(self, session, expression, what, timeout=STEP_TIMEOUT):
        """Polls expression until it is truthy; errors while the page is still loading count as not yet."""
        end = time.monotonic() + timeout
        last = None
        while time.monotonic() < end:
            try:
                value = await self.evaluate(session, expression)
                if value:
                    return value
            except CdpError as e:
                last = e
            await asyncio.sleep(0.05)
        detail = f"; last error: {last}" if last else ""
        raise TimeoutError(f"{what}: not true within {timeout} s ({expression}){detail}")

    async def close(self):
        self.reader.cancel()
        await self.ws.close()


def start_chat(chat):
    """Starts the demo on an ephemeral port (127.0.0.1:0) and returns (process, port) from "listening on PORT"."""
    proc = subprocess.Popen([chat, "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        end = time.monotonic() + 10
        line = b""
        while time.monotonic() < end and not line.endswith(b"\n"):
            ready, _, _ = select.select([proc.stdout], [], [], 0.1)
            if ready:
                ch = os.read(proc.stdout.fileno(), 1)
                if not ch:
                    break
                line += ch
        text = line.decode(errors="replace").strip()
        if not text.startswith("listening on "):
            try:
                proc.wait(1)  # it probably exited: report its status and stderr
            except subprocess.TimeoutExpired:
                pass
            err = proc.stderr.read().decode(errors="replace") if proc.poll() is not None else ""
            raise RuntimeError(f"chat did not start: stdout {text!r}, exit status {proc.poll()} {err}")
        return proc, int(text.split()[-1])
    except BaseException:
        stop(proc)
        proc.stdout.close()
        proc.stderr.close()
        raise


def start_chromium(profile):
    log = open(os.path.join(profile, "chromium.log"), "wb")
    proc = subprocess.Popen([CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
                             "--disable-background-networking", "--disable-quic", "--no-first-run",
                             "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                             "--window-size=900,640", "--remote-debugging-port=0",
                             f"--user-data-dir={profile}", "about:blank"],
                            stdout=log, stderr=log, start_new_session=True)
    log.close()
    # Chromium writes "PORT\n/devtools/browser/ID" once the DevTools server listens.
    port_file = os.path.join(profile, "DevToolsActivePort")
    try:
        end = time.monotonic() + 20
        while time.monotonic() < end:
            if proc.poll() is not None:
                raise RuntimeError(f"chromium exited with status {proc.returncode}")
            try:
                with open(port_file) as f:
                    lines = f.read().split("\n")
                if len(lines) >= 2 and lines[0].strip() and lines[1].strip():
                    return proc, f"ws://127.0.0.1:{int(lines[0])}{lines[1].strip()}"
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        raise RuntimeError("chromium wrote no DevToolsActivePort within 20 s")
    except BaseException:
        stop(proc, group=True)
        raise


def stop(proc, group=False):
    """Ends a process this script started: SIGTERM, then SIGKILL after 5 s. With group (chromium, started in a
    session of its own), whatever is left of its process group (renderers, zygote) is killed too."""
    if proc is None:
        return
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    if group:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def check_png(data):
    """Asserts data is a well-formed PNG with a non-trivial, non-blank image; returns (width, height)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    pos, chunks, idat = 8, [], b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc, = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in chunk {kind!r}"
        chunks.append(kind)
        if kind == b"IDAT":
            idat += body
        pos += 12 + length
        if kind == b"IEND":
            break
    assert chunks[0] == b"IHDR" and chunks[-1] == b"IEND" and b"IDAT" in chunks, f"bad chunk sequence {chunks}"
    width, height, depth, color = struct.unpack(">IIBB", data[16:26])
    assert width >= 300 and height >= 200, f"image too small: {width}x{height}"
    assert len(data) > 5000, f"PNG only {len(data)} bytes"
    pixels = zlib.decompress(idat)
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color]
    assert len(pixels) == height * (1 + width * channels * depth // 8), "decompressed size does not match IHDR"
    assert len(set(pixels[i] for i in range(0, len(pixels), 7))) > 16, "the image is (nearly) blank"
    return width, height


def messages_with(text):
    return f"window.chatMessages.some(function (m) {{ return m.kind === 'msg' && m.text === {json.dumps(text)}; }})"


async def open_page(cdp, url):
    target = (await cdp.send("Target.createTarget", {"url": url}))["targetId"]
    session = (await cdp.send("Target.attachToTarget", {"targetId": target, "flatten": True}))["sessionId"]
    return target, session


async def type_and_send(cdp, session, text, use_mouse):
    """Types text into the page's input like a user (focus, Input.insertText) and sends it with Enter or a click."""
    await cdp.send("Page.bringToFront", session=session)
    await cdp.wait_for(session, "!document.getElementById('input').disabled", "the input is enabled")
    await cdp.evaluate(session, "document.getElementById('input').focus(); document.activeElement.id")
    await cdp.send("Input.insertText", {"text": text}, session)
    typed = await cdp.evaluate(session, "document.getElementById('input').value")
    assert typed == text, f"the input holds {typed!r}, not {text!r}"
    if use_mouse:
        box = await cdp.evaluate(session, "(function () { var r = document.getElementById('send')"
                                          ".getBoundingClientRect();"
                                          " return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        for kind in ("mousePressed", "mouseReleased"):
            await cdp.send("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1], "button": "left",
                                                        "clickCount": 1}, session)
    else:
        for kind in ("keyDown", "keyUp"):
            params = {"type": kind, "key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13}
            if kind == "keyDown":
                params["text"] = "\r"
            await cdp.send("Input.dispatchKeyEvent", params, session)
    # The form clears the input once the message went out on the socket.
    await cdp.wait_for(session, "document.getElementById('input').value === ''", "the input was cleared after sending")


async def scenario(cdp, port, png_path):
    base = f"http://127.0.0.1:{port}/"
    _, alice = await open_page(cdp, base + "?name=alice")
    await cdp.wait_for(alice, "window.chatOpen === true", "alice's page connected")
    _, bob = await open_page(cdp, base + "?name=bob")
    await cdp.wait_for(bob, "window.chatOpen === true", "bob's page connected")
    # Both see bob join, so the name travelled through the query string; two are online.
    joined = ("window.chatMessages.some(function (m) { return m.kind === 'join' && m.name === 'bob' "
              "&& m.online === 2; })")
    await cdp.wait_for(alice, joined, "alice saw bob join")
    await cdp.wait_for(bob, joined, "bob saw himself join")

    hello = "Hello Bob! \u00e9\u2603 <b>not bold</b> & \"quotes\""
    await type_and_send(cdp, alice, hello, use_mouse=False)
    await cdp.wait_for(bob, messages_with(hello), "bob received alice's message")
    await cdp.wait_for(alice, messages_with(hello), "alice received her own message back")
    sender = await cdp.evaluate(bob, "window.chatMessages.filter(function (m) { return m.kind === 'msg'; })[0].name")
    assert sender == "alice", f"bob's first message is from {sender!r}"
    # Shown as text, never as markup.
    shown = await cdp.evaluate(bob, "[document.querySelectorAll('#messages b').length,"
                                    " document.getElementById('messages').textContent]")
    assert shown[0] == 0 and hello in shown[1], f"bob's page shows {shown!r}"

    reply = "Hi Alice, got it \u2713 (4-byte UTF-8: \U0001d70b)"
    await type_and_send(cdp, bob, reply, use_mouse=True)
    await cdp.wait_for(alice, messages_with(reply), "alice received bob's reply")
    await cdp.wait_for(bob, messages_with(reply), "bob received his own reply back")
    order = await cdp.evaluate(alice, "window.chatMessages.filter(function (m) { return m.kind === 'msg'; })"
                                      ".map(function (m) { return m.name + ': ' + m.text; })")
    assert order == [f"alice: {hello}", f"bob: {reply}"], f"alice's messages: {order!r}"

    await cdp.send("Page.bringToFront", session=bob)
    await cdp.send("Page.enable", session=bob)
    shot = await cdp.send("Page.captureScreenshot", {"format": "png"}, bob, timeout=20)
    data = base64.b64decode(shot["data"])
    width, height = check_png(data)
    with open(png_path, "wb") as f:
        f.write(data)
    return width, height, len(data)


async def run(chat_port, devtools_url, png_path):
    ws = await websockets.connect(devtools_url, max_size=None, ping_interval=None, open_timeout=10)
    cdp = Cdp(ws)
    try:
        return await scenario(cdp, chat_port, png_path)
    finally:
        await cdp.close()


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().split("\n\n")[1])
        return 2
    if not CHROMIUM:
        print("FAIL: chromium is not installed (./build.sh test installs the Debian package)")
        return 1
    chat, out = sys.argv[1], sys.argv[2]
    png_path = out if out.endswith(".png") else os.path.join(out, "chat.png")
    os.makedirs(os.path.dirname(os.path.abspath(png_path)), exist_ok=True)
    if os.path.exists(png_path):
        os.remove(png_path)

    started = time.monotonic()
    profile = tempfile.mkdtemp(prefix="fws-chat-chromium-")
    server = browser = None
    ok = False
    try:
        server, port = start_chat(chat)
        browser, devtools_url = start_chromium(profile)
        width, height, size = asyncio.run(asyncio.wait_for(run(port, devtools_url, png_path), OVERALL_TIMEOUT))
        # SIGINT while both pages are still connected: the demo shuts down (close 1001) and exits with 0.
        server.send_signal(signal.SIGINT)
        try:
            status = server.wait(10)
        except subprocess.TimeoutExpired:
            raise RuntimeError("chat did not exit within 10 s of SIGINT") from None
        assert status == 0, f"chat exited with status {status} after SIGINT"
        ok = True
        print(f"browser chat demo: alice and bob exchanged messages in {time.monotonic() - started:.1f} s")
        print(f"screenshot: {os.path.abspath(png_path)} ({width}x{height}, {size} bytes)")
    except Exception as e:  # asyncio.TimeoutError is TimeoutError (3.11); the overall one has no text
        print(f"FAIL: {type(e).__name__}: {str(e) or f'no result within {OVERALL_TIMEOUT} s'}")
    finally:
        stop(browser, group=True)
        stop(server)
        if not ok:
            for name, text in [("chat stderr", server.stderr.read() if server and server.stderr else b""),
                               ("chromium log", _tail(os.path.join(profile, "chromium.log")))]:
                if text.strip():
                    print(f"--- {name} ---\n{text.decode(errors='replace')[-3000:]}")
        if server:
            server.stdout.close()
            server.stderr.close()
        shutil.rmtree(profile, ignore_errors=True)
    return 0 if ok else 1


def _tail(path):
    try:
        with open(path, "rb") as f:
            return f.read()[-3000:]
    except OSError:
        return b""


if __name__ == "__main__":
    sys.exit(main())
