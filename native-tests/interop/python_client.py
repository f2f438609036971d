"""Interop: Python `websockets` (Debian python3-websockets) against the seed example.
Usage: /usr/bin/python3 python_client.py URL [--deflate]
With --deflate the client offers permessage-deflate (its default: context takeover, client_max_window_bits) and the
server must accept it; without, the server must decline an offer when compression is not enabled."""
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


async def main(url, deflate):
    async with websockets.connect(url, compression="deflate" if deflate else None, max_size=64 << 20,
                                  open_timeout=10, close_timeout=5) as ws:
        if deflate:
            check("permessage-deflate" in (ws.response_headers.get("Sec-WebSocket-Extensions") or ""), "deflate not negotiated")
        for msg in ["hello from python", b"\x00\x01\xfe\xff", "κόσμε", os.urandom(300_000), "", "{\"k\": 1} " * 5000,
                    b"\x00" * (3 << 20)]:
            await ws.send(msg)
            echo = await asyncio.wait_for(ws.recv(), 10)
            check(echo == msg, f"echo of {type(msg).__name__} of {len(msg)}")
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, 10)
        check(True, "pong received")
        await ws.close(1000, "bye")
        check(ws.close_code == 1000, f"close code {ws.close_code}")
    if not deflate:
        # A second connection offering permessage-deflate: a server without compression enabled must decline it.
        async with websockets.connect(url, open_timeout=10, close_timeout=5) as ws:
            check(ws.response_headers.get("Sec-WebSocket-Extensions") is None, "extension accepted though not enabled")
            await ws.send("x" * 1000)
            check(await asyncio.wait_for(ws.recv(), 10) == "x" * 1000, "echo with compression offered")


asyncio.run(asyncio.wait_for(main(sys.argv[1], "--deflate" in sys.argv[2:]), 60))
print(f"python websockets interop: {passed} passed, {failed} failed")
sys.exit(0 if failed == 0 and passed > 0 else 1)
