"""A tiny ctypes view of libsluice for these tests only (the real binding is bindings/python).

The library is target/release/libsluice.so, or the path in the SLUICE_LIB environment variable.
"""

import ctypes
import json
import os
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
LIB_PATH = os.environ.get("SLUICE_LIB", str(ROOT / "target" / "release" / "libsluice.so"))

OK, ERR_NULL_ARGUMENT, ERR_INVALID_ARGUMENT, ERR_EXPORT, ERR_IO = 0, 1, 2, 7, 9
LOG_INFO = 3

lib = ctypes.CDLL(LIB_PATH)
_store_p = ctypes.c_void_p
LOG_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p)

for name, restype, argtypes in [
    ("sluice_last_error", ctypes.c_char_p, []),
    ("sluice_status_name", ctypes.c_char_p, [ctypes.c_int]),
    ("sluice_store_new", ctypes.c_int, [ctypes.c_char_p, ctypes.POINTER(_store_p)]),
    ("sluice_store_add", ctypes.c_int, [_store_p, ctypes.c_char_p, ctypes.c_size_t]),
    ("sluice_store_add_exporter", ctypes.c_int, [_store_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_uint64)]),
    ("sluice_store_flush", ctypes.c_int, [_store_p, ctypes.c_uint32]),
    ("sluice_store_close", ctypes.c_int, [_store_p, ctypes.c_uint32]),
    ("sluice_store_free", None, [_store_p]),
    ("sluice_store_stats", ctypes.c_int, [_store_p, ctypes.POINTER(ctypes.c_void_p)]),
    ("sluice_string_free", None, [ctypes.c_void_p]),
    ("sluice_set_log_callback", ctypes.c_int, [LOG_FN, ctypes.c_void_p, ctypes.c_int]),
]:
    function = getattr(lib, name)
    function.restype = restype
    function.argtypes = argtypes


class SluiceError(Exception):
    def __init__(self, status):
        self.status = status
        self.name = lib.sluice_status_name(status).decode()
        self.message = lib.sluice_last_error().decode()
        super().__init__(f"{self.name}: {self.message}")


def check(status):
    if status != OK:
        raise SluiceError(status)


class Store:
    def __init__(self, config=None):
        handle = _store_p()
        check(lib.sluice_store_new(json.dumps(config or {}).encode(), ctypes.byref(handle)))
        self.handle = handle

    def add(self, event):
        data = event.encode() if isinstance(event, str) else event
        check(lib.sluice_store_add(self.handle, data, len(data)))

    def add_exporter(self, config):
        exporter_id = ctypes.c_uint64()
        text = config if isinstance(config, str) else json.dumps(config)
        check(lib.sluice_store_add_exporter(self.handle, text.encode(), ctypes.byref(exporter_id)))
        return exporter_id.value

    def flush(self, timeout_ms=30_000):
        check(lib.sluice_store_flush(self.handle, timeout_ms))

    def close(self, timeout_ms=30_000):
        check(lib.sluice_store_close(self.handle, timeout_ms))

    def stats(self):
        text = ctypes.c_void_p()
        check(lib.sluice_store_stats(self.handle, ctypes.byref(text)))
        try:
            return json.loads(ctypes.string_at(text.value).decode())
        finally:
            lib.sluice_string_free(text)

    def exporter_stats(self, exporter_id):
        return next(e for e in self.stats()["exporters"] if e["id"] == exporter_id)

    def free(self):
        if self.handle:
            lib.sluice_store_free(self.handle)
            self.handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.free()


def set_log_callback(callback, max_level=LOG_INFO):
    """Routes library log lines to callback(level, message); returns what must be kept alive."""
    keep = LOG_FN(lambda _userdata, level, message: callback(level, message.decode()))
    check(lib.sluice_set_log_callback(keep, None, max_level))
    return keep


def clear_log_callback():
    check(lib.sluice_set_log_callback(LOG_FN(), None, 1))
