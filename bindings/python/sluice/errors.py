"""The exceptions of sluice: one class per status of the C API, all under `SluiceError`."""

from __future__ import annotations

from typing import Dict, Type

__all__ = [
    "SluiceError",
    "InvalidArgument",
    "InvalidEvent",
    "QueueFull",
    "StoreClosed",
    "FlushTimeout",
    "ExportFailed",
    "NotFound",
]

# Status values fixed by the C contract (sluice.h `sluice_status`).
OK = 0
ERR_NULL_ARGUMENT = 1
ERR_INVALID_ARGUMENT = 2
ERR_INVALID_EVENT = 3
ERR_FULL = 4
ERR_CLOSED = 5
ERR_TIMEOUT = 6
ERR_EXPORT = 7
ERR_NOT_FOUND = 8
ERR_IO = 9
ERR_PANIC = 10


class SluiceError(Exception):
    """A call into the sluice library failed.

    `status` is the C status code (an `int`, e.g. 4 for `SLUICE_ERR_FULL`), `status_name` its
    name and `message` the library's explanation, which names the bad key, field or exporter.
    """

    status: int
    status_name: str
    message: str

    def __init__(self, status: int, status_name: str, message: str) -> None:
        super().__init__(status, status_name, message)
        self.status = status
        self.status_name = status_name
        self.message = message

    def __str__(self) -> str:
        return f"{self.status_name}: {self.message}" if self.message else self.status_name


class InvalidArgument(SluiceError, ValueError):
    """A bad option or value (unknown key, wrong type or range), or a call that would wait for
    itself, such as `flush` from inside an exporter callback of the same store."""


class InvalidEvent(SluiceError, ValueError):
    """The event is not one JSON object of valid UTF-8, a known field has the wrong type, or it
    is larger than `max_event_bytes`. It is counted in the store's `invalid` statistic."""


class QueueFull(SluiceError):
    """The overflow policy (`drop_newest`, or `block` after its timeout) rejected the event. It is
    counted in the store's `rejected` statistic."""


class StoreClosed(SluiceError):
    """The store is closed."""


class FlushTimeout(SluiceError, TimeoutError):
    """The deadline passed before every event was exported. From `close` and `remove_exporter`
    the store or exporter is gone all the same; the unexported events are counted as dropped."""


class ExportFailed(SluiceError):
    """An exporter failed during a flush; its events stay pending and are retried."""


class NotFound(SluiceError, LookupError):
    """No exporter or dispatch listener has this id in this store."""


_CLASSES: Dict[int, Type[SluiceError]] = {
    ERR_INVALID_ARGUMENT: InvalidArgument,
    ERR_INVALID_EVENT: InvalidEvent,
    ERR_FULL: QueueFull,
    ERR_CLOSED: StoreClosed,
    ERR_TIMEOUT: FlushTimeout,
    ERR_EXPORT: ExportFailed,
    ERR_NOT_FOUND: NotFound,
}


def error_class(status: int) -> Type[SluiceError]:
    """The exception class for a status; `SluiceError` itself for the rest (I/O, panic, ...)."""
    return _CLASSES.get(status, SluiceError)
