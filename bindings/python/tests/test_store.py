"""Store methods: the events exporters receive, exporter options, flush, stats and close."""

from __future__ import annotations

import os
import pydoc
import threading
import time
import types
from pathlib import Path

import pytest

import sluice


def test_add_accepts_dict_str_bytes_and_other_buffers(store, collector):
    store.add_exporter(collector, flush_interval=60)
    store.add({"key": "a", "creationDate": 1})
    store.add('{"key":"ключ","creationDate":2}')
    store.add(b'{"key":"c","creationDate":3}')
    store.add(bytearray(b'{"key":"d","creationDate":4}'))
    store.add(memoryview(b'{"key":"e","creationDate":5}'))
    store.add(types.MappingProxyType({"key": "f", "creationDate": 6}))
    store.flush()
    assert collector.events == [
        {"kind": "feature", "key": "a", "creationDate": 1},
        {"kind": "feature", "key": "ключ", "creationDate": 2},
        {"kind": "feature", "key": "c", "creationDate": 3},
        {"kind": "feature", "key": "d", "creationDate": 4},
        {"kind": "feature", "key": "e", "creationDate": 5},
        {"kind": "feature", "key": "f", "creationDate": 6},
    ]


def test_add_defaults_kind_and_creation_date_to_now(store, collector):
    store.add_exporter(collector, flush_interval=60)
    before = int(time.time())
    store.add({"key": "new-checkout", "userKey": "u-42", "variation": "on", "value": True})
    after = int(time.time())
    store.flush()
    [event] = collector.events
    assert list(event) == ["kind", "creationDate", "key", "userKey", "variation", "value"]
    assert event["kind"] == "feature"
    assert before <= event["creationDate"] <= after


def test_bytes_reach_a_raw_exporter_byte_for_byte(store, collector):
    event = b'{"creationDate":7,"kind":"feature","key":"k","value":{"b":1,"a":[1,2.50,"\\u00e9"]}}'
    store.add_exporter(collector, raw=True, flush_interval=60)
    store.add(event)
    store.add(event)
    store.flush()
    assert collector.batches == [b"[" + event + b"," + event + b"]"]


def test_jsonl_format_gives_lines_raw_and_dicts_parsed(store, make_collector):
    raw, parsed = make_collector(), make_collector()
    store.add_exporter(raw, raw=True, format="jsonl", flush_interval=60)
    store.add_exporter(parsed, format="jsonl", flush_interval=60)
    store.add(b'{"kind":"feature","creationDate":1,"key":"a"}')
    store.add(b'{"kind":"feature","creationDate":2,"key":"b"}')
    store.flush()
    assert raw.batches == [
        b'{"kind":"feature","creationDate":1,"key":"a"}\n{"kind":"feature","creationDate":2,"key":"b"}\n'
    ]
    assert parsed.batches == [
        [{"kind": "feature", "creationDate": 1, "key": "a"}, {"kind": "feature", "creationDate": 2, "key": "b"}]
    ]


def test_feature_builds_a_go_feature_flag_feature_event(store, collector):
    store.add_exporter(collector, flush_interval=60)
    store.feature(
        "new-checkout",
        user_key="u-42",
        variation="on",
        value=True,
        default=False,
        context_kind="user",
        version="v3",
        source="SERVER",
        metadata={"region": "eu"},
        creation_date=1700000000,
    )
    store.feature("price", user_key="u-7", value=None)
    store.flush()
    first, second = collector.events
    assert list(first.items()) == [
        ("kind", "feature"),
        ("contextKind", "user"),
        ("userKey", "u-42"),
        ("creationDate", 1700000000),
        ("key", "new-checkout"),
        ("variation", "on"),
        ("value", True),
        ("default", False),
        ("version", "v3"),
        ("source", "SERVER"),
        ("metadata", {"region": "eu"}),
    ]
    assert second["key"] == "price" and second["userKey"] == "u-7" and second["value"] is None
    assert sorted(second) == ["creationDate", "key", "kind", "userKey", "value"]


