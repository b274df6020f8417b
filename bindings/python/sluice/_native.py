"""The C library and everything that crosses its boundary.

Loads libsluice by absolute path, declares the signatures of `sluice.h`, turns statuses into
exceptions, and owns the process-wide callbacks through which library threads call Python: log
lines (routed to `logging.getLogger("sluice")`), exporter batches, dispatch listeners and the
release of the last two.

Lifetimes: the four C function pointers are module globals, alive as long as the process, so the
library can never call freed code. What a callback exporter or a dispatch listener needs (the
user's `send` or listener) lives in `_registered` until the library's release callback says it is
gone. At interpreter exit one `atexit` hook closes every open store, waits for their exporters and
listeners to be released, and only then removes the log callback: nothing calls into Python once
finalisation has begun.
"""

from __future__ import annotations

import atexit
import ctypes
import itertools
import json
import logging
import os
import threading
from ctypes import POINTER, c_char_p, c_int, c_int32, c_size_t, c_uint32, c_uint64, c_void_p
from typing import Any, Callable, Dict, NoReturn, Optional, Set, Union, cast

from .dispatch import Dispatch
from .errors import ERR_INVALID_ARGUMENT, OK, SluiceError, error_class

logger = logging.getLogger("sluice")

#: How long a store still open at interpreter exit (or garbage-collected) may flush, in seconds.
#: The library's own default for `sluice_store_free`.
CLOSE_TIMEOUT = 5.0
#: The longest wait for a timeout argument: the C API takes milliseconds as `uint32_t`.
_MAX_MS = 0xFFFF_FFFF


def _find_library() -> str:
    override = os.environ.get("SLUICE_LIBRARY")
    path = os.path.abspath(override or os.path.join(os.path.dirname(__file__), "libsluice.so"))
    if not os.path.isfile(path):
        origin = "SLUICE_LIBRARY" if override else "beside the package"
        raise ImportError(
            f"sluice: no native library at {path} (from {origin}); install the package with "
            "`pip install ./bindings/python` from a sluice checkout, or set SLUICE_LIBRARY"
        )
    return path


LIBRARY_PATH = _find_library()
lib = ctypes.CDLL(LIBRARY_PATH)  # CDLL releases the GIL around every call

LOG_FN = ctypes.CFUNCTYPE(None, c_void_p, c_int, c_char_p)
EXPORT_FN = ctypes.CFUNCTYPE(c_int32, c_void_p, c_void_p, c_size_t, c_size_t)
RELEASE_FN = ctypes.CFUNCTYPE(None, c_void_p)
DISPATCH_FN = ctypes.CFUNCTYPE(None, c_void_p, c_uint64, c_void_p, c_size_t, c_size_t, c_int)


def _declare(name: str, restype: Any, *argtypes: Any) -> Any:
    function = getattr(lib, name)
    function.restype = restype
    function.argtypes = argtypes
    return function


version = _declare("sluice_version", c_char_p)
status_name = _declare("sluice_status_name", c_char_p, c_int)
last_error = _declare("sluice_last_error", c_char_p)
string_free = _declare("sluice_string_free", None, c_void_p)
set_log_callback = _declare("sluice_set_log_callback", c_int, LOG_FN, c_void_p, c_int)
store_new = _declare("sluice_store_new", c_int, c_char_p, POINTER(c_void_p))
store_add = _declare("sluice_store_add", c_int, c_void_p, c_char_p, c_size_t)
store_flush = _declare("sluice_store_flush", c_int, c_void_p, c_uint32)
store_close = _declare("sluice_store_close", c_int, c_void_p, c_uint32)
store_free = _declare("sluice_store_free", None, c_void_p)
store_stats = _declare("sluice_store_stats", c_int, c_void_p, POINTER(c_void_p))
store_add_callback_exporter = _declare(
    "sluice_store_add_callback_exporter",
    c_int,
    c_void_p,
    c_char_p,
    EXPORT_FN,
    c_void_p,
    RELEASE_FN,
    POINTER(c_uint64),
)
store_remove_exporter = _declare("sluice_store_remove_exporter", c_int, c_void_p, c_uint64, c_uint32)


def _declare_newer(name: str, feature: str, restype: Any, *argtypes: Any) -> Any:
    """A function newer than some builds of the library, looked up on first use: a library
    without it still loads, and only calls that need it raise `NotImplementedError`."""
    try:
        return _declare(name, restype, *argtypes)
    except AttributeError:
        raise NotImplementedError(f"the library at {LIBRARY_PATH} has no {name} ({feature})") from None


