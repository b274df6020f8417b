"""Stores that are never closed: interpreter exit, garbage collection; logging; library loading."""

from __future__ import annotations

import gc
import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
import weakref
from pathlib import Path

import pytest

import sluice
from sluice import _native


def run_script(tmp_path: Path, source: str) -> subprocess.CompletedProcess:
    """Runs `source` in a fresh interpreter that writes what its exporter receives to a file."""
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(source))
    return subprocess.run(
        [sys.executable, str(script), str(tmp_path / "received.jsonl")],
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "SLUICE_LOG"},  # no lines on stderr
        capture_output=True,
        text=True,
        timeout=120,
    )


def received(tmp_path: Path) -> list:
    return [json.loads(line) for line in (tmp_path / "received.jsonl").read_text().splitlines()]


EXIT_WITHOUT_CLOSE = """
    import json, sys, time
    import sluice

    out = open(sys.argv[1], "w")

    def send(events):
        time.sleep(SLEEP)  # a live exporter, busy while the interpreter exits
        for event in events:
            out.write(json.dumps(event) + "\\n")
        out.flush()

    store = sluice.Store()
    store.add_exporter(send, max_batch_size=BATCH, flush_interval=60)
    for i in range(1000):
        store.add({"i": i})
    print("exiting without close")
"""


@pytest.mark.parametrize("sleep, batch", [(0, 1000), (0.02, 50)])
def test_a_script_that_exits_without_close_still_exports_every_event(tmp_path, sleep, batch):
    source = EXIT_WITHOUT_CLOSE.replace("SLEEP", str(sleep)).replace("BATCH", str(batch))
    result = run_script(tmp_path, source)
    assert (result.returncode, result.stdout, result.stderr) == (0, "exiting without close\n", "")
    assert [e["i"] for e in received(tmp_path)] == list(range(1000))


AT_EXIT = """
    import atexit, json, logging, sys, threading

    late_adds = []
    adding, stopped = threading.Event(), threading.Event()

    @atexit.register
    def before_sluice_import():  # registered first: runs after sluice's exit hook
        stopped.wait(30)
        print("late adds:", len(late_adds))
        # The log callback is gone: this close's warning reaches no Python logger.
        store = sluice.Store()
        store.add_exporter(lambda events: False, initial_backoff=60, max_backoff=60)
        store.add({"i": "after the hook"})
        try:
            store.close(timeout=1)
        except sluice.FlushTimeout:
            print("closed after the hook, nothing logged")

    import sluice
    from sluice import _native

    logging.basicConfig(level=logging.WARNING, stream=sys.stdout, format="%(name)s %(levelname)s %(message)s")
    out = open(sys.argv[1], "w")

    def send(events):
        for event in events:
            out.write(json.dumps(event) + "\\n")
        out.flush()

    cycle = [sluice.Store()]
    cycle.append(cycle)
    cycle[0].add_exporter(send, flush_interval=60)
    for i in range(3):
        cycle[0].add({"i": i})
    failing = sluice.Store()
    failing.add_exporter(lambda events: False, initial_backoff=60, max_backoff=60)
    failing.add({"i": "never exported"})

    def keep_adding(store):
        # A daemon thread still adding while the exit hook closes the store.
        try:
            while True:
                store.add({"i": "late"})
                late_adds.append(1)
                if len(late_adds) == 100:
                    adding.set()
        except sluice.StoreClosed:
            stopped.set()

    threading.Thread(target=keep_adding, args=(cycle[0],), daemon=True).start()
    del cycle
    adding.wait(30)

    @atexit.register
    def after_sluice_import():  # registered after sluice's exit hook: runs before it
        print("stores open:", len(_native._open_stores))
"""


