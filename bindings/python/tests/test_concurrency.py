"""Many threads adding at once: exact counts, and each thread's events in its own order."""

from __future__ import annotations

import threading

import sluice

THREADS = 4
EVENTS_PER_THREAD = 50_000


def test_four_threads_adding_50000_events_each_lose_nothing_and_keep_their_order(collector):
    total = THREADS * EVENTS_PER_THREAD
    start = threading.Barrier(THREADS)

    def add_events(thread: int) -> None:
        start.wait()
        for i in range(EVENTS_PER_THREAD):
            store.add({"t": thread, "i": i})

    with sluice.Store(capacity=total) as store:
        store.add_exporter(collector, max_batch_size=5000, flush_interval=0.05)
        threads = [threading.Thread(target=add_events, args=(t,)) for t in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        store.flush(timeout=60)
        stats = store.stats()

    events = collector.events
    assert len(events) == total
    for thread in range(THREADS):
        assert [e["i"] for e in events if e["t"] == thread] == list(range(EVENTS_PER_THREAD))
    assert (stats["accepted"], stats["rejected"], stats["invalid"]) == (total, 0, 0)
    exporter = stats["exporters"][0]
    assert (exporter["exported"], exporter["dropped"], exporter["pending"]) == (total, 0, 0)
    assert exporter["batches"] == len(collector.batches)
