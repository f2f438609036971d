"""fiberws: a WebSocket server with the programming model of Fiber's websocket middleware.

The Pythonic layer over libfiberws (the generated ctypes declarations are in ``fiberws._ffi``)::

    app = fiberws.App()

    @app.use("/ws")
    def upgrade(c):
        if fiberws.is_websocket_upgrade(c):
            c.locals["allowed"] = True
            return c.next()
        raise fiberws.UpgradeRequired()

    @app.websocket("/ws/:id")
    def echo(conn):
        for mt, msg in conn:
            conn.write_message(mt, msg)

    app.listen(":3000")

Threads: middleware, filters and event-API callbacks run on the library's event loop thread (keep them short);
each connection handler runs on a thread of its own. The library is loaded with ``ctypes.CDLL``, so every call
into it releases the GIL and blocking reads never stall other handlers.
"""

from __future__ import annotations

import atexit
import builtins
import ctypes
import io
import itertools
import json
import os
import sys
import threading
import time
import traceback
import weakref
from dataclasses import dataclass
from typing import (
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    Optional,
    Protocol,
    Sequence,
    Tuple,
    Type,
    TypeVar,
    Union,
    overload,
)

from . import _ffi

__version__ = "0.1.0"

__all__ = [
    "App", "Config", "Ctx", "Conn", "MessageReader", "MessageWriter", "PreparedMessage", "BufferPool",
    "WriteBufferPool", "HTTPError", "UpgradeRequired",
    "Error", "InvalidArgumentError", "CloseError", "CloseSentError", "ReadLimitError", "BadHandshakeError",
    "TimeoutError", "NotFoundError", "InvalidStateError", "IoError", "ProtocolError", "InternalError",
    "BufferTooSmallError", "BusyError", "BackpressureError", "ERRORS",
    "format_close_message", "is_close_error", "is_unexpected_close_error", "join_messages",
    "is_websocket_upgrade", "library_version", "MessageType", "CloseCode", "Result", "NEXT",
    "TEXT_MESSAGE", "BINARY_MESSAGE", "CLOSE_MESSAGE", "PING_MESSAGE", "PONG_MESSAGE",
    "CLOSE_NORMAL_CLOSURE", "CLOSE_GOING_AWAY", "CLOSE_PROTOCOL_ERROR", "CLOSE_UNSUPPORTED_DATA",
    "CLOSE_NO_STATUS_RECEIVED", "CLOSE_ABNORMAL_CLOSURE", "CLOSE_INVALID_FRAME_PAYLOAD_DATA",
    "CLOSE_POLICY_VIOLATION", "CLOSE_MESSAGE_TOO_BIG", "CLOSE_MANDATORY_EXTENSION", "CLOSE_INTERNAL_SERVER_ERR",
    "CLOSE_SERVICE_RESTART", "CLOSE_TRY_AGAIN_LATER", "CLOSE_TLS_HANDSHAKE",
    "set_log_handler", "LogLevel",
]


# --------------------------------------------------------------------------------------------------
# Loading


def _load() -> ctypes.CDLL:
    env = os.environ.get("FIBERWS_LIBRARY")
    if env:
        path, origin = env, "FIBERWS_LIBRARY"
    else:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "libfiberws.so")
        origin = "the package"
        if not os.path.exists(path):
            raise ImportError(
                f"fiberws: {path} is missing: install the package with libfiberws.so copied into it "
                "(see bindings/python/README.md), or set FIBERWS_LIBRARY to the path of libfiberws.so")
    try:
        # CDLL, never PyDLL: CDLL releases the GIL during every call, so a blocking read in one handler
        # thread lets the other handler threads run Python.
        lib = ctypes.CDLL(path)
    except OSError as e:
        raise ImportError(f"fiberws: cannot load {path} (from {origin}): {e}") from e
    try:
        version_fn = lib.fws_version
    except AttributeError as e:
        raise ImportError(f"fiberws: {path} (from {origin}) is not libfiberws: it has no fws_version") from e
    version_fn.restype = ctypes.c_uint32
    version_fn.argtypes = []
    version = int(version_fn())
    major, minor, patch = version >> 16, (version >> 8) & 0xFF, version & 0xFF
    if major != _ffi.FWS_VERSION_MAJOR:
        raise ImportError(
            f"fiberws: {path} (from {origin}) is libfiberws {major}.{minor}.{patch}, but this binding needs "
            f"major version {_ffi.FWS_VERSION_MAJOR} ({_ffi.FWS_VERSION_MAJOR}.{_ffi.FWS_VERSION_MINOR}.x)")
    try:
        _ffi.bind(lib)  # type: ignore[no-untyped-call]
    except AttributeError as e:
        raise ImportError(
            f"fiberws: {path} (from {origin}, version {major}.{minor}.{patch}) lacks a function this binding "
            f"declares (binding built for {_ffi.FWS_VERSION_MAJOR}.{_ffi.FWS_VERSION_MINOR}."
            f"{_ffi.FWS_VERSION_PATCH}): {e}"
        ) from e
    return lib


_lib = _load()
#: The path the native library was loaded from.
library_path: str = _lib._name


def library_version() -> str:
    """The native library's version text, e.g. ``"0.1.0"``."""
    return (_lib.fws_version_string() or b"").decode()


# --------------------------------------------------------------------------------------------------
# Constants

MessageType = _ffi.fws_message_type
CloseCode = _ffi.fws_close_code
Result = _ffi.fws_result
LogLevel = _ffi.fws_log_level

#: What a middleware returns to pass the request on (``c.next()`` returns it).
NEXT: int = _ffi.FWS_NEXT

TEXT_MESSAGE = MessageType.TEXT_MESSAGE
BINARY_MESSAGE = MessageType.BINARY_MESSAGE
CLOSE_MESSAGE = MessageType.CLOSE_MESSAGE
PING_MESSAGE = MessageType.PING_MESSAGE
PONG_MESSAGE = MessageType.PONG_MESSAGE

CLOSE_NORMAL_CLOSURE = CloseCode.CLOSE_NORMAL_CLOSURE
CLOSE_GOING_AWAY = CloseCode.CLOSE_GOING_AWAY
CLOSE_PROTOCOL_ERROR = CloseCode.CLOSE_PROTOCOL_ERROR
CLOSE_UNSUPPORTED_DATA = CloseCode.CLOSE_UNSUPPORTED_DATA
CLOSE_NO_STATUS_RECEIVED = CloseCode.CLOSE_NO_STATUS_RECEIVED
CLOSE_ABNORMAL_CLOSURE = CloseCode.CLOSE_ABNORMAL_CLOSURE
CLOSE_INVALID_FRAME_PAYLOAD_DATA = CloseCode.CLOSE_INVALID_FRAME_PAYLOAD_DATA
CLOSE_POLICY_VIOLATION = CloseCode.CLOSE_POLICY_VIOLATION
CLOSE_MESSAGE_TOO_BIG = CloseCode.CLOSE_MESSAGE_TOO_BIG
CLOSE_MANDATORY_EXTENSION = CloseCode.CLOSE_MANDATORY_EXTENSION
CLOSE_INTERNAL_SERVER_ERR = CloseCode.CLOSE_INTERNAL_SERVER_ERR
CLOSE_SERVICE_RESTART = CloseCode.CLOSE_SERVICE_RESTART
CLOSE_TRY_AGAIN_LATER = CloseCode.CLOSE_TRY_AGAIN_LATER
CLOSE_TLS_HANDSHAKE = CloseCode.CLOSE_TLS_HANDSHAKE

#: Close codes that end ``for mt, msg in conn`` quietly.
_NORMAL_CLOSE_CODES = (CLOSE_NORMAL_CLOSURE, CLOSE_GOING_AWAY, CLOSE_NO_STATUS_RECEIVED)


# --------------------------------------------------------------------------------------------------
# Exceptions


class Error(Exception):
    """A failing libfiberws call. ``code`` (and ``result``) is the ``fws_result`` code, the message is the text
    of ``fws_last_error()`` read on the failing thread right after the call."""

    RESULT: int = _ffi.FWS_ERR_INTERNAL

    def __init__(self, message: str = "", result: Optional[int] = None) -> None:
        self.result: int = type(self).RESULT if result is None else int(result)
        self.code: int = self.result
        self.message: str = message
        super().__init__(message or self.result_name)

    @property
    def result_name(self) -> str:
        """The C name of the result code, e.g. ``"FWS_ERR_CLOSED"``."""
        return _result_name(self.result)

    def __str__(self) -> str:
        return self.message or self.result_name


class InvalidArgumentError(Error, ValueError):
    """FWS_ERR_INVALID_ARGUMENT: a bad argument, or a handle that is no longer valid."""
    RESULT = _ffi.FWS_ERR_INVALID_ARGUMENT


class CloseError(Error):
    """FWS_ERR_CLOSED: the connection is closed. ``code`` is the peer's close code (1005 when its close frame had
    none, 1006 when TCP dropped without one), ``text`` its reason; ``result`` is FWS_ERR_CLOSED."""
    RESULT = _ffi.FWS_ERR_CLOSED

    def __init__(self, code: int = CLOSE_ABNORMAL_CLOSURE, text: str = "", message: str = "",
                 result: Optional[int] = None) -> None:
        super().__init__(message, result)
        self.code = int(code)
        self.text: str = text

    def __str__(self) -> str:
        return self.message or f"websocket: close {self.code}" + (f": {self.text}" if self.text else "")


