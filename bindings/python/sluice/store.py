"""`Store`: the Python face of one `sluice_store`."""

from __future__ import annotations

import ctypes
import json
import os
import weakref
from typing import Any, Callable, Dict, Literal, Mapping, Optional, Tuple, Union

from . import _native
from .dispatch import Dispatch

__all__ = ["Store", "Event"]

#: What `Store.add` accepts: a mapping, or the JSON text of one object as `str` or UTF-8 `bytes`.
Event = Union[Mapping[str, Any], str, bytes, bytearray, memoryview]

_to_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_add = _native.store_add
_MISSING: Any = object()  # an argument not given
_NULL: Any = object()  # an argument given as None that the event keeps (a JSON null)


def _fields(*fields: Tuple[str, Any]) -> Dict[str, Any]:
    """An event from its fields in order, leaving out those given as None or not given."""
    return {
        name: None if value is _NULL else value
        for name, value in fields
        if value is not None and value is not _MISSING
    }


def _utf8(text: str) -> bytes:
    # Lone surrogates pass through as bytes the library refuses (InvalidEvent), like bad bytes.
    return text.encode("utf-8", "surrogatepass")


class Store:
    """An event pipeline: accepts events and hands them, in batches, to its exporters.

    Each exporter sees every event accepted after it was added, in order, on a library thread
    of its own; a slow or failing exporter never delays `add` or the other exporters. Dispatch
    listeners (`on_dispatch`) hear of every export attempt and its outcome.

    Keyword arguments are the library's store config (all optional):

    - `capacity`: most events buffered, shared by all exporters (default 100,000).
    - `max_bytes`: most bytes buffered (default 64 MiB).
    - `overflow`: what `add` does when the buffer is full: `"drop_oldest"` (default; each
      exporter loses its oldest unexported event), `"drop_newest"` (`add` raises `QueueFull`)
      or `"block"` (wait up to `block_timeout`, then as `"drop_newest"`).
    - `block_timeout`: seconds, a float (default 0.1).
    - `max_event_bytes`: largest event accepted (default 1 MiB).

    Bad values raise `InvalidArgument`. Every method is thread-safe. Use the store as a context
    manager, or call `close`; a store still open at interpreter exit, or garbage-collected, is
    closed (flushed for up to 5 seconds).

        with sluice.Store(capacity=100_000) as store:
            store.add_exporter(send, flush_interval=5.0)
            store.feature("new-checkout", user_key="u-42", variation="on", value=True)
    """

    __slots__ = ("_handle", "_finalizer", "__weakref__")

    def __init__(
        self,
        *,
        capacity: Optional[int] = None,
        max_bytes: Optional[int] = None,
        overflow: Optional[Literal["drop_oldest", "drop_newest", "block"]] = None,
        block_timeout: Optional[float] = None,
        max_event_bytes: Optional[int] = None,
    ) -> None:
        config = _native.options_json(
            dict(
                capacity=capacity,
                max_bytes=max_bytes,
                overflow=overflow,
                block_timeout=block_timeout,
                max_event_bytes=max_event_bytes,
            )
        )
        handle = ctypes.c_void_p()
        _native.check(_native.store_new(config, ctypes.byref(handle)))
        self._handle: int = handle.value or 0
        _native.track_store(self._handle)
        # Not at exit: the exit hook closes the stores then, and nothing is freed.
        self._finalizer = weakref.finalize(self, _native.free_store, self._handle)
        self._finalizer.atexit = False

    # --- events ------------------------------------------------------------------------------

    def add(self, event: Event) -> None:
        """Adds one event: a dict, or the JSON text of one object as `str` or UTF-8 `bytes`.

        `bytes` go to the library as they are (the fastest form); a dict is encoded as compact
        JSON. `kind` defaults to `"feature"` and `creationDate` to now (Unix seconds); every other
        field is kept as given. Never waits for an exporter (only `overflow="block"` may wait).

        Raises `InvalidEvent` (not one JSON object, bad UTF-8, a known field of the wrong type,
        larger than `max_event_bytes`), `QueueFull` (refused by the overflow policy),
        `StoreClosed`, and `TypeError` for anything that is not a mapping, `str` or bytes.
        """
        if type(event) is bytes:
            data = event
        elif isinstance(event, dict):
            data = _utf8(_to_json(event))
        elif isinstance(event, str):
            data = _utf8(event)
        elif isinstance(event, (bytearray, memoryview)):
            data = bytes(event)
        elif isinstance(event, Mapping):
            data = _utf8(_to_json(dict(event)))
        else:
            raise TypeError(f"an event is a dict, str or bytes, not {type(event).__name__}")
        status = _add(self._handle, data, len(data))
        if status:
            raise _native.error(status)

    def feature(
        self,
        key: str,
        *,
        user_key: Optional[str] = None,
        variation: Optional[str] = None,
        value: Any = _MISSING,
        default: Optional[bool] = None,
        context_kind: Optional[str] = None,
        version: Optional[str] = None,
        source: Optional[str] = None,
        metadata: Optional[Mapping[str, Any]] = None,
        creation_date: Optional[int] = None,
    ) -> None:
        """Adds a feature event: flag `key` was evaluated for `user_key` to `variation`/`value`.

        `default` says whether the default value was served; `creation_date` (Unix seconds)
        defaults to now. Arguments left as None are left out of the event; `value=None` is kept
        (a JSON null). Raises as `add`.
        """
        self.add(
            _fields(
                ("kind", "feature"),
                ("contextKind", context_kind),
                ("userKey", user_key),
                ("creationDate", creation_date),
                ("key", key),
                ("variation", variation),
                ("value", _NULL if value is None else value),
                ("default", default),
                ("version", version),
                ("source", source),
                ("metadata", metadata),
            )
        )

    def track(
        self,
        key: str,
        *,
        user_key: Optional[str] = None,
        evaluation_context: Optional[Mapping[str, Any]] = None,
        details: Optional[Mapping[str, Any]] = None,
        context_kind: Optional[str] = None,
        creation_date: Optional[int] = None,
    ) -> None:
        """Adds a tracking event (`kind: "tracking"`): `user_key` did `key`, with `details`
        (`trackingEventDetails`) and the `evaluation_context` of the user. Raises as `add`."""
        self.add(
            _fields(
                ("kind", "tracking"),
                ("contextKind", context_kind),
                ("userKey", user_key),
                ("creationDate", creation_date),
                ("key", key),
                ("evaluationContext", evaluation_context),
                ("trackingEventDetails", details),
            )
        )

    # --- exporters ---------------------------------------------------------------------------

    def add_exporter(
        self,
        send: Callable[[Any], object],  # list[dict], or bytes with raw=True
        *,
        raw: bool = False,
        name: Optional[str] = None,
        format: Optional[Literal["json", "jsonl"]] = None,
        max_batch_size: Optional[int] = None,
        flush_threshold: Optional[int] = None,
        flush_interval: Optional[float] = None,
        bulk: Optional[bool] = None,
        initial_backoff: Optional[float] = None,
        max_backoff: Optional[float] = None,
    ) -> int:
        """Adds an exporter that calls `send(events)` with each batch; returns its id.

        `send` receives a `list[dict]`, or with `raw=True` the batch `bytes` in `format`
        (`"json"`: one JSON array, the default; `"jsonl"`: one object per line). It runs on a
        library thread, never concurrently with itself. Raising an exception (logged to the
        `sluice` logger) or returning `False` marks the batch failed: the same events are offered
        again, in order, after a backoff from `initial_backoff` doubling up to `max_backoff`.
        Anything else is success.

        A batch holds at most `max_batch_size` events (default 1000) and is exported when
        `flush_threshold` events are pending (default `max_batch_size`), when the oldest has
        waited `flush_interval` seconds (default 5.0), or on `flush`/`close`. `bulk=False`
        exports each event on its own as soon as possible. Times are seconds as floats.

        The exporter sees every event added from now on. The store keeps `send` (and what it
        references) alive until the exporter is removed or the store is closed. Raises
        `InvalidArgument` for a bad option and `StoreClosed`.
        """
        if not callable(send):
            raise TypeError(f"send must be callable, not {type(send).__name__}")
        options = _native.options_json(
            dict(
                name=name,
                format=format,
                max_batch_size=max_batch_size,
                flush_threshold=flush_threshold,
                flush_interval=flush_interval,
                bulk=bulk,
                initial_backoff=initial_backoff,
                max_backoff=max_backoff,
            )
        )
        exporter = _native.CallbackExporter(send, raw=raw, lines=format == "jsonl")
        token = _native.register(exporter)
        exporter_id = ctypes.c_uint64()
        status = _native.store_add_callback_exporter(
            self._handle,
            options,
            _native.EXPORT_ENTRY,
            token,
            _native.RELEASE_ENTRY,
            ctypes.byref(exporter_id),
        )
        if status:
            failure = _native.error(status)
            _native.unregister(token)
            raise failure
        exporter.exporter_id = exporter_id.value
        return exporter_id.value

    def add_file_exporter(self, **options: Any) -> int:
        """Adds the library's file exporter (`{"type": "file", ...}`); returns its id.

        Options: `dir` (a path, created when missing), `filename` (template), `format`
        (`"json"` lines, `"csv"` or `"parquet"`), `csv_template`, `parquet_compression`, and the
        common exporter options of `add_exporter` (seconds as floats). Raises `InvalidArgument`
        for a bad option, `SluiceError` (status `SLUICE_ERR_IO`) for an unusable directory, and
        `NotImplementedError` when the loaded library has no built-in exporters.
        """
        return self._add_builtin_exporter("file", options)

    def add_log_exporter(self, **options: Any) -> int:
        """Adds the library's log exporter (`{"type": "log", ...}`); returns its id.

        Each event becomes one line rendered from `template`, logged at INFO to the `sluice`
        logger (or written to standard error with `target="stderr"`). Takes the common exporter
        options of `add_exporter` too (seconds as floats). Raises as `add_file_exporter`.
        """
        return self._add_builtin_exporter("log", options)

    def add_webhook_exporter(
        self,
        url: str,
        *,
        secret: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
        meta: Optional[Mapping[str, Any]] = None,
        timeout: float = 10.0,
        gzip: bool = False,
        ca_file: Union[str, os.PathLike[str], None] = None,
        max_body_bytes: Optional[int] = None,
        **common: Any,
    ) -> int:
        """Adds the library's webhook exporter (`{"type": "webhook", ...}`); returns its id.

        Every export POSTs the batch to `url` (http:// or https://) as one JSON document,
        `{"meta": {"hostname": <this machine>, **meta}, "events": [...]}`, with
        `Content-Type: application/json` and the extra `headers`. With a `secret` it adds
        `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body bytes as sent>` (after
        compression when `gzip=True`, which sends `Content-Encoding: gzip`). `timeout` (seconds,
        default 10) bounds each request, connection and answer included. `ca_file` is a PEM file
        of root certificates trusted for https besides Mozilla's. A batch whose document would
        exceed `max_body_bytes` is sent as several POSTs, in order.

        Any 2xx is success. Any other status, a connection error or a timeout fails the export:
        the batch is retried after backoff (and not before the answer's `Retry-After`), and the
        status, the URL and the start of the answer go to `last_error` in `stats` and to the
        `sluice` logger. Takes the common exporter options of `add_exporter` but `format`
        (seconds as floats). Raises as `add_file_exporter` (`SluiceError` with status
        `SLUICE_ERR_IO` for a `ca_file` that cannot be read).
        """
        if timeout is None:  # `milliseconds` would take it as no limit: a request must end
            _native.invalid_argument("`timeout` must be a number of seconds > 0, not None")
        options = dict(
            url=url,
            meta=None if meta is None else dict(meta),
            headers=None if headers is None else dict(headers),
            secret=secret,
            timeout_ms=_native.milliseconds("timeout", timeout),
            gzip=gzip,
            ca_file=ca_file,
            max_body_bytes=max_body_bytes,
            **common,
        )
        return self._add_builtin_exporter("webhook", options)

    def _add_builtin_exporter(self, kind: str, options: Dict[str, Any]) -> int:
        add_exporter = _native.store_add_exporter()
        config = _native.options_json({"type": kind, **options})
        exporter_id = ctypes.c_uint64()
        _native.check(add_exporter(self._handle, config, ctypes.byref(exporter_id)))
        return exporter_id.value

    def remove_exporter(self, exporter_id: int, timeout: Optional[float] = 5.0) -> None:
        """Flushes exporter `exporter_id` for up to `timeout` seconds (None: no limit), stops it
        and releases it. The exporter is removed in every case; `FlushTimeout` says some of its
        events were not exported. Raises `NotFound` for an unknown id, `StoreClosed`, and
        `InvalidArgument` from inside an exporter callback of this store."""
        ms = _native.milliseconds("timeout", timeout)
        _native.check(_native.store_remove_exporter(self._handle, exporter_id, ms))

    # --- dispatch listeners ------------------------------------------------------------------

    def on_dispatch(self, listener: Callable[[Dispatch], object]) -> int:
        """Calls `listener(dispatch)` after every export attempt of every exporter of this store,
        retries included; returns the listener's id (for `remove_listener`).

        `dispatch` is a `sluice.Dispatch`: `exporter_id`, `event_count`, `data` (the batch
        bytes), `events` (the same, parsed on first use) and `ok` (False: the attempt failed and
        the events will be retried). The listener runs on the thread that made the attempt (an
        exporter's library thread), possibly at the same time for different exporters, and
        delays that exporter while it runs: keep it short. What it returns is ignored; an
        exception is logged to the `sluice` logger and never changes the attempt's outcome.

        The store keeps `listener` (and what it references) alive until it is removed or the
        store is closed. Raises `StoreClosed`, and `NotImplementedError` when the loaded library
        has no dispatch listeners.
        """
        if not callable(listener):
            raise TypeError(f"listener must be callable, not {type(listener).__name__}")
        add_listener = _native.store_add_listener()
        token = _native.register(_native.Listener(listener))
        listener_id = ctypes.c_uint64()
        status = add_listener(
            self._handle, _native.DISPATCH_ENTRY, token, _native.RELEASE_ENTRY, ctypes.byref(listener_id)
        )
        if status:
            failure = _native.error(status)
            _native.unregister(token)
            raise failure
        return listener_id.value

    def remove_listener(self, listener_id: int) -> None:
        """Removes dispatch listener `listener_id`: no call starts after it returns (a call
        already running on another thread finishes), and the store lets go of the listener.
        Raises `NotFound` for an unknown id, including any id once the store is closed."""
        _native.check(_native.store_remove_listener()(self._handle, listener_id))

    # --- flushing and closing ----------------------------------------------------------------

    def flush(self, timeout: Optional[float] = 5.0) -> None:
        """Waits until every event added before the call is exported by every exporter (or
        dropped by the overflow policy), for up to `timeout` seconds (None: no limit).

        Other threads, exporter callbacks included, run while it waits. Raises `FlushTimeout`,
        `ExportFailed` (an exporter failed and its retry falls after the deadline; its events
        stay pending), `StoreClosed`, and `InvalidArgument` from inside an exporter callback of
        this store (it would wait for itself)."""
        _native.check(_native.store_flush(self._handle, _native.milliseconds("timeout", timeout)))

    def close(self, timeout: Optional[float] = 5.0) -> None:
        """Stops intake, flushes for up to `timeout` seconds (None: no limit), stops every
        exporter and releases it. No exporter callback starts after it returns.

        The store is closed whatever happens; `FlushTimeout` says events were still unexported
        at the deadline (counted as dropped, reason `shutdown`). Closing again does nothing.
        `stats` still works afterwards. Raises `InvalidArgument` from inside an exporter
        callback of this store."""
        _native.check(_native.store_close(self._handle, _native.milliseconds("timeout", timeout)))

    @property
    def closed(self) -> bool:
        """Whether the store is closed (`add` raises `StoreClosed`)."""
        return bool(self.stats()["closed"])

    def stats(self) -> Dict[str, Any]:
        """A consistent snapshot of the counters, as the library's stats JSON.

        Keys: `accepted`, `rejected`, `invalid`, `buffered`, `buffered_bytes`, `capacity`,
        `max_bytes`, `closed` and `exporters`, a list of `{id, name, type, accepted, exported,
        pending, dropped, dropped_reasons: {overflow, shutdown}, in_flight, failed_attempts,
        batches, last_error}` where `accepted == exported + dropped + pending` for each exporter.
        """
        stats: Dict[str, Any] = _native.stats_json(self._handle)
        return stats

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        stats = self.stats()
        state = "closed" if stats["closed"] else "open"
        return f"<sluice.Store {state}, {stats['accepted']} accepted, {len(stats['exporters'])} exporters>"
