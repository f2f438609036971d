"""wss:// against build/bin/echoserver --tls-cert/--tls-key, with Python's ssl module and websockets (Debian).
Usage: /usr/bin/python3 tls_client.py PORT CA_FILE [--deflate]
Checks: certificate verified against CA_FILE (hostname localhost), TLS 1.2+ and ALPN http/1.1, echo of 0 B..4 MiB
text and binary, 20 concurrent connections, a plain HTTP request over TLS (426), and that hostile TLS clients
(plaintext to the TLS port, a torn-off ClientHello, a reset mid-handshake, a client offering only h2) neither
crash nor block the server."""
import asyncio
import os
import socket
import ssl
import struct
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


def context(ca, alpn=("http/1.1",)):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


async def echo_session(port, ca, deflate, sizes):
    async with websockets.connect(f"wss://localhost:{port}/echo", ssl=context(ca), max_size=None,
                                  compression="deflate" if deflate else None, open_timeout=10, close_timeout=5) as ws:
        tls = ws.transport.get_extra_info("ssl_object")
        check(tls.selected_alpn_protocol() == "http/1.1", f"ALPN: {tls.selected_alpn_protocol()!r}")
        check(tls.version() in ("TLSv1.2", "TLSv1.3"), f"version {tls.version()}")
        if deflate:
            check("permessage-deflate" in (ws.response_headers.get("Sec-WebSocket-Extensions") or ""), "deflate not negotiated")
        for size in sizes:
            blob = os.urandom(size)
            await ws.send(blob)
            check(await ws.recv() == blob, f"binary echo of {size} bytes")
            text = ("wss κόσμε " * (size // 12 + 1))[:size]
            await ws.send(text)
            check(await ws.recv() == text, f"text echo of {len(text)} chars")
        await ws.close()
        check(ws.close_code == 1000, f"close code {ws.close_code}")


def https_get(port, ca):
    """A plain HTTP request to the WebSocket route over TLS: 426 Upgrade Required, over HTTP/1.1."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    with context(ca).wrap_socket(raw, server_hostname="localhost") as s:
        s.sendall(b"GET /echo HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    check(data.startswith(b"HTTP/1.1 426"), f"https GET answered {data[:40]!r}")


def hostile_clients(port, ca):
    # Plaintext HTTP to the TLS port: the server must drop it, not answer in the clear or hang.
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        data = s.recv(100)
    except (ConnectionResetError, socket.timeout):
        data = b""
    check(not data.startswith(b"HTTP/"), f"plaintext request answered in the clear: {data[:30]!r}")
    s.close()
    # Half a ClientHello, then close; and a reset mid-handshake (SO_LINGER 0).
    for linger in (False, True):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(40))
        if linger:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    # Random garbage that looks like a TLS record header with a huge length.
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"\x16\x03\x03\xff\xff" + os.urandom(2000))
    s.close()
    # A client that speaks only h2: ALPN is not agreed, the handshake still succeeds and HTTP/1.1 works.
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    with context(ca, alpn=("h2",)).wrap_socket(raw, server_hostname="localhost") as t:
        check(t.selected_alpn_protocol() is None, f"ALPN with an h2-only client: {t.selected_alpn_protocol()!r}")
        t.sendall(b"GET /nope HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        check(t.recv(100).startswith(b"HTTP/1.1 404"), "404 over TLS without ALPN")
    # A client that does not trust our certificate fails its own verification: nothing to see on the server.
    try:
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        ssl.create_default_context().wrap_socket(raw, server_hostname="localhost")
        check(False, "an untrusted self-signed certificate was accepted")
    except ssl.SSLCertVerificationError:
        check(True, "")


async def main(port, ca, deflate):
    await echo_session(port, ca, deflate, [0, 1, 125, 126, 16383, 16384, 65536, 300_000, 4 << 20])
    https_get(port, ca)
    hostile_clients(port, ca)
    # 20 connections at once, with interleaved medium messages, after the hostile ones: the server still serves.
    await asyncio.gather(*(echo_session(port, ca, deflate, [10, 20_000, 70_000]) for _ in range(20)))


if __name__ == "__main__":
    port, ca = int(sys.argv[1]), sys.argv[2]
    asyncio.run(asyncio.wait_for(main(port, ca, "--deflate" in sys.argv), 120))
    print(f"tls_client: {passed} passed, {failed} failed")
    sys.exit(1 if failed or not passed else 0)
