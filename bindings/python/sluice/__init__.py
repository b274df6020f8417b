"""sluice: the event pipeline that feature-flag, experimentation and analytics SDKs embed.

A thin ctypes binding of the sluice C library (libsluice), which ships inside this package::

    import sluice

    def send(events):            # runs on a library thread with each batch, a list of dicts
        post_to_collector(events)  # raise, or return False, to have the batch retried

    with sluice.Store(capacity=100_000) as store:
        store.add_exporter(send, max_batch_size=500, flush_interval=5.0)
        store.feature("new-checkout", user_key="u-42", variation="on", value=True)
        store.track("checkout-completed", user_key="u-42", details={"total": 99.5})
        store.flush()
        print(store.stats())

Errors are `SluiceError` subclasses; the library's log lines go to `logging.getLogger("sluice")`.
Set `SLUICE_LIBRARY=/path/to/libsluice.so` to load another build of the library.
"""

from ._native import LIBRARY_PATH as library_path
from ._native import version as _library_version
from . import errors
from .errors import *  # noqa: F403 - the exception classes
from .dispatch import Dispatch
from .store import Event, Store

__all__ = ["Store", "Event", "Dispatch", "library_path", "library_version", *errors.__all__]


def library_version() -> str:
    """The version of the loaded C library, e.g. "0.1.0"."""
    version: bytes = _library_version()
    return version.decode()


__version__ = library_version()