class CloseSentError(Error):
    """FWS_ERR_CLOSE_SENT: a write after a close frame was sent (gorilla's ErrCloseSent)."""
    RESULT = _ffi.FWS_ERR_CLOSE_SENT


class ReadLimitError(Error):
    """FWS_ERR_READ_LIMIT: a message exceeded the read limit; the connection was closed with 1009."""
    RESULT = _ffi.FWS_ERR_READ_LIMIT


class BadHandshakeError(Error):
    """FWS_ERR_BAD_HANDSHAKE: the opening handshake was invalid."""
    RESULT = _ffi.FWS_ERR_BAD_HANDSHAKE


class TimeoutError(Error, builtins.TimeoutError):
    """FWS_ERR_TIMEOUT: a deadline or timeout expired (also a builtin ``TimeoutError``)."""
    RESULT = _ffi.FWS_ERR_TIMEOUT


class NotFoundError(Error, LookupError):
    """FWS_ERR_NOT_FOUND: the key, name or value asked for is absent."""
    RESULT = _ffi.FWS_ERR_NOT_FOUND


class InvalidStateError(Error):
    """FWS_ERR_INVALID_STATE: not allowed in the current state (e.g. adding a route while running)."""
    RESULT = _ffi.FWS_ERR_INVALID_STATE


class IoError(Error, OSError):
    """FWS_ERR_IO: a system call failed (bind, listen, ...)."""
    RESULT = _ffi.FWS_ERR_IO


class ProtocolError(Error):
    """FWS_ERR_PROTOCOL: the peer broke the protocol; the connection was closed with 1002 or 1007."""
    RESULT = _ffi.FWS_ERR_PROTOCOL


class InternalError(Error):
    """FWS_ERR_INTERNAL: a failure inside the library (or a callback that failed)."""
    RESULT = _ffi.FWS_ERR_INTERNAL


class BufferTooSmallError(Error):
    """FWS_ERR_BUFFER_TOO_SMALL."""
    RESULT = _ffi.FWS_ERR_BUFFER_TOO_SMALL


class BusyError(Error):
    """FWS_ERR_BUSY: another thread is already reading this connection."""
    RESULT = _ffi.FWS_ERR_BUSY


class BackpressureError(Error):
    """FWS_ERR_BACKPRESSURE: the message was not queued, the connection's queue exceeds max_backpressure."""
    RESULT = _ffi.FWS_ERR_BACKPRESSURE


#: fws_result code -> exception class (python-libusb1 style).
_ERROR_CLASSES: Tuple[Type[Error], ...] = (
    InvalidArgumentError, CloseError, CloseSentError, ReadLimitError, BadHandshakeError, TimeoutError, NotFoundError,
    InvalidStateError, IoError, ProtocolError, InternalError, BufferTooSmallError, BusyError, BackpressureError)
ERRORS: Dict[int, Type[Error]] = {cls.RESULT: cls for cls in _ERROR_CLASSES}


class HTTPError(Exception):
    """Raised by a middleware to answer the request with an HTTP status (like returning a fiber.Error)."""

    def __init__(self, status: int, message: str = "") -> None:
        if not 100 <= int(status) <= 599:
            raise ValueError(f"HTTP status {status} is outside 100..599")
        self.status = int(status)
        super().__init__(message or f"HTTP {self.status}")


class UpgradeRequired(HTTPError):
    """426 Upgrade Required (fiber.ErrUpgradeRequired)."""

    def __init__(self, message: str = "Upgrade Required") -> None:
        super().__init__(426, message)


def _result_name(rc: int) -> str:
    return (_lib.fws_result_name(rc) or b"FWS_UNKNOWN_RESULT").decode()


def _last_error() -> str:
    return (_lib.fws_last_error() or b"").decode("utf-8", "replace")


def _error(rc: int) -> Error:
    """The exception for a failed call; reads fws_last_error(), so call it right after, on the same thread."""
    message = _last_error()
    cls = ERRORS.get(rc, Error)
    if cls is CloseError:
        return CloseError(_failure_close_code(rc) or CLOSE_ABNORMAL_CLOSURE, "", message)
    return cls(message, rc)


def _failure_close_code(rc: int) -> int:
    """The close code carried by this thread's last FWS_ERR_CLOSED failure (fws_last_error_close_code), 0 if none."""
    if rc != _ffi.FWS_ERR_CLOSED:
        return 0
    return int(_lib.fws_last_error_close_code())


def _check(rc: int) -> int:
    if rc < 0:
        raise _error(rc)
    return rc


# --------------------------------------------------------------------------------------------------
# Conversions

_u8p = ctypes.POINTER(ctypes.c_uint8)
Data = Union[bytes, bytearray, memoryview, str]


def _cstr(s: Optional[str], what: str = "string") -> Optional[bytes]:
    if s is None:
        return None
    if not isinstance(s, str):
        raise TypeError(f"{what} must be str, not {type(s).__name__}")
    if "\0" in s:
        raise ValueError(f"{what} contains a NUL character")
    return s.encode("utf-8")


def _data(data: Any) -> Tuple[Any, int, Any]:
    """(pointer for a const uint8_t* parameter, length, object to keep alive during the call). No copy for bytes
    and writable buffers (bytearray, writable memoryview)."""
    if data is None:
        return None, 0, None
    if isinstance(data, str):
        data = data.encode("utf-8")
    if isinstance(data, bytes):
        if not data:
            return None, 0, None
        keep = ctypes.c_char_p(data)  # points into the bytes object itself
        return ctypes.cast(keep, _u8p), len(data), (keep, data)
    mv = memoryview(data)
    n = mv.nbytes
    if n == 0:
        return None, 0, None
    if mv.readonly or not mv.c_contiguous:
        b = mv.tobytes()
        keep = ctypes.c_char_p(b)
        return ctypes.cast(keep, _u8p), n, (keep, b)
    arr = (ctypes.c_uint8 * n).from_buffer(mv.cast("B"))
    return ctypes.cast(arr, _u8p), n, arr


def _type_and_data(type_or_data: Any, data: Any) -> Tuple[int, Any]:
    if data is None and not isinstance(type_or_data, int):
        data = type_or_data
        return (TEXT_MESSAGE if isinstance(data, str) else BINARY_MESSAGE), data
    if isinstance(type_or_data, bool) or not isinstance(type_or_data, int):
        raise TypeError("expected (type, data) or data alone (str = text, bytes = binary)")
    return int(type_or_data), (b"" if data is None else data)


def _lent_bytes(ptr: Any, n: int) -> bytes:
    if n == 0 or not ptr:
        return b""
    return ctypes.string_at(ptr, n)


def _lent_str(p: ctypes.c_char_p, n: ctypes.c_size_t) -> str:
    addr = ctypes.cast(p, ctypes.c_void_p).value
    if not addr or n.value == 0:
        return ""
    return ctypes.string_at(addr, n.value).decode("utf-8", "replace")


def _ms(seconds: Optional[float], what: str, allow_zero: bool = True) -> int:
    """Seconds (float) to whole milliseconds; None -> 0. A positive value never rounds down to 0 (= none)."""
    if seconds is None:
        return 0
    s = float(seconds)
    if s < 0:
        raise ValueError(f"{what} must be >= 0 seconds")
    if s == 0:
        if not allow_zero:
            raise ValueError(f"{what} must be > 0 seconds")
        return 0
    ms = int(round(s * 1000))
    return min(max(1, ms), 2**31 - 1)


def _print_exception(header: str, exc: BaseException) -> None:
    try:
        sys.stderr.write(header + "\n")
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
        sys.stderr.flush()
    except Exception:  # stderr closed or the interpreter is shutting down
        pass


# --------------------------------------------------------------------------------------------------
# Locals: Python objects stay in Python; the library carries an integer token per request.

_LOCALS_KEY = b"fiberws.python.locals"


class _LocalsRegistry:
    """Python dicts of request Locals, keyed by the integer token stored with fws_ctx_locals_set.

    A dict is created by the first middleware or filter that touches ``c.locals``, and claimed by the
    connection that the request becomes (it then lives on the Conn). The C API tells nothing when a request
    ends without becoming a connection (404, a failed handshake, a filter that declines), so unclaimed dicts are
    dropped after TTL seconds; a middleware that answers with a status drops its dict at once.
    """

    TTL = 120.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: Dict[int, Tuple[float, Dict[str, Any]]] = {}
        self._tokens = itertools.count(1)

    def for_ctx(self, ctx_h: Any) -> Dict[str, Any]:
        v = ctypes.c_void_p()
        rc = _lib.fws_ctx_locals_get(ctx_h, _LOCALS_KEY, ctypes.byref(v))
        if rc == _ffi.FWS_OK and v.value:
            with self._lock:
                entry = self._pending.get(v.value)
            if entry is not None:
                return entry[1]
        elif rc not in (_ffi.FWS_OK, _ffi.FWS_ERR_NOT_FOUND):
            raise _error(rc)
        d: Dict[str, Any] = {}
        now = time.monotonic()
        with self._lock:
            token = next(self._tokens)
            self._pending[token] = (now, d)
            if len(self._pending) > 64:
                for t in [t for t, (at, _) in self._pending.items() if now - at > self.TTL]:
                    del self._pending[t]
        rc = _lib.fws_ctx_locals_set(ctx_h, _LOCALS_KEY, token)
        if rc != _ffi.FWS_OK:
            with self._lock:
                self._pending.pop(token, None)
            raise _error(rc)
        return d

    def token_of_ctx(self, ctx_h: Any) -> Optional[int]:
        v = ctypes.c_void_p()
        if _lib.fws_ctx_locals_get(ctx_h, _LOCALS_KEY, ctypes.byref(v)) == _ffi.FWS_OK:
            return v.value
        return None

    def discard(self, token: Optional[int]) -> None:
        if token:
            with self._lock:
                self._pending.pop(token, None)

    def claim(self, conn_h: Any) -> Dict[str, Any]:
        v = ctypes.c_void_p()
        if _lib.fws_conn_locals_get(conn_h, _LOCALS_KEY, ctypes.byref(v)) == _ffi.FWS_OK and v.value:
            with self._lock:
                entry = self._pending.pop(v.value, None)
            if entry is not None:
                return entry[1]
        return {}


