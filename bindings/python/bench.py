"""Events per second through the Python binding, beside the ctypes floor (not a test).

    bindings/python/run.sh bindings/python/bench.py [EVENTS]

Each row adds EVENTS events (default 200,000) to a store with one no-op exporter (raw bytes, so
the exporter thread does no parsing); "ctypes floor" is the same number of calls of a C function
that does nothing (`sluice_version`), the least any call through ctypes can cost.
"""

import os
import sys
import time

# This file sits beside the source package: measure the installed one, with its library.
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import sluice  # noqa: E402
from sluice import _native  # noqa: E402

EVENTS = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
EVENT = {
    "kind": "feature",
    "contextKind": "user",
    "userKey": "u-42",
    "creationDate": 1700000000,
    "key": "new-checkout",
    "variation": "on",
    "value": True,
    "default": False,
    "version": "v3",
    "source": "SERVER",
}
EVENT_BYTES = sluice.store._to_json(EVENT).encode()


def ctypes_floor(store: sluice.Store) -> None:
    version = _native.version
    for _ in range(EVENTS):
        version()


def add_bytes(store: sluice.Store) -> None:
    add, event = store.add, EVENT_BYTES
    for _ in range(EVENTS):
        add(event)


def add_dict(store: sluice.Store) -> None:
    add, event = store.add, EVENT
    for _ in range(EVENTS):
        add(event)


def feature(store: sluice.Store) -> None:
    feature = store.feature
    for _ in range(EVENTS):
        feature("new-checkout", user_key="u-42", variation="on", value=True, default=False,
                context_kind="user", version="v3", source="SERVER", creation_date=1700000000)


def measure(run) -> float:
    with sluice.Store(capacity=EVENTS) as store:
        store.add_exporter(lambda batch: None, raw=True)
        start = time.perf_counter()
        run(store)
        elapsed = time.perf_counter() - start
        store.flush(timeout=60)
        assert store.stats()["accepted"] == (0 if run is ctypes_floor else EVENTS)
    return elapsed


def main() -> None:
    print(f"sluice {sluice.library_version()}, Python {sys.version.split()[0]}, "
          f"{EVENTS:,} events of {len(EVENT_BYTES)} bytes, one no-op exporter")
    print(f"{'':14} {'events/s':>12} {'ns/event':>10}")
    for name, run in [("ctypes floor", ctypes_floor), ("add(bytes)", add_bytes),
                      ("add(dict)", add_dict), ("feature(...)", feature)]:
        elapsed = min(measure(run) for _ in range(3))
        print(f"{name:14} {EVENTS / elapsed:12,.0f} {elapsed / EVENTS * 1e9:10,.0f}")


if __name__ == "__main__":
    main()
