"""The Python rows of benches/run.sh: the ctypes floor, sluice, OpenTelemetry's
BatchLogRecordProcessor, posthog and segment-analytics-python, on the same event.

    python benches/peers.py [--quick]

Runs every row five times (three with `--quick`), alternating their order, each run in a process
of its own, and prints one JSON object per row and run on standard output, which
benches/report.py turns into the table; never asserts a speed. `--quick` runs the sluice rows
alone (the peers need not be installed). Each run times the calls alone; then the row's pipeline
is shut down and its counters read: what the consumer received (`exported`), what the library
reported dropped through its own channel (`dropped`), and what the call refused (`refused`).

posthog and segment post to a closed port on 127.0.0.1, so they deliver nothing. They keep their
default retries (a failing consumer that retried at once would take the GIL from the caller):
what they report to `on_error` counts as dropped, and after the run their shutdown gets
DRAIN_SECONDS, after which whatever they still hold is lost (reported as `queued_at_end`; nothing
tells the application about it). OpenTelemetry reports each record its full queue drops as a
logging warning, counted here by a handler.
"""

import argparse
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from importlib import metadata
from typing import Any, Callable, Dict, List, Optional, Tuple

import sluice
from sluice import _native

EVENT = {
    "kind": "feature",
    "contextKind": "user",
    "creationDate": 1700000000,
    "key": "new-checkout-flow",
    "userKey": "user-00042",
    "variation": "enabled",
    "value": True,
    "default": False,
}
EVENT_BYTES = json.dumps(EVENT, separators=(",", ":")).encode()
#: The same event as the peers take it: everything but the user, who is an argument of its own.
PROPERTIES = {k: v for k, v in EVENT.items() if k != "userKey"}
#: How long a peer's shutdown may take after a run; what it still holds then is lost. Its retries
#: to a closed port back off for longer than this, and only a bounded run can be repeated.
DRAIN_SECONDS = 1.0
#: How long sluice may take to export everything on close (it takes well under a second).
FLUSH_SECONDS = 120.0

Outcome = Dict[str, Any]


def outcome(seconds: float, accepted: Optional[int] = None, exported: Optional[int] = None,
            dropped: Optional[int] = None, refused: Optional[int] = 0, **notes: Any) -> Outcome:
    return dict(seconds=seconds, refused=refused, accepted=accepted, exported=exported,
                dropped=dropped, **notes)


class Counter:
    """An integer that several threads add to."""

    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def add(self, amount: int) -> None:
        with self._lock:
            self.value += amount


def timed(loop: Callable[[int], Any], n: int) -> Tuple[float, Any]:
    start = time.perf_counter()
    result = loop(n)
    return time.perf_counter() - start, result


def drained(stop: Callable[[], Any]) -> bool:
    """Runs a peer's shutdown for at most DRAIN_SECONDS; False when it did not finish."""
    thread = threading.Thread(target=stop, daemon=True)
    thread.start()
    thread.join(DRAIN_SECONDS)
    return not thread.is_alive()


