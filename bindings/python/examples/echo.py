#!/usr/bin/env python3
"""The seed example of gofiber/contrib websocket, line for line, in Python.

Usage: echo.py [ADDR]      (default ":3000"; e.g. "127.0.0.1:8080", "[::1]:0")
Access the websocket server: ws://localhost:3000/ws/123?v=1.0       Ctrl-C stops it.
"""
import logging
import sys

import fiberws

# Go's log.Println: a "2006/01/02 15:04:05 " prefix, one line per call.
logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(asctime)s %(message)s",
                    datefmt="%Y/%m/%d %H:%M:%S")
log = logging.getLogger("echo")

app = fiberws.App()


@app.use("/ws")
def upgrade(c: fiberws.Ctx) -> int:
    # IsWebSocketUpgrade returns true if the client
    # requested upgrade to the WebSocket protocol.
    if fiberws.is_websocket_upgrade(c):
        c.locals["allowed"] = True
        return c.next()
    raise fiberws.UpgradeRequired()  # fiber.ErrUpgradeRequired


@app.websocket("/ws/:id")
def handler(c: fiberws.Conn) -> None:
    # c.locals is added to the fiberws.Conn
    log.info("%s", c.locals.get("allowed"))   # True
    log.info("%s", c.params("id"))            # 123
    log.info("%s", c.query("v"))              # 1.0
    log.info("%r", c.cookies("session", ""))  # ''

    while True:
        try:
            mt, msg = c.read_message()
        except fiberws.Error as err:
            log.info("read: %s", err)
            break
        # Long messages are logged by their first 256 bytes so that 16 MiB echoes stay quick.
        text = msg[:256].decode("utf-8", "replace")
        log.info("recv: %s", text if len(msg) <= 256 else f"{text}... ({len(msg)} bytes)")
        try:
            c.write_message(mt, msg)
        except fiberws.Error as err:
            log.info("write: %s", err)
            break


addr = sys.argv[1] if len(sys.argv) > 1 else ":3000"
log.info("listening on %s", addr)
try:
    app.listen(addr)  # returns after Ctrl-C (or app.shutdown())
except fiberws.Error as err:  # log.Fatal(app.Listen(":3000"))
    log.critical("%s", err)
    sys.exit(1)
finally:
    app.close()