def test_exit_closes_stores_in_cycles_and_in_use_then_removes_the_log_callback(tmp_path):
    result = run_script(tmp_path, AT_EXIT)
    assert (result.returncode, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    assert lines[:3] == [
        "stores open: 2",
        "sluice WARNING exporter 1 () failed to export 1 events, retrying in 60000 ms: "
        "the export callback returned 1",
        "sluice WARNING close: 1 events were not exported by the deadline (dropped, reason shutdown)",
    ]
    assert lines[3].startswith("late adds: ")
    assert lines[4:] == ["closed after the hook, nothing logged"]
    late_adds = int(lines[3].split(": ")[1])
    assert late_adds >= 100
    assert [e["i"] for e in received(tmp_path)] == [0, 1, 2] + ["late"] * late_adds


def test_a_garbage_collected_store_is_closed_flushed_and_freed(make_collector):
    send = make_collector()
    batches, send_alive = send.batches, weakref.ref(send)
    store = sluice.Store()
    store.add_exporter(send, flush_interval=60)
    del send
    for i in range(10):
        store.add({"i": i})
    store_alive = weakref.ref(store)
    open_before = len(_native._open_stores)
    del store
    assert store_alive() is None
    assert [e["i"] for batch in batches for e in batch] == list(range(10))
    assert send_alive() is None
    assert len(_native._open_stores) == open_before - 1


def test_a_store_in_a_reference_cycle_is_closed_by_the_garbage_collector(collector):
    cycle = [sluice.Store()]
    cycle.append(cycle)
    cycle[0].add_exporter(collector, flush_interval=60)
    cycle[0].add({"i": 0})
    store_alive = weakref.ref(cycle[0])
    del cycle
    gc.collect()
    assert store_alive() is None
    assert [e["i"] for e in collector.events] == [0]


def test_a_store_collected_inside_its_own_exporter_callback_is_freed_by_a_helper_thread(caplog, wait_until):
    caplog.set_level(logging.DEBUG, logger="sluice")
    received_events = []
    holder = [sluice.Store()]
    finished = threading.Event()

    def send(events):
        received_events.extend(e["i"] for e in events)
        holder.clear()  # the last reference goes away on the library thread

    send_alive = weakref.ref(send)
    holder[0].add_exporter(send, bulk=False)
    del send
    store_alive = weakref.ref(holder[0])
    weakref.finalize(holder[0], finished.set)
    holder[0].add({"i": 0})
    assert finished.wait(30)
    wait_until(lambda: send_alive() is None)
    assert store_alive() is None
    assert received_events == [0]
    assert [r.getMessage() for r in caplog.records] == []


def test_library_log_levels_map_to_python_levels(caplog):
    caplog.set_level(logging.DEBUG, logger="sluice")
    levels = {1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO, 4: logging.DEBUG, 9: logging.ERROR}
    for level in levels:
        _native._log_entry(None, level, f"line at {level}".encode())
    _native._log_entry(None, 2, b"bad \xff utf-8")
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("sluice", python_level, f"line at {level}") for level, python_level in levels.items()
    ] + [("sluice", logging.WARNING, "bad \ufffd utf-8")]


def test_sluice_library_overrides_the_packaged_library(tmp_path):
    copy = tmp_path / "libsluice-copy.so"
    copy.write_bytes(Path(sluice.library_path).read_bytes())
    show = "import sluice; print(sluice.library_path, sluice.library_version())"
    result = subprocess.run(
        [sys.executable, "-c", show],
        cwd=tmp_path,
        env={**os.environ, "SLUICE_LIBRARY": str(copy)},
        capture_output=True,
        text=True,
    )
    assert (result.returncode, result.stdout) == (0, f"{copy} {sluice.__version__}\n")
    result = subprocess.run(
        [sys.executable, "-c", show],
        cwd=tmp_path,
        env={**os.environ, "SLUICE_LIBRARY": str(tmp_path / "missing.so")},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert f"ImportError: sluice: no native library at {tmp_path / 'missing.so'} (from SLUICE_LIBRARY)" in result.stderr
