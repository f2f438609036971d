#!/usr/bin/env python3
"""Packaging check: pip-installs bindings/python (with the library copied in) into a temporary target directory,
offline, then imports fiberws from another directory with PYTHONPATH=that directory and no FIBERWS_LIBRARY, and
runs a tiny echo round trip.

Usage: install_check.py [LIBRARY]      (default: $FIBERWS_LIBRARY)       Exit 0 when everything worked.
"""
import os
import shutil
import subprocess
import sys
import tempfile

PKG_SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # bindings/python

ROUND_TRIP = r'''
import asyncio, os, sys
assert "FIBERWS_LIBRARY" not in os.environ
import fiberws
site = sys.argv[1]
assert os.path.realpath(fiberws.__file__).startswith(os.path.realpath(site)), fiberws.__file__
assert fiberws.library_path == os.path.join(os.path.dirname(fiberws.__file__), "libfiberws.so"), fiberws.library_path
assert os.path.isfile(os.path.join(os.path.dirname(fiberws.__file__), "py.typed"))
import websockets
with fiberws.App() as app:
    @app.websocket("/ws/:id")
    def echo(conn):
        for mt, msg in conn:
            conn.write_message(mt, msg + conn.params("id").encode())
    port = app.start("127.0.0.1:0")
    async def main():
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws/7") as ws:
            await ws.send(b"echo-")
            return await ws.recv()
    got = asyncio.run(asyncio.wait_for(main(), 20))
    assert got == b"echo-7", got
print("round trip ok:", fiberws.library_version(), fiberws.library_path)
'''


def main():
    library = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("FIBERWS_LIBRARY")
    if not library or not os.path.isfile(library):
        sys.exit(f"install_check: give the built libfiberws.so as argument or FIBERWS_LIBRARY (got {library!r})")
    tmp = tempfile.mkdtemp(prefix="fiberws-install-")
    try:
        src, site, elsewhere = (os.path.join(tmp, d) for d in ("src", "site", "elsewhere"))
        shutil.copytree(PKG_SRC, src, ignore=shutil.ignore_patterns(
            "tests", "examples", "__pycache__", "build", "*.egg-info", "libfiberws.so*"))
        shutil.copyfile(library, os.path.join(src, "fiberws", "libfiberws.so"))  # follows symlinks (cp -L)
        os.mkdir(elsewhere)
        cmd = [sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps", "--no-index",
               "--disable-pip-version-check", "--no-cache-dir", "--quiet", "--root-user-action=ignore", "--target", site, src]
        print("install_check:", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True, timeout=300)
        wheel_info = [os.path.join(site, d, "WHEEL") for d in os.listdir(site) if d.endswith(".dist-info")]
        assert len(wheel_info) == 1, os.listdir(site)
        with open(wheel_info[0]) as f:
            wheel = f.read()
        assert "Root-Is-Purelib: false" in wheel and "Tag: py3-none-linux_" in wheel, wheel
        env = {k: v for k, v in os.environ.items() if k not in ("FIBERWS_LIBRARY", "PYTHONPATH")}
        env["PYTHONPATH"] = site
        subprocess.run([sys.executable, "-c", ROUND_TRIP, site], check=True, cwd=elsewhere, env=env, timeout=120)
        print("install_check: OK")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