def test_track_builds_a_tracking_event(store, collector):
    store.add_exporter(collector, flush_interval=60)
    store.track(
        "checkout-completed",
        user_key="u-42",
        evaluation_context={"plan": "pro"},
        details={"total": 99.5},
        context_kind="user",
        creation_date=1700000001,
    )
    store.flush()
    assert [list(e.items()) for e in collector.events] == [
        [
            ("kind", "tracking"),
            ("contextKind", "user"),
            ("userKey", "u-42"),
            ("creationDate", 1700000001),
            ("key", "checkout-completed"),
            ("evaluationContext", {"plan": "pro"}),
            ("trackingEventDetails", {"total": 99.5}),
        ]
    ]


def test_max_batch_size_splits_batches_in_order(store, collector):
    store.add_exporter(collector, max_batch_size=2, flush_interval=60)
    for i in range(5):
        store.add({"i": i, "creationDate": 0})
    store.flush()
    assert [[e["i"] for e in batch] for batch in collector.batches] == [[0, 1], [2, 3], [4]]


def test_flush_threshold_exports_without_flush(store, collector):
    store.add_exporter(collector, flush_threshold=3, flush_interval=60)
    for i in range(3):
        store.add({"i": i})
    assert [e["i"] for e in collector.wait_for_events(3)] == [0, 1, 2]
    assert len(collector.batches) == 1


def test_flush_interval_in_seconds_exports_without_flush(store, collector):
    store.add_exporter(collector, flush_interval=0.05)
    store.add({"i": 0})
    assert [e["i"] for e in collector.wait_for_events(1)] == [0]


def test_bulk_false_exports_each_event_on_its_own(store, collector):
    store.add_exporter(collector, bulk=False, flush_interval=60)
    for i in range(3):
        store.add({"i": i})
    store.flush()
    assert [[e["i"] for e in batch] for batch in collector.batches] == [[0], [1], [2]]


def test_exporters_run_on_library_threads(store, collector):
    store.add_exporter(collector, bulk=False)
    store.add({"i": 0})
    store.add({"i": 1})
    store.flush()
    assert len(collector.threads) == 2
    assert threading.get_ident() not in collector.threads


def test_each_exporter_sees_events_added_after_it(store, make_collector):
    first, second = make_collector(), make_collector()
    store.add_exporter(first, flush_interval=60)
    store.add({"i": 0})
    store.add_exporter(second, flush_interval=60)
    store.add({"i": 1})
    store.flush()
    assert [e["i"] for e in first.events] == [0, 1]
    assert [e["i"] for e in second.events] == [1]


def test_stats_after_flush(collector):
    with sluice.Store(capacity=10) as store:
        exporter_id = store.add_exporter(collector, name="collector", flush_interval=60)
        for i in range(3):
            store.add({"i": i})
        store.flush()
        assert store.stats() == {
            "accepted": 3,
            "rejected": 0,
            "invalid": 0,
            "buffered": 0,
            "buffered_bytes": 0,
            "capacity": 10,
            "max_bytes": 64 << 20,
            "closed": False,
            "exporters": [
                {
                    "id": exporter_id,
                    "name": "collector",
                    "type": "callback",
                    "accepted": 3,
                    "exported": 3,
                    "pending": 0,
                    "dropped": 0,
                    "dropped_reasons": {"overflow": 0, "shutdown": 0},
                    "in_flight": 0,
                    "failed_attempts": 0,
                    "batches": 1,
                    "last_error": None,
                }
            ],
        }


def test_drop_oldest_drops_for_the_exporter_and_counts_it(collector):
    with sluice.Store(capacity=3, overflow="drop_oldest") as store:
        store.add_exporter(collector, flush_interval=60)
        for i in range(5):
            store.add({"i": i})
        exporter = store.stats()["exporters"][0]
        assert (exporter["accepted"], exporter["pending"], exporter["dropped"]) == (5, 3, 2)
        assert exporter["dropped_reasons"] == {"overflow": 2, "shutdown": 0}
        store.flush()
        assert [e["i"] for e in collector.events] == [2, 3, 4]


