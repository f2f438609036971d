"""Shared fixtures: the package from this source tree, a hard time bound per test, an app on an ephemeral port."""
import asyncio
import faulthandler
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))  # bindings/python: test this tree's fiberws, not an installed one

import fiberws  # noqa: E402  (an ImportError here is a loud failure: set FIBERWS_LIBRARY)

#: Hard bound of every test, in seconds: past it the whole run dies with every thread's traceback.
TEST_TIMEOUT = float(os.environ.get("FIBERWS_TEST_TIMEOUT", "90"))


@pytest.fixture(scope="session")
def _real_stderr(request):
    """The terminal's stderr, not pytest's capture file, so a timeout's tracebacks are seen."""
    capman = request.config.pluginmanager.getplugin("capturemanager")
    if capman is not None:
        with capman.global_and_fixture_disabled():
            fd = os.dup(2)
    else:
        fd = os.dup(2)
    with os.fdopen(fd, "w") as f:
        yield f


@pytest.fixture(autouse=True)
def _time_bound(_real_stderr, request):
    # faulthandler's watchdog is a C thread: it fires even if a thread holds the GIL forever (a deadlock).
    faulthandler.dump_traceback_later(TEST_TIMEOUT, exit=True, file=_real_stderr)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture
def app():
    a = fiberws.App()
    yield a
    a.close()


def run(coro, timeout=20.0):
    """Runs a coroutine with a time bound (asyncio.TimeoutError past it)."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def url(port, path):
    return f"ws://127.0.0.1:{port}{path}"
