"""Shared fixtures: a store closed after each test, and collectors that record what exporters get."""

from __future__ import annotations

import threading
from typing import Any, Callable, Iterator, List

import pytest

import sluice


class Collector:
    """An exporter `send` that records each batch, and lets a test wait for a count of events."""

    def __init__(self) -> None:
        self.batches: List[Any] = []
        self.threads: List[int] = []
        self._changed = threading.Condition()

    def __call__(self, batch: Any) -> None:
        with self._changed:
            self.batches.append(batch)
            self.threads.append(threading.get_ident())
            self._changed.notify_all()

    @property
    def events(self) -> List[Any]:
        with self._changed:
            return [event for batch in self.batches for event in batch]

    def wait_for_events(self, count: int, timeout: float = 30.0) -> List[Any]:
        with self._changed:
            arrived = self._changed.wait_for(lambda: sum(map(len, self.batches)) >= count, timeout)
        assert arrived, f"expected {count} events, got {len(self.events)}"
        return self.events


@pytest.fixture
def collector() -> Collector:
    return Collector()


@pytest.fixture
def make_collector() -> Callable[[], Collector]:
    return Collector


@pytest.fixture
def store() -> Iterator[sluice.Store]:
    store = sluice.Store()
    yield store
    store.close()


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Polls `condition` (for what no callback signals, such as a release)."""
    done = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        done.wait(0.01)
    assert condition(), "condition not reached"


@pytest.fixture(name="wait_until")
def wait_until_fixture() -> Callable[..., None]:
    return wait_until