def test_block_overflow_waits_for_python_exporters_without_holding_the_gil(collector):
    # Room appears only when the Python exporter runs: add must let it take the GIL.
    with sluice.Store(capacity=1, overflow="block", block_timeout=30) as store:
        store.add_exporter(collector, bulk=False)
        for i in range(50):
            store.add({"i": i})
        store.flush()
        assert [e["i"] for e in collector.events] == list(range(50))
        assert store.stats()["rejected"] == 0


def test_remove_exporter_flushes_then_releases_it(store, collector, make_collector):
    other = make_collector()
    exporter_id = store.add_exporter(collector, flush_interval=60)
    other_id = store.add_exporter(other, flush_interval=60)
    store.add({"i": 0})
    store.remove_exporter(exporter_id)
    assert [e["i"] for e in collector.events] == [0]
    store.add({"i": 1})
    store.flush()
    assert [e["i"] for e in collector.events] == [0]
    assert [e["i"] for e in other.events] == [0, 1]
    assert [e["id"] for e in store.stats()["exporters"]] == [other_id]


def test_close_flushes_and_is_idempotent(collector):
    store = sluice.Store()
    store.add_exporter(collector, flush_interval=60)
    store.add({"i": 0})
    assert store.closed is False
    store.close()
    assert [e["i"] for e in collector.events] == [0]
    assert store.closed is True
    store.close()
    assert store.stats()["exporters"][0]["exported"] == 1


def test_context_manager_closes_on_exit(collector):
    with sluice.Store() as store:
        store.add_exporter(collector, flush_interval=60)
        store.feature("f", user_key="u", value=1)
    assert store.closed is True
    assert [e["key"] for e in collector.events] == ["f"]
    with pytest.raises(sluice.StoreClosed):
        store.add({"key": "late"})


def test_context_manager_closes_when_the_block_raises(collector):
    with pytest.raises(KeyError):
        with sluice.Store() as store:
            store.add_exporter(collector, flush_interval=60)
            store.add({"i": 0})
            raise KeyError("boom")
    assert store.closed is True
    assert [e["i"] for e in collector.events] == [0]


def test_repr_and_version():
    with sluice.Store() as store:
        assert repr(store) == "<sluice.Store open, 0 accepted, 0 exporters>"
    assert repr(store) == "<sluice.Store closed, 0 accepted, 0 exporters>"
    cargo = (Path(__file__).resolve().parents[3] / "Cargo.toml").read_text()
    assert f'\nversion = "{sluice.__version__}"\n' in cargo
    assert sluice.library_version() == sluice.__version__


def test_help_documents_every_public_method():
    methods = [name for name in dir(sluice.Store) if not name.startswith("_")]
    assert methods == [
        "add",
        "add_exporter",
        "add_file_exporter",
        "add_log_exporter",
        "add_webhook_exporter",
        "close",
        "closed",
        "feature",
        "flush",
        "on_dispatch",
        "remove_exporter",
        "remove_listener",
        "stats",
        "track",
    ]
    for name in methods:
        assert getattr(sluice.Store, name).__doc__, name
    text = pydoc.render_doc(sluice.Store)
    assert "flush_interval" in text and "overflow" in text


@pytest.mark.skipif(not os.environ.get("SLUICE_EXPECT_INSTALLED"), reason="set by test.sh")
def test_the_installed_package_is_imported_with_its_own_library():
    package = Path(sluice.__file__).resolve().parent
    source = Path(__file__).resolve().parents[1] / "sluice"
    assert package != source
    assert sluice.library_path == str(package / "libsluice.so")
    assert (package / "py.typed").is_file()
