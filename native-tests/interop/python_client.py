"""Interop: Python `websockets` (Debian python3-websockets) against the seed example.
Usage: /usr/bin/python3 python_client.py URL"""
import asyncio
import os
import sys

import websockets

passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what, file=sys.stderr)


async def main(url):
    # compression=None: permessage-deflate is a later issue; the server must simply not accept the offer.
    async with websockets.connect(url, compression=None, max_size=64 << 20, open_timeout=10, close_timeout=5) as ws:
        for msg in ["hello from python", b"\x00\x01\xfe\xff", "κόσμε", os.urandom(300_000), ""]:
            await ws.send(msg)
            echo = await asyncio.wait_for(ws.recv(), 10)
            check(echo == msg, f"echo of {type(msg).__name__} of {len(msg)}")
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, 10)
        check(True, "pong received")
        await ws.close(1000, "bye")
        check(ws.close_code == 1000, f"close code {ws.close_code}")
    # A second connection offering permessage-deflate: the server must decline it (no extension accepted).
    async with websockets.connect(url, open_timeout=10, close_timeout=5) as ws:
        check(ws.response_headers.get("Sec-WebSocket-Extensions") is None, "extension accepted without support")
        await ws.send("x" * 1000)
        check(await asyncio.wait_for(ws.recv(), 10) == "x" * 1000, "echo with compression offered")


asyncio.run(asyncio.wait_for(main(sys.argv[1]), 60))
print(f"python websockets interop: {passed} passed, {failed} failed")
sys.exit(0 if failed == 0 and passed > 0 else 1)