# --------------------------------------------------------------------------------------------------
# Request context


class Ctx:
    """The HTTP request seen by a middleware or filter (Fiber's ``*fiber.Ctx``). Valid only during that call."""

    __slots__ = ("_app", "_h", "_locals", "_next_called", "__weakref__")

    def __init__(self, app: "App", h: Any) -> None:
        self._app = app
        self._h: Any = h
        self._locals: Optional[Dict[str, Any]] = None
        self._next_called = False

    def _handle(self) -> Any:
        if self._h is None:
            raise InvalidStateError("the request context is only valid during the middleware or filter call",
                                    _ffi.FWS_ERR_INVALID_STATE)
        return self._h

    def next(self) -> int:
        """Passes the request on to the next middleware or route: ``return c.next()`` (a middleware that called it
        and returned None passes the request on too)."""
        self._next_called = True
        return NEXT

    def is_websocket_upgrade(self) -> bool:
        """Whether the client asked to upgrade to WebSocket."""
        return _check(_lib.fws_ctx_is_websocket_upgrade(self._handle())) == 1

    @property
    def locals(self) -> Dict[str, Any]:
        """Request-scoped values (Fiber's ``c.Locals``): any Python objects; the connection sees the same dict."""
        if self._locals is None:
            self._locals = self._app._locals.for_ctx(self._handle())
        return self._locals

    def _get(self, fn: Any, name: str, default: Optional[str]) -> Optional[str]:
        p, n = ctypes.c_char_p(), ctypes.c_size_t()
        rc = fn(self._handle(), _cstr(name, "name"), ctypes.byref(p), ctypes.byref(n))
        if rc == _ffi.FWS_ERR_NOT_FOUND:
            return default
        _check(rc)
        return _lent_str(p, n)

    def params(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """A route parameter (empty in a middleware, which has no route); ``default`` when absent."""
        return self._get(_lib.fws_ctx_param, name, default)

    def query(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """A query parameter, decoded; ``default`` when absent."""
        return self._get(_lib.fws_ctx_query, name, default)

    def cookies(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """A cookie's value; ``default`` when absent."""
        return self._get(_lib.fws_ctx_cookie, name, default)

    def headers(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """A request header (case-insensitive name, repeats joined by ", "); ``default`` when absent."""
        return self._get(_lib.fws_ctx_header, name, default)

    get = headers  # Fiber's c.Get(name)

    @property
    def path(self) -> str:
        """The request path, e.g. ``"/ws/123"`` (not decoded)."""
        p, n = ctypes.c_char_p(), ctypes.c_size_t()
        _check(_lib.fws_ctx_path(self._handle(), ctypes.byref(p), ctypes.byref(n)))
        return _lent_str(p, n)

    @property
    def ip(self) -> str:
        """The client's IP address."""
        p, n = ctypes.c_char_p(), ctypes.c_size_t()
        _check(_lib.fws_ctx_ip(self._handle(), ctypes.byref(p), ctypes.byref(n)))
        return _lent_str(p, n)


def is_websocket_upgrade(ctx: Ctx) -> bool:
    """Whether the client asked to upgrade to WebSocket (Fiber's ``websocket.IsWebSocketUpgrade(c)``)."""
    return ctx.is_websocket_upgrade()


# --------------------------------------------------------------------------------------------------
# Prepared messages


class PreparedMessage:
    """A message framed once to be sent to many connections (``conn.write_prepared(pm)``). Free it with
    ``close()`` or use ``with``; ``__del__`` frees it too."""

    def __init__(self, type: int, data: Data) -> None:
        ptr, n, keep = _data(data)
        h = ctypes.POINTER(_ffi.fws_prepared_message)()
        _check(_lib.fws_prepared_message_new(int(type), ptr, n, ctypes.byref(h)))
        del keep
        self._h: Any = h
        self.type = int(type)

    def close(self) -> None:
        h, self._h = self._h, None
        if h:
            _lib.fws_prepared_message_free(h)

    def __enter__(self) -> "PreparedMessage":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        if _finalizing():
            return
        try:
            self.close()
        except Exception:
            pass


# --------------------------------------------------------------------------------------------------
# Connections


def _finalizing() -> bool:
    return _shutting_down or sys is None or sys.is_finalizing()


_shutting_down = False


class MessageReader(io.RawIOBase):
    """The message opened by ``conn.next_reader()``, read piece by piece without buffering it whole.

    ``read(n)``, ``readinto(b)`` and ``readall()`` as for a raw file; iterating yields the pieces as they arrived
    (at most a frame each). ``type`` is TEXT_MESSAGE or BINARY_MESSAGE. A later read on the connection ends it.
    """

    def __init__(self, conn: "Conn", type: int, generation: int) -> None:
        super().__init__()
        self.type = type
        self._conn = conn
        self._generation = generation
        self._pending = b""
        self._eof = False

    def readable(self) -> bool:
        return True

    def _chunk(self) -> bytes:
        """The next piece from the library; b"" at the end of the message."""
        if self._eof:
            return b""
        conn = self._conn
        if conn._read_generation != self._generation:
            raise InvalidStateError("a later read on the connection ended this reader", _ffi.FWS_ERR_INVALID_STATE)
        ptr, n = _u8p(), ctypes.c_size_t()
        while True:
            rc = _lib.fws_conn_read_chunk(conn._handle(), ctypes.byref(ptr), ctypes.byref(n))
            if rc == _ffi.FWS_END_OF_MESSAGE:
                self._eof = True
                return b""
            if rc != _ffi.FWS_OK:
                raise conn._error(rc)
            if n.value:
                return _lent_bytes(ptr, n.value)

    def read(self, size: Optional[int] = -1) -> bytes:
        if size is None or size < 0:
            return self.readall()
        if size == 0:
            return b""
        if not self._pending:
            self._pending = self._chunk()
        out, self._pending = self._pending[:size], self._pending[size:]
        return out

    def readall(self) -> bytes:
        parts = [self._pending]
        self._pending = b""
        while True:
            piece = self._chunk()
            if not piece:
                return b"".join(parts)
            parts.append(piece)

    def readinto(self, b: Any) -> int:
        mv = memoryview(b).cast("B")
        data = self.read(len(mv))
        mv[:len(data)] = data
        return len(data)

    def __iter__(self) -> Iterator[bytes]:
        if self._pending:
            first, self._pending = self._pending, b""
            yield first
        while True:
            piece = self._chunk()
            if not piece:
                return
            yield piece


class MessageWriter:
    """A message being written in pieces (``conn.next_writer(type)``): each ``write`` sends one frame, ``close``
    the final one. A context manager; the message is ended on leaving the block (even on an exception, so the
    connection stays usable)."""

    def __init__(self, conn: "Conn", type: int) -> None:
        self.type = type
        self._conn = conn
        self.closed = False

    def writable(self) -> bool:
        return True

    def write(self, data: Data) -> int:
        if self.closed:
            raise ValueError("write to a closed MessageWriter")
        ptr, n, keep = _data(data)
        rc = _lib.fws_conn_write_fragment(self._conn._handle(), ptr, n)
        del keep
        if rc != _ffi.FWS_OK:
            raise self._conn._error(rc)
        return n

    def writelines(self, lines: Sequence[Data]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        rc = _lib.fws_conn_close_writer(self._conn._handle())
        if rc != _ffi.FWS_OK:
            raise self._conn._error(rc)

    def __enter__(self) -> "MessageWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Conn:
    """A WebSocket connection (Fiber's ``*websocket.Conn``).

    In a blocking handler it is valid until the handler returns; on an event-API route from on_open until on_close
    returns. Afterwards every method raises InvalidStateError, except ``close()``, which does nothing.
    One thread may read at a time; writes from several threads are serialised; ``close`` and ``write_control``
    work from any thread.
    """

    def __init__(self, app: "App", h: Any, route: str, events: bool, locals: Dict[str, Any]) -> None:
        self._app = app
        self._h: Any = h
        self.route = route
        self.events = events
        self._locals = locals
        self._read_generation = 0
        self._local_close = False
        self._callback_exc: Optional[BaseException] = None
        self._control: Dict[str, Callable[..., Any]] = {}
        self._token = 0

    # -- internals ---------------------------------------------------------------------------------

    def _handle(self) -> Any:
        h = self._h
        if h is None:
            raise InvalidStateError("the connection has ended (its handler returned or on_close ran)",
                                    _ffi.FWS_ERR_INVALID_STATE)
        return h

    def _error(self, rc: int) -> Error:
        message = _last_error()
        if rc == _ffi.FWS_ERR_INTERNAL and self._callback_exc is not None:
            # a ping/pong/close handler of ours raised: surface that exception from the read
            exc, self._callback_exc = self._callback_exc, None
            err = InternalError(message, rc)
            err.__cause__ = exc
            return err
        if rc == _ffi.FWS_ERR_CLOSED:
            code = _failure_close_code(rc) or self._close_code_or(0) or CLOSE_ABNORMAL_CLOSURE
            return CloseError(code, self._close_text_or(""), message)
        return ERRORS.get(rc, Error)(message, rc)

    def _check(self, rc: int) -> int:
        if rc < 0:
            raise self._error(rc)
        return rc

    def _close_code_or(self, default: int) -> int:
        code = ctypes.c_int32()
        h = self._h
        if h is None or _lib.fws_conn_close_code(h, ctypes.byref(code)) != _ffi.FWS_OK:
            return default
        return code.value

    def _close_text_or(self, default: str) -> str:
        p, n = ctypes.c_char_p(), ctypes.c_size_t()
        h = self._h
        if h is None or _lib.fws_conn_close_text(h, ctypes.byref(p), ctypes.byref(n)) != _ffi.FWS_OK:
            return default
        return _lent_str(p, n)

    def _get(self, fn: Any, name: str, default: Optional[str]) -> Optional[str]:
        p, n = ctypes.c_char_p(), ctypes.c_size_t()
        rc = fn(self._handle(), _cstr(name, "name"), ctypes.byref(p), ctypes.byref(n))
        if rc == _ffi.FWS_ERR_NOT_FOUND:
            return default
        self._check(rc)
        return _lent_str(p, n)

    def _str(self, fn: Any) -> str:
        p, n = ctypes.c_char_p(), ctypes.c_size_t()
        self._check(fn(self._handle(), ctypes.byref(p), ctypes.byref(n)))
        return _lent_str(p, n)

    def __repr__(self) -> str:
        state = "ended" if self._h is None else "open"
        return f"<fiberws.Conn {self.route!r} {state}>"

    # -- request values ------------------------------------------------------------------------------

    @property
    def locals(self) -> Dict[str, Any]:
        """The request's Locals (set by middleware through ``c.locals``), a plain dict of Python objects."""
        return self._locals

    def params(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """A route parameter of the upgrade request (``"*"``/``"+"`` alias ``"*1"``/``"+1"``); ``default`` when
        absent."""
        return self._get(_lib.fws_conn_param, name, default)

    def query(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """A query parameter of the upgrade request, decoded; ``default`` when absent."""
        return self._get(_lib.fws_conn_query, name, default)

    def cookies(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """A cookie of the upgrade request; ``default`` when absent."""
        return self._get(_lib.fws_conn_cookie, name, default)

    def headers(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """A header of the upgrade request (case-insensitive name); ``default`` when absent."""
        return self._get(_lib.fws_conn_header, name, default)

    @property
    def ip(self) -> str:
        """The client's IP address."""
        return self._str(_lib.fws_conn_ip)

    @property
    def remote_addr(self) -> str:
        """The peer's address, ``"ip:port"`` (``"[ip]:port"`` for IPv6)."""
        return self._str(_lib.fws_conn_remote_addr)

    @property
    def local_addr(self) -> str:
        """The server's address of this connection, ``"ip:port"``."""
        return self._str(_lib.fws_conn_local_addr)

    @property
    def subprotocol(self) -> str:
        """The negotiated subprotocol, ``""`` when none."""
        return self._str(_lib.fws_conn_subprotocol)

    @property
    def extensions(self) -> str:
        """The negotiated extensions as sent in the 101 response, ``""`` when none."""
        return self._str(_lib.fws_conn_extensions)

    @property
    def close_code(self) -> int:
        """The close code the peer sent: 1005 when its close had none, 1006 when TCP dropped, 0 while open."""
        code = ctypes.c_int32()
        self._check(_lib.fws_conn_close_code(self._handle(), ctypes.byref(code)))
        return code.value

    @property
    def close_text(self) -> str:
        """The reason text of the peer's close frame (``""`` if none)."""
        return self._str(_lib.fws_conn_close_text)

    # -- reading ------------------------------------------------------------------------------------

    def read_message(self) -> Tuple[int, bytes]:
        """Reads the next complete message: ``(TEXT_MESSAGE or BINARY_MESSAGE, payload)``. Blocks (without the
        GIL). Raises CloseError (with the peer's code and reason), ReadLimitError, ProtocolError, TimeoutError."""
        mt, ptr, n = ctypes.c_int32(), _u8p(), ctypes.c_size_t()
        self._read_generation += 1
        rc = _lib.fws_conn_read_message(self._handle(), ctypes.byref(mt), ctypes.byref(ptr), ctypes.byref(n))
        if rc != _ffi.FWS_OK:
            raise self._error(rc)
        return mt.value, _lent_bytes(ptr, n.value)

    def __iter__(self) -> Iterator[Tuple[int, bytes]]:
        """Yields ``(type, data)`` until the connection closes: quietly on a normal close (1000, 1001, 1005, or a
        close from this side), with CloseError otherwise."""
        while True:
            try:
                yield self.read_message()
            except CloseError as e:
                if e.code in _NORMAL_CLOSE_CODES or self._local_close:
                    return
                raise

    def next_reader(self) -> MessageReader:
        """Starts reading the next message piece by piece (gorilla's NextReader)."""
        mt = ctypes.c_int32()
        self._read_generation += 1
        rc = _lib.fws_conn_next_reader(self._handle(), ctypes.byref(mt))
        if rc != _ffi.FWS_OK:
            raise self._error(rc)
        return MessageReader(self, mt.value, self._read_generation)

    def join_messages(self, count: int, term: Data = b"") -> io.BytesIO:
        """Reads the next ``count`` messages, each followed by ``term``, as one file-like object."""
        ptr, n = _u8p(), ctypes.c_size_t()
        tptr, tn, keep = _data(term)
        self._read_generation += 1
        rc = _lib.fws_conn_join_messages(self._handle(), int(count), tptr, tn, ctypes.byref(ptr), ctypes.byref(n))
        del keep
        if rc != _ffi.FWS_OK:
            raise self._error(rc)
        return io.BytesIO(_lent_bytes(ptr, n.value))

    def set_read_limit(self, limit: int) -> None:
        """The largest message accepted from now on, in bytes; 0 = no limit. Call between reads."""
        self._check(_lib.fws_conn_set_read_limit(self._handle(), int(limit)))

    def set_read_deadline(self, seconds: Optional[float]) -> None:
        """A read still blocked ``seconds`` from now fails with TimeoutError (and the connection cannot be read any
        more, as in gorilla). None or 0 clears the deadline."""
        self._check(_lib.fws_conn_set_read_deadline(self._handle(), _ms(seconds, "read deadline")))

    def set_write_deadline(self, seconds: Optional[float]) -> None:
        """A write still blocked ``seconds`` from now fails with TimeoutError. None or 0 clears it."""
        self._check(_lib.fws_conn_set_write_deadline(self._handle(), _ms(seconds, "write deadline")))

    # -- control handlers ---------------------------------------------------------------------------

    def _set_control(self, kind: str, fn: Optional[Callable[..., Any]]) -> None:
        h = self._handle()
        setter, ctype, tramp = {
            "ping": (_lib.fws_conn_set_ping_handler, _ffi.fws_control_fn, self._app._ping_tramp),
            "pong": (_lib.fws_conn_set_pong_handler, _ffi.fws_control_fn, self._app._pong_tramp),
            "close": (_lib.fws_conn_set_close_handler, _ffi.fws_close_handler_fn, self._app._close_tramp),
        }[kind]
        if fn is None:
            self._check(setter(h, ctype(), None))  # type: ignore[call-overload]  # NULL restores the default
            self._control.pop(kind, None)
            if not self._control:
                self._app._unregister_conn(self)
            return
        if not callable(fn):
            raise TypeError(f"{kind} handler must be callable or None")
        self._app._register_conn(self)
        self._control[kind] = fn
        self._check(setter(h, tramp, self._token))

    def set_ping_handler(self, fn: Optional[Callable[[bytes], Any]]) -> None:
        """``fn(data)`` runs on the reading thread for each ping; it replaces the default, which answers with a
        pong (send one yourself: ``conn.write_control(PONG_MESSAGE, data)``). None restores the default. An
        exception in ``fn`` fails the read with InternalError (its ``__cause__`` is the exception)."""
        self._set_control("ping", fn)

    def set_pong_handler(self, fn: Optional[Callable[[bytes], Any]]) -> None:
        """``fn(data)`` runs on the reading thread for each pong. None restores the default (nothing)."""
        self._set_control("pong", fn)

    def set_close_handler(self, fn: Optional[Callable[[int, str], Any]]) -> None:
        """``fn(code, text)`` runs on the reading thread when the peer's close frame arrives. It replaces the
        default, which echoes the code: call ``conn.close(...)`` yourself if wanted. The read then raises
        CloseError as usual. None restores the default."""
        self._set_control("close", fn)

    # -- writing ------------------------------------------------------------------------------------

    def write_message(self, type: int, data: Data) -> None:
        """Sends a message as one frame (text must be UTF-8; a str is encoded). Blocks until the kernel has it."""
        ptr, n, keep = _data(data)
        rc = _lib.fws_conn_write_message(self._handle(), int(type), ptr, n)
        del keep
        if rc != _ffi.FWS_OK:
            raise self._error(rc)

    def write_control(self, type: int, data: Data = b"", timeout: Optional[float] = None) -> None:
        """Sends a ping, pong or close frame (at most 125 bytes; for close see ``format_close_message``).
        ``timeout``: seconds to wait for a write in progress on another thread (None = no limit). Any thread."""
        ptr, n, keep = _data(data)
        rc = _lib.fws_conn_write_control(self._handle(), int(type), ptr, n, _ms(timeout, "timeout"))
        del keep
        if rc != _ffi.FWS_OK:
            raise self._error(rc)

    def send(self, type_or_data: Union[int, Data], data: Optional[Data] = None) -> int:
        """``send(data)`` (str = text, bytes = binary) or ``send(type, data)``. On an event-API connection it queues
        without blocking and returns the bytes still queued; BackpressureError when the queue is over
        max_backpressure (the message is dropped). On a blocking connection it is ``write_message`` (returns 0)."""
        mt, payload = _type_and_data(type_or_data, data)
        ptr, n, keep = _data(payload)
        buffered = ctypes.c_size_t()
        rc = _lib.fws_conn_send(self._handle(), mt, ptr, n, ctypes.byref(buffered))
        del keep
        if rc != _ffi.FWS_OK:
            raise self._error(rc)
        return buffered.value

    @property
    def buffered_amount(self) -> int:
        """Bytes queued on an event-API connection that the kernel has not taken yet (0 for blocking ones)."""
        amount = ctypes.c_size_t()
        self._check(_lib.fws_conn_buffered_amount(self._handle(), ctypes.byref(amount)))
        return amount.value

    def next_writer(self, type: int) -> MessageWriter:
        """Opens a message to be written in pieces (gorilla's NextWriter); use it with ``with``."""
        self._check(_lib.fws_conn_next_writer(self._handle(), int(type)))
        return MessageWriter(self, int(type))

    def write_prepared(self, message: PreparedMessage) -> None:
        """Sends a PreparedMessage (gorilla's WritePreparedMessage)."""
        if not message._h:
            raise InvalidStateError("the prepared message was closed", _ffi.FWS_ERR_INVALID_STATE)
        self._check(_lib.fws_conn_write_prepared(self._handle(), message._h))

    def enable_write_compression(self, enable: bool = True) -> None:
        """With permessage-deflate negotiated, compress outgoing messages or not."""
        self._check(_lib.fws_conn_enable_write_compression(self._handle(), 1 if enable else 0))

    def set_compression_level(self, level: int) -> None:
        """The zlib level (1 fastest .. 9 smallest) for later messages."""
        self._check(_lib.fws_conn_set_compression_level(self._handle(), int(level)))

    def close(self, code: int = CLOSE_NORMAL_CLOSURE, reason: str = "") -> None:
        """Sends a close frame (unless one was sent) and wakes a read blocked on another thread. Idempotent; does
        nothing once the connection has ended. Code 1005 sends a close frame without a code."""
        h = self._h
        if h is None:
            return
        self._local_close = True
        rc = _lib.fws_conn_close(h, int(code), _cstr(reason, "reason") if reason else None)
        if rc == _ffi.FWS_ERR_INVALID_ARGUMENT and self._h is None:
            return  # ended concurrently
        if rc != _ffi.FWS_OK:
            raise self._error(rc)

    # -- topics (event API) -------------------------------------------------------------------------

    def subscribe(self, topic: str) -> None:
        """Subscribes an event-API connection to a topic (see ``App.publish``)."""
        self._check(_lib.fws_conn_subscribe(self._handle(), _cstr(topic, "topic")))

    def unsubscribe(self, topic: str) -> None:
        """Unsubscribes from a topic; NotFoundError when it was not subscribed (on the loop thread)."""
        self._check(_lib.fws_conn_unsubscribe(self._handle(), _cstr(topic, "topic")))

    # -- lifetime -------------------------------------------------------------------------------------

    def _end(self) -> None:
        """The handler returned (or on_close ran): restore default control handlers while the handle is still
        valid, so the library never calls a handler of ours after this, then drop the handle."""
        h = self._h
        if h is not None and self._control:
            for kind, setter, ctype in (("ping", _lib.fws_conn_set_ping_handler, _ffi.fws_control_fn),
                                        ("pong", _lib.fws_conn_set_pong_handler, _ffi.fws_control_fn),
                                        ("close", _lib.fws_conn_set_close_handler, _ffi.fws_close_handler_fn)):
                if kind in self._control:
                    setter(h, ctype(), None)  # type: ignore[call-overload]
            self._control.clear()
        self._app._unregister_conn(self)
        self._h = None


_log_keep: List[Any] = []


def set_log_handler(fn: Optional[Callable[[int, str], Any]], min_level: int = _ffi.FWS_LOG_INFO) -> None:
    """Sends the library's log messages (level, text) of ``min_level`` and above to ``fn`` instead of stderr;
    ``None`` restores the default (warnings and errors on stderr). ``fn`` may be called from any library thread."""
    if fn is None:
        _check(_lib.fws_set_log_callback(ctypes.cast(None, _ffi.fws_log_fn), None, 0))
        return

    def sink(user: Any, level: int, message: Optional[bytes]) -> None:
        try:
            fn(level, (message or b"").decode("utf-8", "replace"))
        except BaseException:
            pass

    cb = _ffi.fws_log_fn(sink)
    _check(_lib.fws_set_log_callback(cb, None, int(min_level)))
    _log_keep.append(cb)  # the library may still call an earlier sink on another thread for a moment
    del _log_keep[:-2]


def join_messages(conn: Conn, count: int, term: Data = b"") -> io.BytesIO:
    """Reads the next ``count`` messages of ``conn``, each followed by ``term`` (gorilla's JoinMessages)."""
    return conn.join_messages(count, term)


# --------------------------------------------------------------------------------------------------
# Helpers without a handle


def format_close_message(code: int, text: str = "") -> bytes:
    """A close frame payload: a 2-byte big-endian code and the UTF-8 text (1005 gives b"")."""
    t = _cstr(text, "text") if text else None
    n = ctypes.c_size_t()
    rc = _lib.fws_format_close_message(int(code), t, None, 0, ctypes.byref(n))
    if rc not in (_ffi.FWS_OK, _ffi.FWS_ERR_BUFFER_TOO_SMALL):
        raise _error(rc)
    if n.value == 0:
        return b""
    buf = (ctypes.c_uint8 * n.value)()
    _check(_lib.fws_format_close_message(int(code), t, buf, n.value, ctypes.byref(n)))
    return bytes(buf[:n.value])


def is_close_error(exc: BaseException, *codes: int) -> bool:
    """True when ``exc`` is a CloseError whose close code is one of ``codes`` (gorilla's IsCloseError)."""
    return isinstance(exc, CloseError) and exc.code in codes


def is_unexpected_close_error(exc: BaseException, *codes: int) -> bool:
    """True when ``exc`` is a CloseError whose close code is NOT one of ``codes`` (IsUnexpectedCloseError)."""
    return isinstance(exc, CloseError) and exc.code not in codes


# --------------------------------------------------------------------------------------------------
# Buffer pools


class WriteBufferPool(Protocol):
    """What ``Config.write_buffer_pool`` takes (Fiber's websocket.BufferPool): ``get(size)`` returns a writable
    buffer of at least ``size`` bytes (a ctypes array, bytearray, ...) or None to let the connection use its own;
    ``put(buf)`` takes back a buffer that ``get`` returned. Called on handler threads, concurrently."""

    def get(self, size: int) -> Any: ...

    def put(self, buf: Any) -> None: ...


class BufferPool:
    """A simple thread-safe WriteBufferPool: a free list of ctypes buffers per size, at most ``max_idle`` kept.

    Honest note: each pooled write calls into Python twice (get and put, taking the GIL), so a pool saves memory
    for many idle connections at the cost of speed; without a pool each connection keeps its own buffer.
    """

    def __init__(self, max_idle: int = 64) -> None:
        self.max_idle = max_idle
        self._lock = threading.Lock()
        self._free: Dict[int, List[Any]] = {}

    def get(self, size: int) -> Any:
        with self._lock:
            free = self._free.get(size)
            if free:
                return free.pop()
        return (ctypes.c_uint8 * size)()

    def put(self, buf: Any) -> None:
        size = ctypes.sizeof(buf)
        with self._lock:
            free = self._free.setdefault(size, [])
            if len(free) < self.max_idle:
                free.append(buf)


# --------------------------------------------------------------------------------------------------
# Configuration


@dataclass
class Config:
    """Per-route settings (Fiber's websocket.Config plus the event-API and compression fields of
    ``fws_ws_config``). None leaves the library's default. Times are in seconds."""

    #: callable(ctx) -> bool: False skips this route (Fiber contrib: ``if !Filter(c) { return c.Next() }``).
    filter: Optional[Callable[[Ctx], bool]] = None
    #: The whole upgrade must finish within this many seconds.
    handshake_timeout: Optional[float] = None
    subprotocols: Optional[Sequence[str]] = None
    #: Allowed Origin values (case-insensitive); None, empty or "*" = any.
    origins: Optional[Sequence[str]] = None
    read_buffer_size: Optional[int] = None
    write_buffer_size: Optional[int] = None
    write_buffer_pool: Optional[WriteBufferPool] = None
    enable_compression: Optional[bool] = None
    #: callable(conn, exc): runs when a handler raised (or a failure occurred), before the close with 1011.
    recover_handler: Optional[Callable[[Conn, BaseException], Any]] = None
    #: Largest message in bytes (after reassembly); 0 = no limit.
    read_limit: Optional[int] = None
    max_backpressure: Optional[int] = None
    idle_timeout: Optional[float] = None
    compression_level: Optional[int] = None
    compression_threshold: Optional[int] = None
    server_no_context_takeover: Optional[bool] = None
    server_max_window_bits: Optional[int] = None
    close_on_backpressure_limit: Optional[bool] = None
    send_pings_automatically: Optional[bool] = None
    #: Most frames one message may span (more closes with 1009); 0 = no limit.
    max_frames_per_message: Optional[int] = None
    #: Keepalive: ping every this many seconds (both APIs); 0 = off.
    ping_interval: Optional[float] = None
    #: Keepalive: a peer silent this long after a ping is closed (1006); 0 = the ping interval.
    pong_timeout: Optional[float] = None


def default_recover_handler(conn: Conn, exc: BaseException) -> None:
    """The default recover handler: the traceback on stderr, then ``{"error": "<exc>"}`` as a text message (the
    library then closes the connection with 1011)."""
    _print_exception(f"fiberws: handler on {conn.route} failed:", exc)
    payload = json.dumps({"error": str(exc)}, separators=(",", ":"), ensure_ascii=False)
    try:
        if conn.events:
            conn.send(TEXT_MESSAGE, payload)
        else:
            conn.write_message(TEXT_MESSAGE, payload)
    except Error:
        pass  # the connection is already gone


# --------------------------------------------------------------------------------------------------
# The app

F = TypeVar("F", bound=Callable[..., Any])
_apps: "weakref.WeakSet[App]" = weakref.WeakSet()
_running: "set[App]" = set()


class _Route:
    __slots__ = ("pattern", "recover", "events", "id")

    def __init__(self, pattern: str, recover: Callable[[Conn, BaseException], Any], events: bool, id: int) -> None:
        self.pattern = pattern
        self.recover = recover
        self.events = events
        self.id = id


class App:
    """An application: middleware, routes and a listener (Fiber's ``fiber.New()``). ``with App() as app:`` frees
    it at the end; so do ``close()`` and garbage collection.

    Settings (None = the library default): ``max_header_bytes``; ``header_read_timeout`` (seconds, slowloris
    guard); ``handler_stack_kib``; ``close_timeout`` (seconds to wait for the peer's close frame);
    ``max_connections`` (beyond it new connections get 503; 0 = no limit).
    """

    def __init__(self, *, max_header_bytes: Optional[int] = None, header_read_timeout: Optional[float] = None,
                 handler_stack_kib: Optional[int] = None, close_timeout: Optional[float] = None,
                 max_connections: Optional[int] = None) -> None:
        self._h: Any = None
        self._keep: List[Any] = []  # every CFUNCTYPE and struct the library may still use
        self._locals = _LocalsRegistry()
        self._stopped = threading.Event()
        self._started = False
        self._lock = threading.Lock()
        self._failures: Dict[int, Tuple[Conn, BaseException]] = {}
        self._conns: Dict[int, Conn] = {}  # token -> conn with control handlers of ours
        self._conn_tokens = itertools.count(1)
        self._event_conns: Dict[int, Conn] = {}  # handle -> conn (event API; loop thread)
        self._routes: Dict[int, _Route] = {}  # recover_user -> route
        self.port: Optional[int] = None
        cfg = _ffi.fws_app_config()
        _lib.fws_app_config_init(ctypes.byref(cfg))
        if max_header_bytes is not None:
            cfg.max_header_bytes = int(max_header_bytes)
        if header_read_timeout is not None:
            cfg.header_read_timeout_ms = _ms(header_read_timeout, "header_read_timeout")
        if handler_stack_kib is not None:
            cfg.handler_stack_kib = int(handler_stack_kib)
        if close_timeout is not None:
            cfg.close_timeout_ms = _ms(close_timeout, "close_timeout")
        if max_connections is not None:
            cfg.max_connections = int(max_connections)
        h = ctypes.POINTER(_ffi.fws_app)()
        _check(_lib.fws_app_new(ctypes.byref(cfg), ctypes.byref(h)))
        self._h = h
        # Shared trampolines for per-connection control handlers (user = the conn's token).
        self._ping_tramp = _ffi.fws_control_fn(self._on_ping)
        self._pong_tramp = _ffi.fws_control_fn(self._on_pong)
        self._close_tramp = _ffi.fws_close_handler_fn(self._on_close_frame)
        self._recover_tramp = _ffi.fws_recover_fn(self._on_recover)
        _apps.add(self)

    def _handle(self) -> Any:
        if not self._h:
            raise InvalidStateError("the app is closed", _ffi.FWS_ERR_INVALID_STATE)
        return self._h

    # -- registration -----------------------------------------------------------------------------

    @overload
    def use(self, prefix: str = "/") -> Callable[[F], F]: ...

    @overload
    def use(self, prefix: str, fn: F) -> F: ...

    def use(self, prefix: Any = "/", fn: Any = None) -> Any:
        """Registers a middleware for every path under ``prefix`` (Fiber's ``app.Use``), as a decorator or
        directly. The middleware gets a Ctx and returns ``c.next()`` to pass the request on, an int HTTP status to
        answer with it, or None (200, as a Fiber handler returning nil without Next; but None after calling
        ``c.next()`` passes the request on); raising HTTPError (e.g.
        UpgradeRequired) answers with its status; any other exception prints its traceback and answers 500.
        ``@app.use`` without arguments means prefix "/"."""
        if callable(prefix) and fn is None:
            return self.use("/", prefix)
        if fn is None:
            return lambda f: self.use(prefix, f)
        self._register_middleware(prefix, fn)
        return fn

    def _register_middleware(self, prefix: str, fn: Callable[[Ctx], Any]) -> None:
        app = self

        def middleware(user: Any, ctx_h: Any) -> int:
            ctx = Ctx(app, ctx_h)
            try:
                result = fn(ctx)
                if result is None:
                    status = NEXT if ctx._next_called else 200
                elif isinstance(result, bool) or not isinstance(result, int):
                    raise TypeError(f"middleware returned {result!r}; expected c.next(), an HTTP status or None")
                else:
                    status = int(result)
            except HTTPError as e:
                status = e.status
            except BaseException as e:
                _print_exception(f"fiberws: middleware for {prefix!r} failed:", e)
                status = 500
            try:
                if status != NEXT:
                    app._locals.discard(app._locals.token_of_ctx(ctx_h))
            except BaseException:
                pass
            ctx._h = None
            return status

        cb = _ffi.fws_middleware_fn(middleware)
        _check(_lib.fws_app_use(self._handle(), _cstr(prefix, "prefix"), cb, None))
        self._keep.append(cb)

    def get(self, pattern: str, fn: Any = None) -> Any:
        """Serves plain HTTP GET and HEAD on a route (Fiber's ``app.Get``), as a decorator or directly. The handler
        gets a Ctx (params, query, headers...) on the event loop thread and returns the body (str, bytes), a
        ``(status, content_type, body)`` tuple, or None (200, empty). An exception prints its traceback and answers
        500. Keep it short: the loop serves every connection."""
        if fn is None:
            return lambda f: self.get(pattern, f)
        app = self

        def handler(user: Any, ctx_h: Any) -> int:
            ctx = Ctx(app, ctx_h)
            try:
                result = fn(ctx)
                status, content_type, body = 200, "text/plain; charset=utf-8", b""
                if isinstance(result, tuple):
                    status, content_type, body = result
                elif result is not None:
                    body = result
                if isinstance(body, str):
                    if isinstance(result, str):
                        content_type = "text/html; charset=utf-8" if body.lstrip().startswith("<") else content_type
                    body = body.encode("utf-8")
                raw, n, _keep = _data(body)
                return 0 if _lib.fws_ctx_send(ctx_h, int(status), _cstr(content_type, "content_type"), raw, n) == 0 else 1
            except BaseException as e:
                _print_exception(f"fiberws: HTTP handler for {pattern!r} failed:", e)
                return 1
            finally:
                try:
                    app._locals.discard(app._locals.token_of_ctx(ctx_h))
                except BaseException:
                    pass
                ctx._h = None

        cb = _ffi.fws_http_fn(handler)
        _check(_lib.fws_app_get(self._handle(), _cstr(pattern, "pattern"), cb, None))
        self._keep.append(cb)
        return fn

    def _ws_config(self, config: Optional[Config], pattern: str, events: bool) -> Tuple[Any, _Route]:
        cfg = _ffi.fws_ws_config()
        _lib.fws_ws_config_init(ctypes.byref(cfg))
        config = config or Config()
        if not isinstance(config, Config):
            raise TypeError("config must be a fiberws.Config")
        keep: List[Any] = []
        if config.read_limit is not None:
            cfg.read_limit = int(config.read_limit)
        if config.read_buffer_size is not None:
            cfg.read_buffer_size = int(config.read_buffer_size)
        if config.write_buffer_size is not None:
            cfg.write_buffer_size = int(config.write_buffer_size)
        for name in ("subprotocols", "origins"):
            values = getattr(config, name)
            if values is not None:
                if isinstance(values, str):
                    raise TypeError(f"{name} must be a sequence of str, not a str")
                encoded = [_cstr(v, name) for v in values]
                arr = (ctypes.c_char_p * max(1, len(encoded)))(*encoded)
                keep.append(arr)
                setattr(cfg, name, ctypes.cast(arr, ctypes.POINTER(ctypes.c_char_p)))
                setattr(cfg, name + "_count", len(encoded))
        if config.handshake_timeout is not None:
            cfg.handshake_timeout_ms = _ms(config.handshake_timeout, "handshake_timeout")
        if config.enable_compression is not None:
            cfg.enable_compression = 1 if config.enable_compression else 0
        if config.filter is not None:
            cb = _ffi.fws_filter_fn(self._make_filter(config.filter, pattern))
            self._keep.append(cb)
            cfg.filter = cb
        recover = config.recover_handler or default_recover_handler
        if not callable(recover):
            raise TypeError("recover_handler must be callable")
        route = _Route(pattern, recover, events, len(self._routes) + 1)
        self._routes[route.id] = route
        cfg.recover_handler = self._recover_tramp
        cfg.recover_user = route.id
        if config.max_backpressure is not None:
            cfg.max_backpressure = int(config.max_backpressure)
        if config.close_on_backpressure_limit is not None:
            cfg.close_on_backpressure_limit = 1 if config.close_on_backpressure_limit else 0
        if config.send_pings_automatically is not None:
            cfg.send_pings_automatically = 1 if config.send_pings_automatically else 0
        if config.idle_timeout is not None:
            cfg.idle_timeout_ms = _ms(config.idle_timeout, "idle_timeout")
        if config.write_buffer_pool is not None:
            pool = self._make_pool(config.write_buffer_pool)
            cfg.write_buffer_pool = ctypes.pointer(pool)
        if config.compression_level is not None:
            cfg.compression_level = int(config.compression_level)
        if config.compression_threshold is not None:
            cfg.compression_threshold = int(config.compression_threshold)
        if config.server_no_context_takeover is not None:
            cfg.server_no_context_takeover = 1 if config.server_no_context_takeover else 0
        if config.server_max_window_bits is not None:
            cfg.server_max_window_bits = int(config.server_max_window_bits)
        if config.max_frames_per_message is not None:
            cfg.max_frames_per_message = int(config.max_frames_per_message)
        if config.ping_interval is not None:
            cfg.ping_interval_ms = _ms(config.ping_interval, "ping_interval")
        if config.pong_timeout is not None:
            cfg.pong_timeout_ms = _ms(config.pong_timeout, "pong_timeout")
        self._keep.append(keep)  # read during the registering call only; kept anyway, it is small
        return cfg, route

    def _make_filter(self, fn: Callable[[Ctx], Any], pattern: str) -> Callable[[Any, Any], int]:
        app = self

        def filter_(user: Any, ctx_h: Any) -> int:
            ctx = Ctx(app, ctx_h)
            try:
                return 1 if fn(ctx) else 0
            except BaseException as e:
                _print_exception(f"fiberws: filter for {pattern!r} failed (answered 500):", e)
                return -1  # a negative verdict is a failure: the library answers 500
            finally:
                ctx._h = None

        return filter_

    def _make_pool(self, pool: WriteBufferPool) -> Any:
        if not (callable(getattr(pool, "get", None)) and callable(getattr(pool, "put", None))):
            raise TypeError("write_buffer_pool needs get(size) and put(buf) methods")
        lent: Dict[int, Any] = {}
        lock = threading.Lock()

        def get(user: Any, size: int) -> Optional[int]:
            try:
                buf = pool.get(size)
                if buf is None:
                    return None
                mv = memoryview(buf)
                if mv.readonly or mv.nbytes < size:
                    raise ValueError(f"write_buffer_pool.get({size}) returned {mv.nbytes} bytes "
                                     f"({'read-only' if mv.readonly else 'too small'})")
                view = (ctypes.c_uint8 * mv.nbytes).from_buffer(mv.cast("B"))
                addr = ctypes.addressof(view)
                with lock:
                    lent[addr] = (buf, view)
                return addr
            except BaseException as e:
                _print_exception("fiberws: write_buffer_pool.get failed (the connection uses its own buffer):", e)
                return None

        def put(user: Any, ptr: Optional[int], size: int) -> None:
            try:
                with lock:
                    entry = lent.pop(ptr or 0, None)
                if entry is not None:
                    pool.put(entry[0])
            except BaseException as e:
                _print_exception("fiberws: write_buffer_pool.put failed:", e)

        get_cb, put_cb = _ffi.fws_pool_get_fn(get), _ffi.fws_pool_put_fn(put)
        struct = _ffi.fws_buffer_pool(ctypes.sizeof(_ffi.fws_buffer_pool), get_cb, put_cb, None)
        self._keep.extend((get_cb, put_cb, struct))
        return struct

    @overload
    def websocket(self, pattern: str, handler: None = None, *,
                  config: Optional[Config] = None) -> Callable[[F], F]: ...

    @overload
    def websocket(self, pattern: str, handler: F, *, config: Optional[Config] = None) -> F: ...

    def websocket(self, pattern: str, handler: Any = None, *, config: Optional[Config] = None) -> Any:
        """Serves WebSocket connections on a GET route (Fiber's ``app.Get(pattern, websocket.New(handler,
        config))``), as a decorator or directly. ``handler(conn)`` runs on a thread of its own per connection;
        when it returns the server completes the closing handshake (1000). An exception goes to the route's
        recover handler, then the connection closes with 1011."""
        if handler is None:
            return lambda f: self.websocket(pattern, f, config=config)
        if not callable(handler):
            raise TypeError("handler must be callable")
        cfg, route = self._ws_config(config, pattern, events=False)
        cb = _ffi.fws_handler_fn(self._make_handler(handler, route))
        _check(_lib.fws_app_websocket(self._handle(), _cstr(pattern, "pattern"), cb, ctypes.byref(cfg), None))
        self._keep.append(cb)
        return handler

    def _make_handler(self, fn: Callable[[Conn], Any], route: _Route) -> Callable[[Any, Any], int]:
        app = self

        def handler(user: Any, conn_h: Any) -> int:
            ident = threading.get_ident()
            app._failures.pop(ident, None)
            conn: Optional[Conn] = None
            try:
                conn = Conn(app, conn_h, route.pattern, False, app._locals.claim(conn_h))
                fn(conn)
                return 0
            except BaseException as e:
                # Handed to the recover trampoline, which the library calls next on this thread (same conn).
                if conn is None:
                    conn = Conn(app, None, route.pattern, False, {})
                app._failures[ident] = (conn, e)
                return 1
            finally:
                if conn is not None:
                    try:
                        conn._end()
                    except BaseException:
                        pass

        return handler

    def _on_recover(self, user: Any, conn_h: Any, error: Optional[bytes]) -> None:
        """The C recover handler of every route: the library calls it on the handler thread right after a handler
        returned non-zero (the Python exception was stashed by the handler trampoline), or after a failure of its
        own; it then closes the connection with 1011."""
        try:
            route = self._routes.get(user or 0)
            pattern = route.pattern if route is not None else "?"
            entry = self._failures.pop(threading.get_ident(), None)
            if entry is not None:
                conn, exc = entry
                conn._h = conn_h  # the library lends a new handle for the same connection
            else:
                conn = Conn(self, conn_h, pattern, route.events if route is not None else False, {})
                exc = InternalError((error or b"").decode("utf-8", "replace"))
            try:
                (route.recover if route is not None else default_recover_handler)(conn, exc)
            except BaseException as e:
                _print_exception(f"fiberws: recover handler on {pattern} failed:", e)
            finally:
                conn._h = None
        except BaseException as e:
            _print_exception("fiberws: recover trampoline failed:", e)

    def websocket_events(self, pattern: str, handler: Any = None, *, config: Optional[Config] = None,
                         on_open: Optional[Callable[[Conn], Any]] = None,
                         on_message: Optional[Callable[[Conn, int, bytes], Any]] = None,
                         on_drain: Optional[Callable[[Conn], Any]] = None,
                         on_close: Optional[Callable[[Conn, int, str], Any]] = None) -> Any:
        """Serves a route with the event API (uWebSockets style): no thread per connection; ``on_open(conn)``,
        ``on_message(conn, type, data)``, ``on_drain(conn)``, ``on_close(conn, code, reason)`` run on the event
        loop thread and must not block. Give an object (or a class, instantiated once) with those methods, as a
        decorator or as ``handler``, or the callables as keywords. An exception in a callback goes to the recover
        handler, then the connection closes with 1011."""
        if handler is None and not any((on_open, on_message, on_drain, on_close)):
            def decorator(obj: Any) -> Any:
                self.websocket_events(pattern, obj, config=config)
                return obj
            return decorator
        if handler is not None:
            target = handler() if isinstance(handler, type) else handler
            on_open = on_open or getattr(target, "on_open", None)
            on_message = on_message or getattr(target, "on_message", None)
            on_drain = on_drain or getattr(target, "on_drain", None)
            on_close = on_close or getattr(target, "on_close", None)
            if not any((on_open, on_message, on_drain, on_close)):
                raise TypeError("the handler has none of on_open, on_message, on_drain, on_close")
        cfg, route = self._ws_config(config, pattern, events=True)
        app = self

        def fail(conn: Conn, e: BaseException) -> None:
            try:
                route.recover(conn, e)
            except BaseException as inner:
                _print_exception(f"fiberws: recover handler on {pattern} failed:", inner)
            try:
                conn.close(CLOSE_INTERNAL_SERVER_ERR)
            except BaseException:
                pass

        def key(conn_h: Any) -> int:
            return ctypes.cast(conn_h, ctypes.c_void_p).value or 0

        # Event callbacks return 0 to C: a Python failure is handled here (recover handler, then 1011), so the
        # library's own failure path (a non-zero return) is not needed.
        def t_open(user: Any, conn_h: Any) -> int:
            conn = Conn(app, conn_h, pattern, True, {})
            try:
                conn._locals = app._locals.claim(conn_h)
                app._event_conns[key(conn_h)] = conn
                if on_open is not None:
                    on_open(conn)
            except BaseException as e:
                fail(conn, e)
            return 0

        def lookup(conn_h: Any) -> Conn:
            conn = app._event_conns.get(key(conn_h))
            if conn is None:  # not seen in on_open (cannot happen; be safe)
                conn = Conn(app, conn_h, pattern, True, {})
                app._event_conns[key(conn_h)] = conn
            return conn

        def t_message(user: Any, conn_h: Any, mt: int, data: Any, n: int) -> int:
            conn = lookup(conn_h)
            try:
                if on_message is not None:
                    on_message(conn, mt, _lent_bytes(data, n))
            except BaseException as e:
                fail(conn, e)
            return 0

        def t_drain(user: Any, conn_h: Any) -> int:
            conn = lookup(conn_h)
            try:
                if on_drain is not None:
                    on_drain(conn)
            except BaseException as e:
                fail(conn, e)
            return 0

        def t_close(user: Any, conn_h: Any, code: int, reason: Any, n: int) -> None:
            conn = lookup(conn_h)
            try:
                if on_close is not None:
                    on_close(conn, code, _lent_bytes(reason, n).decode("utf-8", "replace"))
            except BaseException as e:
                _print_exception(f"fiberws: on_close on {pattern} failed:", e)
            finally:
                app._event_conns.pop(key(conn_h), None)
                conn._end()

        ev = _ffi.fws_ws_events()
        _lib.fws_ws_events_init(ctypes.byref(ev))
        cbs = (_ffi.fws_open_fn(t_open), _ffi.fws_message_fn(t_message), _ffi.fws_drain_fn(t_drain),
               _ffi.fws_close_fn(t_close))
        ev.on_open, ev.on_message, ev.on_drain, ev.on_close = cbs
        _check(_lib.fws_app_websocket_events(self._handle(), _cstr(pattern, "pattern"), ctypes.byref(ev),
                                             ctypes.byref(cfg), None))
        self._keep.extend(cbs)
        return handler

    # -- control-frame trampolines (user = the conn's token) ----------------------------------------

    def _register_conn(self, conn: Conn) -> None:
        if not conn._token:
            conn._token = next(self._conn_tokens)
            with self._lock:
                self._conns[conn._token] = conn

    def _unregister_conn(self, conn: Conn) -> None:
        if conn._token:
            with self._lock:
                self._conns.pop(conn._token, None)
            conn._token = 0

    def _control(self, user: Any, kind: str, *args: Any) -> int:
        try:
            with self._lock:
                conn = self._conns.get(user or 0)
            fn = conn._control.get(kind) if conn is not None else None
            if conn is None or fn is None:
                return 0
            try:
                fn(*args)
                return 0
            except BaseException as e:
                conn._callback_exc = e
                return 1
        except BaseException as e:
            _print_exception(f"fiberws: {kind} handler trampoline failed:", e)
            return 1

    def _on_ping(self, user: Any, conn_h: Any, data: Any, n: int) -> int:
        return self._control(user, "ping", _lent_bytes(data, n))

    def _on_pong(self, user: Any, conn_h: Any, data: Any, n: int) -> int:
        return self._control(user, "pong", _lent_bytes(data, n))

    def _on_close_frame(self, user: Any, conn_h: Any, code: int, text: Any, n: int) -> int:
        return self._control(user, "close", code, _lent_bytes(text, n).decode("utf-8", "replace"))

    # -- running ----------------------------------------------------------------------------------

    def start(self, addr: str = ":3000") -> int:
        """Starts serving on ``addr`` in the background and returns the bound port (``"127.0.0.1:0"`` picks a
        free one)."""
        port = ctypes.c_int32()
        _check(_lib.fws_app_start(self._handle(), _cstr(addr, "addr"), ctypes.byref(port)))
        self._started = True
        self._stopped.clear()
        self.port = port.value
        _running.add(self)
        return port.value

    def start_tls(self, addr: str, cert_file: str, key_file: str) -> int:
        """Like ``start`` but serving TLS (wss://, https://): ``cert_file`` is the PEM certificate chain, ``key_file``
        its unencrypted PEM key. TLS 1.2/1.3 through the system's OpenSSL; ALPN http/1.1."""
        port = ctypes.c_int32()
        _check(_lib.fws_app_start_tls(self._handle(), _cstr(addr, "addr"), _cstr(cert_file, "cert_file"),
                                      _cstr(key_file, "key_file"), ctypes.byref(port)))
        self._started = True
        self._stopped.clear()
        self.port = port.value
        _running.add(self)
        return port.value

    def stats(self) -> Dict[str, int]:
        """The app's counters (``fws_app_stats``) as a dict: connections_open, websockets_open, messages_in/out,
        bytes_in/out, refused_* by reason, ..."""
        st = _ffi.fws_stats()
        st.struct_size = ctypes.sizeof(st)
        _check(_lib.fws_app_stats(self._handle(), ctypes.byref(st)))
        return {name: int(getattr(st, name)) for name, _ in _ffi.fws_stats._fields_ if name != "struct_size"}

    def listen(self, addr: str = ":3000") -> None:
        """Serves on ``addr`` until ``shutdown()`` is called from another thread or Ctrl-C (Fiber's
        ``app.Listen``). Waits in Python, so KeyboardInterrupt arrives; it shuts the app down and returns."""
        self.start(addr)
        try:
            while not self._stopped.wait(0.2):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            self.shutdown()

    def shutdown(self, timeout: float = 5.0) -> bool:
        """Stops accepting, closes every connection with 1001 and waits up to ``timeout`` seconds for the
        handlers. True when all returned. Idempotent; any thread."""
        if not self._h:
            self._stopped.set()
            return True
        rc = _lib.fws_app_shutdown(self._h, _ms(timeout, "timeout"))
        self._stopped.set()
        _running.discard(self)
        if rc == _ffi.FWS_ERR_TIMEOUT:
            return False
        _check(rc)
        return True

    def publish(self, topic: str, type_or_data: Union[int, Data], data: Optional[Data] = None) -> int:
        """Sends a message to every event-API connection subscribed to ``topic`` (framed once). ``publish(topic,
        data)`` or ``publish(topic, type, data)``. Returns the number of subscribers, or -1 when called off the
        loop thread (then it is queued on the loop)."""
        mt, payload = _type_and_data(type_or_data, data)
        ptr, n, keep = _data(payload)
        receivers = ctypes.c_int32()
        rc = _lib.fws_app_publish(self._handle(), _cstr(topic, "topic"), mt, ptr, n, ctypes.byref(receivers))
        del keep
        _check(rc)
        return receivers.value

    def close(self) -> None:
        """Shuts the app down (if running) and frees it. Idempotent. Not from the app's own handlers."""
        h = self._h
        if not h:
            return
        rc = _lib.fws_app_free(h)
        if rc == _ffi.FWS_ERR_INVALID_STATE:
            raise _error(rc)
        self._h = None
        self._stopped.set()
        _running.discard(self)
        # The library calls nothing of ours any more.
        self._keep.clear()
        self._event_conns.clear()
        with self._lock:
            self._conns.clear()
        _check(rc)

    def __enter__(self) -> "App":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        if _finalizing():
            return
        try:
            self.close()
        except Exception:
            pass


@atexit.register
def _close_all_apps() -> None:
    """Before the interpreter finalizes, stop every app still alive, so no library thread calls into Python
    during finalization."""
    global _shutting_down
    for app in list(_apps):
        try:
            app.close()
        except Exception:
            pass
    _shutting_down = True
