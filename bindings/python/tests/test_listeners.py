"""Dispatch listeners (`Store.on_dispatch`): every export attempt, its outcome, and their lifetimes."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import threading
import types
import weakref
from typing import List

import pytest

import sluice
from sluice import _native

needs_listeners = pytest.mark.skipif(
    not hasattr(_native.lib, "sluice_store_add_listener"),
    reason="this libsluice has no dispatch listeners yet",
)


class Recorder:
    """A listener that records each dispatch and lets a test wait for a count of them."""

    def __init__(self) -> None:
        self.dispatches: List[sluice.Dispatch] = []
        self._changed = threading.Condition()

    def __call__(self, dispatch: sluice.Dispatch) -> None:
        with self._changed:
            self.dispatches.append(dispatch)
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 30.0) -> List[sluice.Dispatch]:
        with self._changed:
            arrived = self._changed.wait_for(lambda: len(self.dispatches) >= count, timeout)
            assert arrived, f"expected {count} dispatches, got {len(self.dispatches)}"
            return list(self.dispatches)


def test_dispatch_parses_json_arrays_and_json_lines_on_first_use():
    lines = sluice.Dispatch(exporter_id=4, event_count=2, data=b'{"i":0}\n{"i":1}\n', ok=True)
    array = sluice.Dispatch(exporter_id=5, event_count=2, data=b'[{"i":0},{"i":1}]', ok=False)
    assert lines.events == array.events == [{"i": 0}, {"i": 1}]
    assert lines.events is lines.events  # parsed once
    assert sluice.Dispatch(1, 0, b"", True).events == []
    assert repr(array) == "Dispatch(exporter_id=5, event_count=2, ok=False)"


@needs_listeners
def test_listeners_see_every_attempt_of_every_exporter_with_its_outcome(store):
    recorder = Recorder()
    listener_id = store.on_dispatch(recorder)
    assert isinstance(listener_id, int)
    outcomes = [False]  # the first batch fails, every later one succeeds

    def send(events: List[dict]) -> object:
        return outcomes.pop() if outcomes else None

    json_id = store.add_exporter(send, flush_threshold=2, flush_interval=60, initial_backoff=0.01)
    lines_id = store.add_exporter(lambda data: None, raw=True, format="jsonl", flush_threshold=2, flush_interval=60)
    store.add({"i": 0})
    store.add({"i": 1})
    recorder.wait_for(3)
    store.flush()

    def attempts(exporter_id: int) -> list:
        return [
            (d.event_count, d.ok, d.data[:1], [e["i"] for e in d.events])
            for d in recorder.dispatches
            if d.exporter_id == exporter_id
        ]

    assert len(recorder.dispatches) == 3
    assert attempts(json_id) == [(2, False, b"[", [0, 1]), (2, True, b"[", [0, 1])]
    assert attempts(lines_id) == [(2, True, b"{", [0, 1])]
    exporters = {e["id"]: e for e in store.stats()["exporters"]}
    assert (exporters[json_id]["exported"], exporters[json_id]["failed_attempts"]) == (2, 1)
    assert (exporters[lines_id]["exported"], exporters[lines_id]["failed_attempts"]) == (2, 0)


@needs_listeners
def test_a_raising_listener_is_logged_and_never_breaks_exporting(store, collector, caplog):
    caplog.set_level(logging.ERROR, logger="sluice")
    recorder = Recorder()

    def broken(dispatch: sluice.Dispatch) -> None:
        raise RuntimeError("listener bug")

    store.on_dispatch(broken)
    store.on_dispatch(lambda dispatch: False)  # what a listener returns is ignored
    store.on_dispatch(recorder)
    exporter_id = store.add_exporter(collector, flush_interval=60)
    for i in range(3):
        store.add({"i": i})
    store.flush()
    store.add({"i": 3})
    store.flush()

    assert [e["i"] for e in collector.events] == [0, 1, 2, 3]
    assert [(d.exporter_id, d.event_count, d.ok) for d in recorder.dispatches] == [
        (exporter_id, 3, True),
        (exporter_id, 1, True),
    ]
    exporter = store.stats()["exporters"][0]
    assert (exporter["exported"], exporter["failed_attempts"], exporter["last_error"]) == (4, 0, None)
    assert [(r.name, r.levelno, r.getMessage(), str(r.exc_info[1])) for r in caplog.records] == [
        (
            "sluice",
            logging.ERROR,
            f"dispatch listener {broken!r} raised on an attempt of exporter {exporter_id}; exporting goes on",
            "listener bug",
        )
    ] * 2


@needs_listeners
def test_remove_listener_stops_its_calls_and_releases_it(store, collector):
    recorder, stays = Recorder(), Recorder()
    released = weakref.ref(recorder)
    before = _native.live_callbacks()
    listener_id = store.on_dispatch(recorder)
    store.on_dispatch(stays)
    assert _native.live_callbacks() == before + 2
    store.add_exporter(collector, flush_interval=60)
    store.add({"i": 0})
    store.flush()
    dispatches = recorder.dispatches
    del recorder

    store.remove_listener(listener_id)
    assert released() is None and _native.live_callbacks() == before + 2  # `stays`, `collector`
    store.add({"i": 1})
    store.flush()
    assert [[e["i"] for e in d.events] for d in dispatches] == [[0]]
    assert [[e["i"] for e in d.events] for d in stays.dispatches] == [[0], [1]]

    with pytest.raises(sluice.NotFound, match=f"no listener with id {listener_id}"):
        store.remove_listener(listener_id)
    with pytest.raises(sluice.NotFound, match="no listener with id 999"):
        store.remove_listener(999)


@needs_listeners
def test_a_listener_may_remove_itself_and_is_released_once_its_call_returns(store, collector):
    calls: List[int] = []
    before = _native.live_callbacks()

    def once(dispatch: sluice.Dispatch) -> None:
        calls.append(dispatch.event_count)
        store.remove_listener(listener_id)

    listener_id = store.on_dispatch(once)
    del once
    store.add_exporter(collector, flush_interval=60)
    store.add({"i": 0})
    store.flush()
    assert _native.live_callbacks() == before + 1  # the exporter only
    store.add({"i": 1})
    store.flush()
    assert calls == [1]
    assert [e["i"] for e in collector.events] == [0, 1]


@needs_listeners
def test_close_releases_listeners_and_a_closed_store_keeps_none(collector):
    store = sluice.Store()
    recorder = Recorder()
    released = weakref.ref(recorder)
    before = _native.live_callbacks()
    listener_id = store.on_dispatch(recorder)
    del recorder
    store.close()
    assert released() is None and _native.live_callbacks() == before
    with pytest.raises(sluice.StoreClosed):
        store.on_dispatch(Recorder())
    assert _native.live_callbacks() == before
    with pytest.raises(sluice.NotFound):
        store.remove_listener(listener_id)


@needs_listeners
def test_a_garbage_collected_store_hears_its_last_flush_then_releases_its_listeners(collector):
    recorder = Recorder()
    dispatches, released = recorder.dispatches, weakref.ref(recorder)
    before = _native.live_callbacks()
    store = sluice.Store()
    store.on_dispatch(recorder)
    store.add_exporter(collector, flush_interval=60)
    store.add({"i": 0})
    del recorder, store
    assert released() is None and _native.live_callbacks() == before
    assert [(d.ok, [e["i"] for e in d.events]) for d in dispatches] == [(True, [0])]


def test_on_dispatch_refuses_what_is_not_callable(store):
    with pytest.raises(TypeError, match="listener must be callable, not NoneType"):
        store.on_dispatch(None)  # type: ignore[arg-type]


def test_without_the_symbols_listeners_raise_not_implemented(store, monkeypatch):
    before = _native.live_callbacks()
    monkeypatch.setattr(_native, "lib", types.SimpleNamespace())
    with pytest.raises(NotImplementedError, match="no sluice_store_add_listener"):
        store.on_dispatch(Recorder())
    with pytest.raises(NotImplementedError, match="no sluice_store_remove_listener"):
        store.remove_listener(1)
    assert _native.live_callbacks() == before


EXIT_WITH_A_LISTENER = """
    import sluice

    def listener(dispatch):
        print("dispatch", dispatch.ok, [e["i"] for e in dispatch.events], flush=True)

    store = sluice.Store()
    store.on_dispatch(listener)
    store.add_exporter(lambda events: None, flush_interval=60)
    for i in range(3):
        store.add({"i": i})
    print("exiting without close", flush=True)
"""


@needs_listeners
def test_a_listener_hears_the_exit_flush_and_is_released_before_finalisation(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(EXIT_WITH_A_LISTENER))
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "SLUICE_LOG"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "exiting without close\ndispatch True [0, 1, 2]\n"
