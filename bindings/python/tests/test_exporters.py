"""Exporter callbacks: retries after an exception or False, logging, and callback lifetimes."""

from __future__ import annotations

import gc
import logging
import threading
import weakref

import pytest

import sluice
from sluice import _native


class FailingFirst:
    """Fails its first `failures` calls (by raising, or by returning `outcome`), then records."""

    def __init__(self, failures: int, outcome: object = "raise") -> None:
        self.failures = failures
        self.outcome = outcome
        self.calls: list = []

    def __call__(self, events):
        self.calls.append([e["i"] for e in events])
        if len(self.calls) <= self.failures:
            if self.outcome == "raise":
                raise RuntimeError(f"collector down (call {len(self.calls)})")
            return self.outcome
        return None


def test_a_batch_whose_send_raised_is_retried_in_order_and_the_exception_logged(store, caplog):
    caplog.set_level(logging.WARNING, logger="sluice")
    send = FailingFirst(failures=2)
    store.add_exporter(send, initial_backoff=0.001, max_backoff=0.002, flush_interval=60)
    for i in range(3):
        store.add({"i": i})
    store.flush(timeout=30)
    assert send.calls == [[0, 1, 2], [0, 1, 2], [0, 1, 2]]
    exporter = store.stats()["exporters"][0]
    assert (exporter["exported"], exporter["failed_attempts"], exporter["batches"]) == (3, 2, 1)
    assert exporter["last_error"] == "the export callback returned 1"
    raised = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.name for r in raised] == ["sluice", "sluice"]
    assert [str(r.exc_info[1]) for r in raised] == ["collector down (call 1)", "collector down (call 2)"]
    retried = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(retried) == 2
    assert retried[0].startswith("exporter 1 () failed to export 3 events, retrying in 1 ms")


def test_a_batch_whose_send_returned_false_is_retried_in_order(store, caplog):
    caplog.set_level(logging.WARNING, logger="sluice")
    send = FailingFirst(failures=1, outcome=False)
    store.add_exporter(send, initial_backoff=0.001, flush_interval=60)
    for i in range(3):
        store.add({"i": i})
    store.flush(timeout=30)
    assert send.calls == [[0, 1, 2], [0, 1, 2]]
    exporter = store.stats()["exporters"][0]
    assert (exporter["exported"], exporter["failed_attempts"]) == (3, 1)
    assert [r.levelno for r in caplog.records] == [logging.WARNING]


@pytest.mark.parametrize("outcome", [None, 0, "", [], True, 1])
def test_anything_but_false_is_success(store, outcome):
    send = FailingFirst(failures=1, outcome=outcome)
    store.add_exporter(send, flush_interval=60)
    store.add({"i": 0})
    store.flush()
    assert send.calls == [[0]]
    assert store.stats()["exporters"][0]["failed_attempts"] == 0


def test_even_base_exceptions_in_send_fail_the_batch_instead_of_escaping(store):
    send = FailingFirst(failures=0)
    calls = []

    def interrupted(events):
        calls.append(events)
        if len(calls) == 1:
            raise KeyboardInterrupt
        send(events)

    store.add_exporter(interrupted, initial_backoff=0.001, flush_interval=60)
    store.add({"i": 0})
    store.flush(timeout=30)
    assert len(calls) == 2 and send.calls == [[0]]


def test_a_batch_that_is_not_json_for_send_is_retried_not_lost(store, caplog):
    # The library only hands out events it validated; this proves the fallback, not a real path.
    caplog.set_level(logging.ERROR, logger="sluice")
    exporter = _native.CallbackExporter(lambda events: None, raw=False, lines=False)
    token = _native.register(exporter)
    try:
        assert _native._export_entry(token, None, 0, 0) == 1
        assert _native._export_entry(None, None, 0, 0) == 1
    finally:
        _native.unregister(token)
    assert [r.levelno for r in caplog.records] == [logging.ERROR, logging.ERROR]


def test_send_is_kept_until_the_library_releases_the_exporter(store, make_collector):
    send = make_collector()
    batches, released = send.batches, weakref.ref(send)
    before = _native.live_callbacks()
    exporter_id = store.add_exporter(send, flush_interval=60)
    del send
    gc.collect()
    assert released() is not None and _native.live_callbacks() == before + 1
    store.add({"i": 0})
    store.remove_exporter(exporter_id)
    gc.collect()
    assert [[e["i"] for e in batch] for batch in batches] == [[0]]
    assert released() is None and _native.live_callbacks() == before


def test_close_releases_every_exporter(make_collector):
    store = sluice.Store()
    before = _native.live_callbacks()
    for _ in range(3):
        store.add_exporter(make_collector())
    assert _native.live_callbacks() == before + 3
    store.close()
    assert _native.live_callbacks() == before


def test_a_callback_still_running_at_the_close_deadline_is_detached_then_released(caplog, wait_until):
    caplog.set_level(logging.WARNING, logger="sluice")
    entered, resume = threading.Event(), threading.Event()
    before = _native.live_callbacks()

    def stuck(events):
        entered.set()
        resume.wait(30)

    store = sluice.Store()
    store.add_exporter(stuck, bulk=False)
    store.add({"i": 0})
    store.add({"i": 1})
    assert entered.wait(30)
    with pytest.raises(sluice.FlushTimeout, match="were not exported by the deadline"):
        store.close(timeout=0.05)
    assert store.closed is True
    exporter = store.stats()["exporters"][0]
    assert exporter["dropped_reasons"] == {"overflow": 0, "shutdown": 2}
    assert (exporter["exported"], exporter["pending"]) == (0, 0)
    assert _native.live_callbacks() == before + 1
    resume.set()
    wait_until(lambda: _native.live_callbacks() == before)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == ["exporter(s) [1] still inside their callback at the deadline; detached"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["close: 2 events were not exported by the deadline (dropped, reason shutdown)"]
