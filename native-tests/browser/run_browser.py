"""Headless Chromium against a fiberws echo server: text and binary messages of 0 B to 1 MiB, with and without
permessage-deflate, on the blocking and the event API. The page is served by a small HTTP server here and posts
its result back. Usage: /usr/bin/python3 run_browser.py ECHOSERVER"""
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


class Harness(http.server.BaseHTTPRequestHandler):
    result = None
    done = threading.Event()

    def do_GET(self):
        with open(os.path.join(HERE, "page.html"), "rb") as f:
            body = f.read()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        Harness.result = json.loads(self.rfile.read(n))
        self.send_response(204)
        self.end_headers()
        Harness.done.set()

    def log_message(self, *args):
        pass


def run_case(echoserver, flags, expect_deflate):
    ws_port = free_port()
    server = subprocess.Popen([echoserver, "--addr", f"127.0.0.1:{ws_port}", *flags],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Harness)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    profile = tempfile.mkdtemp(prefix="fws-chromium-")
    browser = None
    try:
        if not wait_port(ws_port):
            return 0, 1, ["echoserver did not start"]
        Harness.result = None
        Harness.done.clear()
        url = f"http://127.0.0.1:{httpd.server_address[1]}/?ws=ws://127.0.0.1:{ws_port}/echo"
        browser = subprocess.Popen([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                                    "--no-first-run", "--disable-background-networking", "--disable-component-update",
                                    "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
                                    "--remote-debugging-port=0", url],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not Harness.done.wait(90):
            return 0, 1, ["the page reported no result within 90 s"]
        r = Harness.result
        failures = list(r["failures"])
        passed, failed = r["passed"], r["failed"]
        has_deflate = "permessage-deflate" in (r["extensions"] or "")
        if has_deflate == expect_deflate:
            passed += 1
        else:
            failed += 1
            failures.append(f"ws.extensions is {r['extensions']!r}")
        return passed, failed, failures
    finally:
        if browser:
            browser.kill()
            browser.wait()
        httpd.shutdown()
        server.terminate()
        server.wait(10)
        shutil.rmtree(profile, ignore_errors=True)


def main():
    if not CHROMIUM:
        print("FAIL: chromium is not installed (./build.sh test installs the Debian package)")
        return 1
    echoserver = sys.argv[1]
    total_p = total_f = 0
    for flags, deflate in [([], False), (["--compress"], True), (["--events"], False), (["--events", "--compress"], True)]:
        p, f, failures = run_case(echoserver, flags, deflate)
        print(f"chromium {' '.join(flags) or '(blocking)'}: {p} passed, {f} failed {failures if failures else ''}")
        total_p += p
        total_f += f
    print(f"browser interop: {total_p} passed, {total_f} failed")
    return 0 if total_f == 0 and total_p > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