def store_add_exporter() -> Any:
    return _declare_newer(
        "sluice_store_add_exporter", "built-in exporters", c_int, c_void_p, c_char_p, POINTER(c_uint64)
    )


def store_add_listener() -> Any:
    return _declare_newer(
        "sluice_store_add_listener",
        "dispatch listeners",
        c_int,
        c_void_p,
        DISPATCH_FN,
        c_void_p,
        RELEASE_FN,
        POINTER(c_uint64),
    )


def store_remove_listener() -> Any:
    return _declare_newer(
        "sluice_store_remove_listener", "dispatch listeners", c_int, c_void_p, c_uint64
    )


# --- statuses and errors --------------------------------------------------------------------


def error(status: int) -> SluiceError:
    """The exception for a failed call, with this thread's `sluice_last_error` message. Call it
    right after the failing call, on the same thread."""
    message = last_error().decode("utf-8", "replace")
    return error_class(status)(status, status_name(status).decode(), message)


def check(status: int) -> None:
    if status:
        raise error(status)


def invalid_argument(message: str) -> NoReturn:
    """Refuses a bad argument found before calling the library, as the library would."""
    raise error_class(ERR_INVALID_ARGUMENT)(
        ERR_INVALID_ARGUMENT, status_name(ERR_INVALID_ARGUMENT).decode(), message
    )


def milliseconds(name: str, seconds: Optional[float]) -> int:
    """Seconds (a float) as the C API's `uint32_t` milliseconds; None waits as long as it can."""
    if seconds is None:
        return _MAX_MS
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds >= 0:
        invalid_argument(f"`{name}` must be a number of seconds >= 0, not {seconds!r}")
    return min(round(seconds * 1000), _MAX_MS)


def options_json(options: Dict[str, Any]) -> bytes:
    """Keyword options as the library's JSON: None values left out, paths as strings, and
    `flush_interval`, `initial_backoff`, `max_backoff`, `block_timeout` (seconds) as `*_ms`."""
    config: Dict[str, Any] = {}
    for key, value in options.items():
        if value is None:
            continue
        if key in ("flush_interval", "initial_backoff", "max_backoff", "block_timeout"):
            key, value = f"{key}_ms", milliseconds(key, value)
        elif isinstance(value, os.PathLike):
            value = os.fspath(value)
        config[key] = value
    return json.dumps(config).encode()


# --- callbacks from library threads -----------------------------------------------------------

_PYTHON_LEVELS = {1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO, 4: logging.DEBUG}
_LOG_DEBUG = 4

# Marks a thread that is running one of our callbacks for the library (see `free_store`).
_callback_thread = threading.local()


def in_library_callback() -> bool:
    return getattr(_callback_thread, "active", False)


class _InLibraryCallback:
    """Marks the current thread as running a callback for the library, for its duration."""

    def __enter__(self) -> None:
        self.outer = in_library_callback()
        _callback_thread.active = True

    def __exit__(self, *exc_info: object) -> None:
        _callback_thread.active = self.outer


def _log_entry(userdata: Optional[int], level: int, message: Optional[bytes]) -> None:
    try:
        with _InLibraryCallback():
            text = (message or b"").decode("utf-8", "replace")
            logger.log(_PYTHON_LEVELS.get(level, logging.ERROR), text)
    except BaseException:  # noqa: B036 - nothing may propagate into the library
        pass


class CallbackExporter:
    """The Python side of one callback exporter: its `send` and how to decode batches for it."""

    __slots__ = ("send", "raw", "lines", "exporter_id")

    def __init__(self, send: Callable[[Any], object], raw: bool, lines: bool) -> None:
        self.send = send
        self.raw = raw
        self.lines = lines
        self.exporter_id = 0

    def deliver(self, data: bytes) -> int:
        """Calls `send`; 0 (exported) unless it raised or returned False."""
        batch: Any = data
        if not self.raw:
            batch = [json.loads(line) for line in data.splitlines()] if self.lines else json.loads(data)
        try:
            result = self.send(batch)
        except BaseException:  # noqa: B036 - a failed batch is retried, never lost
            logger.exception("exporter %d: send raised; the batch will be retried", self.exporter_id)
            return 1
        return 1 if result is False else 0


class Listener:
    """The Python side of one dispatch listener."""

    __slots__ = ("listener",)

    def __init__(self, listener: Callable[[Dispatch], object]) -> None:
        self.listener = listener

    def notify(self, dispatch: Dispatch) -> None:
        try:
            self.listener(dispatch)
        except BaseException:  # noqa: B036 - a listener never breaks exporting
            logger.exception(
                "dispatch listener %r raised on an attempt of exporter %d; exporting goes on",
                self.listener,
                dispatch.exporter_id,
            )