def closed_port() -> int:
    """A loopback port nothing listens on: bound, then closed, so connecting is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the floor and sluice ---------------------------------------------------------------------


def ctypes_floor(n: int) -> Outcome:
    def loop(n: int) -> None:
        version = _native.version
        for _ in range(n):
            version()

    seconds, _ = timed(loop, n)
    return outcome(seconds, refused=None)


def sluice_row(loop: Callable[[sluice.Store, int], None]) -> Callable[[int], Outcome]:
    """A run of `loop` on a store of capacity n whose exporter counts the events it receives."""

    def run(n: int) -> Outcome:
        exported = Counter()
        store = sluice.Store(capacity=n, max_bytes=1 << 30)
        store.add_exporter(lambda batch: exported.add(batch.count(b"\n")), raw=True,
                           format="jsonl", max_batch_size=1000)
        seconds, _ = timed(lambda n: loop(store, n), n)
        store.close(timeout=FLUSH_SECONDS)
        stats = store.stats()
        return outcome(seconds, refused=stats["rejected"], accepted=stats["accepted"],
                       exported=exported.value, dropped=stats["exporters"][0]["dropped"])

    return run


def add_bytes(store: sluice.Store, n: int) -> None:
    add, event = store.add, EVENT_BYTES
    for _ in range(n):
        add(event)


def add_dict(store: sluice.Store, n: int) -> None:
    add, event = store.add, EVENT
    for _ in range(n):
        add(event)


def feature(store: sluice.Store, n: int) -> None:
    feature = store.feature
    for _ in range(n):
        feature("new-checkout-flow", user_key="user-00042", variation="enabled", value=True,
                default=False, context_kind="user", creation_date=1700000000)


# --- OpenTelemetry ----------------------------------------------------------------------------


class WarningCounter(logging.Handler):
    """Counts the records of one logger whose message starts with `prefix`, and keeps them
    from reaching standard error."""

    def __init__(self, logger_name: str, prefix: str) -> None:
        super().__init__()
        self.logger = logging.getLogger(logger_name)
        self.prefix = prefix
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if str(record.msg).startswith(self.prefix):
            self.count += 1

    def __enter__(self) -> "WarningCounter":
        self.logger.addHandler(self)
        self.logger.propagate = False
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.logger.removeHandler(self)
        self.logger.propagate = True


def otel_row(queue: Optional[int]) -> Callable[[int], Outcome]:
    """Logger.emit through a BatchLogRecordProcessor of `queue` records (None: the default,
    2,048; 0: n) with an exporter that counts."""

    def run(n: int) -> Outcome:
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import (BatchLogRecordProcessor, LogRecordExporter,
                                                    LogRecordExportResult)

        class CountingExporter(LogRecordExporter):
            def __init__(self) -> None:
                self.exported = Counter()

            def export(self, batch: Any) -> LogRecordExportResult:
                self.exported.add(len(batch))
                return LogRecordExportResult.SUCCESS

            def force_flush(self, timeout_millis: int = 30000) -> bool:
                return True

            def shutdown(self) -> None:
                pass

        exporter = CountingExporter()
        provider = LoggerProvider()
        processor = BatchLogRecordProcessor(exporter, max_queue_size=n if queue == 0 else queue)
        provider.add_log_record_processor(processor)
        logger = provider.get_logger("sluice-bench")

        def loop(n: int) -> None:
            emit, attributes = logger.emit, EVENT
            for _ in range(n):
                emit(event_name="feature", attributes=attributes)

        with WarningCounter("opentelemetry.sdk._shared_internal", "Queue full") as drops:
            seconds, _ = timed(loop, n)
            provider.shutdown()
        return outcome(seconds, accepted=n, exported=exporter.exported.value, dropped=drops.count,
                       queue=processor._batch_processor._max_queue_size)

    return run


# --- posthog and segment ----------------------------------------------------------------------


def http_peer_row(client_class: Callable[[], Any], key: str, send: Callable[[Any, int], int],
                  queue: Optional[int]) -> Callable[[int], Outcome]:
    """A run of a peer that posts batches from its own queue to a closed loopback port.

    `client_class()` imports the peer's client class, built as `Class(key, host=, on_error=,
    max_queue_size=)` with `queue` (None: its default; 0: n + 10); `send(client, n)` makes the n
    calls and returns how many the client refused. Events reported to `on_error` count as
    dropped; nothing can be exported.
    """

    def run(n: int) -> Outcome:
        reported = Counter()
        options = {} if queue is None else {"max_queue_size": n + 10 if queue == 0 else queue}
        client = client_class()(key, host=f"http://127.0.0.1:{closed_port()}",
                                on_error=lambda error, batch: reported.add(len(batch)), **options)
        seconds, refused = timed(lambda n: send(client, n), n)
        finished = drained(client.shutdown)
        queued_at_end = client.queue.qsize()
        for consumer in client.consumers or []:
            consumer.pause()
        return outcome(seconds, refused=refused, accepted=n - refused, exported=0,
                       dropped=reported.value, queue=client.queue.maxsize,
                       queued_at_end=queued_at_end, drained=finished,
                       drain_seconds=DRAIN_SECONDS)

    return run


def posthog() -> Any:
    from posthog import Posthog

    return Posthog


def segment() -> Any:
    from segment.analytics import Client

    return Client


def posthog_capture(client: Any, n: int) -> int:
    capture, properties, refused = client.capture, PROPERTIES, 0
    for _ in range(n):
        if capture("feature", distinct_id="user-00042", properties=properties) is None:
            refused += 1
    return refused


def segment_track(client: Any, n: int) -> int:
    track, properties, refused = client.track, PROPERTIES, 0
    for _ in range(n):
        accepted, _ = track(user_id="user-00042", event="feature", properties=properties)
        if not accepted:
            refused += 1
    return refused


# --- the table --------------------------------------------------------------------------------

SLUICE_ROWS = [
    ("floor", "ctypes call that does nothing: sluice_version()", ctypes_floor),
    ("add_bytes", "sluice add(bytes)", sluice_row(add_bytes)),
    ("add_dict", "sluice add(dict)", sluice_row(add_dict)),
    ("feature", "sluice feature(...)", sluice_row(feature)),
]
# A label's {queue} is the bound the run found in effect.
OTEL = "OpenTelemetry Logger.emit, BatchLogRecordProcessor"
PEER_ROWS = [
    ("otel_default", f"{OTEL}, default queue ({{queue:,}})", otel_row(None)),
    ("otel_large", f"{OTEL}, queue of N ({{queue:,}})", otel_row(0)),
    ("posthog_default", "posthog capture, default queue ({queue:,})",
     http_peer_row(posthog, "phc_sluice_bench", posthog_capture, None)),
    ("posthog_large", "posthog capture, queue of N + 10 ({queue:,})",
     http_peer_row(posthog, "phc_sluice_bench", posthog_capture, 0)),
    ("segment_default", "segment-analytics-python track, default queue ({queue:,})",
     http_peer_row(segment, "sluice-bench", segment_track, None)),
    ("segment_large", "segment-analytics-python track, queue of N + 10 ({queue:,})",
     http_peer_row(segment, "sluice-bench", segment_track, 0)),
]
PEER_PACKAGES = ["opentelemetry-sdk", "posthog", "segment-analytics-python"]


#: The longest one run of one row may take, its peer's drain included.
RUN_TIMEOUT_SECONDS = 600


def measure_one(row_id: str, n: int) -> None:
    """Measures one run of one row and prints it; the process then ends, whatever the row's
    peer still has in flight (its threads would otherwise compete with the next row)."""
    label, measure = next((label, measure) for id_, label, measure in SLUICE_ROWS + PEER_ROWS
                          if id_ == row_id)
    # The peers log every refused or failed event: keep that off standard error.
    for name in ("posthog", "segment", "opentelemetry"):
        logging.getLogger(name).addHandler(logging.NullHandler())
        logging.getLogger(name).propagate = False
    result = measure(n)
    print(json.dumps({"table": "python", "row": row_id, "label": label.format(**result), "n": n,
                      "event_bytes": len(EVENT_BYTES), **result}), flush=True)
    os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="sluice rows only, 20,000 events")
    parser.add_argument("--row", help="measure one run of this row (in a process of its own)")
    args = parser.parse_args()
    n, runs = (20_000, 3) if args.quick else (200_000, 5)
    if args.row:
        measure_one(args.row, n)
    rows = SLUICE_ROWS if args.quick else SLUICE_ROWS + PEER_ROWS
    quick = ["--quick"] if args.quick else []
    versions = {"python": sys.version.split()[0], "sluice": sluice.library_version()}
    if not args.quick:
        versions.update({package: metadata.version(package) for package in PEER_PACKAGES})
    print(json.dumps({"table": "python", "versions": versions}), flush=True)
    for run in range(runs):
        for row_id, _, _ in rows if run % 2 == 0 else reversed(rows):
            command = [sys.executable, __file__, "--row", row_id] + quick
            child = subprocess.run(command, stdout=subprocess.PIPE, check=True, text=True,
                                   timeout=RUN_TIMEOUT_SECONDS)
            print(json.dumps({**json.loads(child.stdout), "run": run}), flush=True)


if __name__ == "__main__":
    main()