# What library threads call, by token (the C `userdata`), until the library releases it.
_registered: Dict[int, Union[CallbackExporter, Listener]] = {}
_released = threading.Condition()
_tokens = itertools.count(1)


def _export_entry(userdata: Optional[int], data: Optional[int], length: int, count: int) -> int:
    try:
        with _InLibraryCallback():
            exporter = cast(CallbackExporter, _registered[userdata or 0])
            return exporter.deliver(ctypes.string_at(data or 0, length) if length else b"")
    except BaseException:  # noqa: B036 - returning 0 here would mark the batch exported
        logger.exception("exporter callback failed before reaching send; the batch will be retried")
        return 1


def _dispatch_entry(
    userdata: Optional[int], exporter_id: int, data: Optional[int], length: int, count: int, result: int
) -> None:
    try:
        with _InLibraryCallback():
            listener = cast(Listener, _registered[userdata or 0])
            batch = ctypes.string_at(data or 0, length) if length else b""
            listener.notify(Dispatch(exporter_id, count, batch, result == OK))
    except BaseException:  # noqa: B036 - nothing may propagate into the library
        logger.exception("dispatch listener callback failed before reaching the listener")


def _release_entry(userdata: Optional[int]) -> None:
    with _InLibraryCallback():
        with _released:
            released = _registered.pop(userdata or 0, None)
            _released.notify_all()
        # Outside the lock: `send` or a listener may hold the last reference to anything, a
        # store included.
        del released


_LOG_FN = LOG_FN(_log_entry)
EXPORT_ENTRY = EXPORT_FN(_export_entry)
DISPATCH_ENTRY = DISPATCH_FN(_dispatch_entry)
RELEASE_ENTRY = RELEASE_FN(_release_entry)


def register(owner: Union[CallbackExporter, Listener]) -> int:
    """Keeps `owner` until the library releases it; the token is the C `userdata`."""
    token = next(_tokens)
    with _released:
        _registered[token] = owner
    return token


def unregister(token: int) -> None:
    """Forgets what a failed registration kept (the library never calls `release` then)."""
    _release_entry(token)


def live_callbacks() -> int:
    """How many callback exporters and dispatch listeners the library has not released yet."""
    with _released:
        return len(_registered)


# --- store handles ---------------------------------------------------------------------------

# Every store not yet freed; the exit hook closes them. Freeing takes the handle out first.
_open_stores: Set[int] = set()
_open_stores_lock = threading.Lock()
_exiting = False


def track_store(handle: int) -> None:
    with _open_stores_lock:
        _open_stores.add(handle)


def free_store(handle: int) -> None:
    """Closes (flushing for up to `CLOSE_TIMEOUT`) and frees a store nobody references any more.

    The library refuses to free a store from inside one of its own callbacks, so a store
    collected on a library thread is freed by a helper thread (not a daemon: the interpreter
    waits for it before the exit hook runs). At exit the hook closes stores and nothing is freed:
    another thread might still be calling one.
    """
    with _open_stores_lock:
        if _exiting or handle not in _open_stores:
            return
        _open_stores.discard(handle)
    if in_library_callback():
        threading.Thread(target=store_free, args=(handle,), name="sluice-free-store").start()
    else:
        store_free(handle)


def _close_everything_at_exit() -> None:
    global _exiting
    with _open_stores_lock:
        _exiting = True
        handles = list(_open_stores)
    for handle in handles:
        # The library logs what a close could not do (events dropped, callbacks detached).
        store_close(handle, milliseconds("timeout", CLOSE_TIMEOUT))
    # A callback that outlived its close deadline was detached; give it one more deadline to
    # return and release its exporter or listener before the interpreter stops running Python.
    with _released:
        if not _released.wait_for(lambda: not _registered, timeout=CLOSE_TIMEOUT):
            logger.error("%d exporter or listener callback(s) still running at exit", len(_registered))
    set_log_callback(LOG_FN(), None, _LOG_DEBUG)


check(set_log_callback(_LOG_FN, None, _LOG_DEBUG))
atexit.register(_close_everything_at_exit)


def stats_json(handle: int) -> Any:
    out = c_void_p()
    check(store_stats(handle, ctypes.byref(out)))
    try:
        return json.loads(ctypes.string_at(out.value or 0))
    finally:
        string_free(out)
