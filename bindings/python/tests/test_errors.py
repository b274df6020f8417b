"""Every bad input raises the exception the binding documents, with the library's message."""

from __future__ import annotations

import pickle
import threading

import pytest

import sluice
from sluice import _native


@pytest.mark.parametrize("event", [None, 42, 1.5, ["key"], ("key",), {"key"}, object()])
def test_add_refuses_what_is_not_a_dict_str_or_bytes(store, event):
    with pytest.raises(TypeError, match="an event is a dict, str or bytes"):
        store.add(event)
    assert store.stats()["invalid"] == 0


@pytest.mark.parametrize(
    "event, message",
    [
        ("not json", "event must be one JSON object (it does not start with '{')"),
        ("[1, 2]", "event must be one JSON object (it does not start with '{')"),
        ("", "event must be one JSON object (it does not start with '{')"),
        ('{"key": "a"', "invalid JSON: unexpected end of input (at end of input)"),
        ('{"a":1,}', "invalid JSON: expected a string key at byte 7"),
        ('{"a": 1} {"b": 2}', "invalid JSON: trailing characters after the event object at byte 9"),
        (b'{"k\xc3y": 1}', "event is not valid UTF-8 (at byte 3)"),
        (b'{"key": "\xc3"}', "event is not valid UTF-8 (at byte 9)"),
        ('{"key": "\ud800"}', "event is not valid UTF-8 (at byte 9)"),
        ({"key": 1}, "field `key` must be a string, found a number"),
        ({"creationDate": "today"}, "field `creationDate` must be an integer, found a string"),
        ({"default": "yes"}, "field `default` must be a boolean, found a string"),
        ({"metadata": [1]}, "field `metadata` must be an object, found an array"),
        ({"value": float("nan")}, "invalid JSON: expected a value at byte 9"),
    ],
)
def test_add_refuses_invalid_events_and_counts_them(store, event, message):
    with pytest.raises(sluice.InvalidEvent) as raised:
        store.add(event)
    error = raised.value
    assert (error.status, error.status_name, error.message) == (3, "SLUICE_ERR_INVALID_EVENT", message)
    assert str(error) == f"SLUICE_ERR_INVALID_EVENT: {message}"
    assert isinstance(error, ValueError) and isinstance(error, sluice.SluiceError)
    assert store.stats()["invalid"] == 1
    assert store.stats()["accepted"] == 0


def test_add_refuses_an_event_larger_than_max_event_bytes():
    with sluice.Store(max_event_bytes=64) as store:
        store.add({"key": "k" * 40})
        with pytest.raises(sluice.InvalidEvent, match="max_event_bytes"):
            store.add({"key": "k" * 60})
        assert (store.stats()["accepted"], store.stats()["invalid"]) == (1, 1)


def test_drop_newest_raises_queue_full_and_counts_it(collector):
    with sluice.Store(capacity=2, overflow="drop_newest") as store:
        store.add_exporter(collector, flush_interval=60)
        store.add({"i": 0})
        store.add({"i": 1})
        with pytest.raises(sluice.QueueFull) as raised:
            store.add({"i": 2})
        assert raised.value.status == 4
        assert (store.stats()["accepted"], store.stats()["rejected"]) == (2, 1)
        store.flush()
        assert [e["i"] for e in collector.events] == [0, 1]


def test_block_raises_queue_full_after_its_timeout(collector):
    with sluice.Store(capacity=1, overflow="block", block_timeout=0.01) as store:
        store.add_exporter(collector, flush_interval=60)
        store.add({"i": 0})
        with pytest.raises(sluice.QueueFull):
            store.add({"i": 1})
        assert store.stats()["rejected"] == 1


@pytest.mark.parametrize(
    "config, message",
    [
        ({"capacity": 0}, "`capacity` must be an integer from 1"),
        ({"capacity": "10"}, "`capacity` must be an integer"),
        ({"capacity": -1}, "`capacity` must be an integer"),
        ({"max_bytes": 1.5}, "`max_bytes` must be an integer"),
        ({"overflow": "sideways"}, "`overflow` must be"),
        ({"overflow": 1}, "`overflow` must be a string"),
        ({"max_bytes": 10, "max_event_bytes": 11}, "`max_event_bytes` \\(11\\) must not exceed"),
        ({"block_timeout": -1}, "`block_timeout` must be a number of seconds"),
        ({"block_timeout": "1s"}, "`block_timeout` must be a number of seconds"),
        ({"block_timeout": True}, "`block_timeout` must be a number of seconds"),
    ],
)
def test_store_refuses_bad_config_values(config, message):
    with pytest.raises(sluice.InvalidArgument, match=message) as raised:
        sluice.Store(**config)
    assert (raised.value.status, raised.value.status_name) == (2, "SLUICE_ERR_INVALID_ARGUMENT")
    assert isinstance(raised.value, ValueError)


def test_store_refuses_unknown_and_positional_arguments():
    with pytest.raises(TypeError, match="capcity"):
        sluice.Store(capcity=10)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        sluice.Store(10)  # type: ignore[misc]


@pytest.mark.parametrize(
    "options, message",
    [
        ({"format": "xml"}, "`format` must be \"json\" or \"jsonl\""),
        ({"max_batch_size": 0}, "`max_batch_size` must be an integer from 1"),
        ({"flush_threshold": "5"}, "`flush_threshold` must be an integer"),
        ({"bulk": 1}, "`bulk` must be true or false"),
        ({"name": 5}, "`name` must be a string"),
        ({"flush_interval": 0}, "`flush_interval_ms` must be at least 1"),
        ({"flush_interval": "soon"}, "`flush_interval` must be a number of seconds"),
        ({"initial_backoff": -0.5}, "`initial_backoff` must be a number of seconds"),
        ({"initial_backoff": 2.0, "max_backoff": 1.0}, "`initial_backoff_ms` must not exceed"),
    ],
)
def test_add_exporter_refuses_bad_options_and_keeps_nothing(store, collector, options, message):
    before = _native.live_callbacks()
    with pytest.raises(sluice.InvalidArgument, match=message):
        store.add_exporter(collector, **options)
    assert _native.live_callbacks() == before
    assert store.stats()["exporters"] == []


def test_add_exporter_refuses_what_is_not_callable_or_unknown_options(store, collector):
    with pytest.raises(TypeError, match="send must be callable"):
        store.add_exporter(None)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="batch_size"):
        store.add_exporter(collector, batch_size=10)  # type: ignore[call-overload]


@pytest.mark.parametrize("timeout", [-1, "5", float("nan")])
def test_waits_refuse_bad_timeouts(store, timeout):
    exporter_id = store.add_exporter(lambda events: None)
    with pytest.raises(sluice.InvalidArgument, match="`timeout` must be a number of seconds"):
        store.flush(timeout)
    with pytest.raises(sluice.InvalidArgument, match="`timeout` must be a number of seconds"):
        store.remove_exporter(exporter_id, timeout)
    with pytest.raises(sluice.InvalidArgument, match="`timeout` must be a number of seconds"):
        store.close(timeout)
    assert store.closed is False


def test_remove_exporter_of_an_unknown_id_raises_not_found(store):
    exporter_id = store.add_exporter(lambda events: None)
    store.remove_exporter(exporter_id)
    for unknown in (exporter_id, 999):
        with pytest.raises(sluice.NotFound, match=f"no exporter with id {unknown}") as raised:
            store.remove_exporter(unknown)
        assert raised.value.status == 8 and isinstance(raised.value, LookupError)


def test_every_call_after_close_raises_store_closed(collector):
    store = sluice.Store()
    exporter_id = store.add_exporter(collector)
    store.close()
    calls = [
        lambda: store.add({"key": "a"}),
        lambda: store.add(b"not even json"),
        lambda: store.feature("f", user_key="u"),
        lambda: store.track("t", user_key="u"),
        lambda: store.flush(),
        lambda: store.add_exporter(collector),
        lambda: store.remove_exporter(exporter_id),
    ]
    for call in calls:
        with pytest.raises(sluice.StoreClosed) as raised:
            call()
        assert (raised.value.status, raised.value.message) == (5, "the store is closed")
    store.close()
    assert store.stats()["accepted"] == 0 and store.stats()["invalid"] == 0


def test_flush_close_and_remove_from_inside_an_exporter_raise_invalid_argument(store):
    outcomes = []

    def send(events):
        for call in (store.flush, store.close, lambda: store.remove_exporter(exporter_id)):
            try:
                call()
                outcomes.append(None)
            except sluice.SluiceError as error:
                outcomes.append((type(error), error.message))

    exporter_id = store.add_exporter(send, flush_interval=60)
    store.add({"i": 0})
    store.flush()
    inside = "was called from inside an exporter callback of the same store, which would wait for itself"
    assert outcomes == [
        (sluice.InvalidArgument, f"flush {inside}"),
        (sluice.InvalidArgument, f"close {inside}"),
        (sluice.InvalidArgument, f"remove_exporter {inside}"),
    ]
    assert store.closed is False
    assert store.stats()["exporters"][0]["exported"] == 1


def test_flush_raises_flush_timeout_while_an_exporter_is_busy(store, collector):
    entered, resume = threading.Event(), threading.Event()

    def slow(events):
        entered.set()
        resume.wait(30)
        collector(events)

    store.add_exporter(slow, bulk=False)
    store.add({"i": 0})
    try:
        assert entered.wait(30)
        with pytest.raises(sluice.FlushTimeout, match="not yet exported") as raised:
            store.flush(timeout=0.05)
        assert raised.value.status == 6 and isinstance(raised.value, TimeoutError)
    finally:
        resume.set()
    store.flush()
    assert [e["i"] for e in collector.events] == [0]


def test_flush_raises_export_failed_when_the_retry_falls_after_the_deadline(store):
    attempts = []
    store.add_exporter(lambda events: attempts.append(events) or False, initial_backoff=60, max_backoff=60)
    store.add({"i": 0})
    with pytest.raises(sluice.ExportFailed, match="failed during the flush") as raised:
        store.flush(timeout=30)
    assert raised.value.status == 7
    exporter = store.stats()["exporters"][0]
    assert (exporter["failed_attempts"], exporter["pending"], exporter["exported"]) == (1, 1, 0)
    assert exporter["last_error"] == "the export callback returned 1"
    # close makes one more attempt at once, whatever the backoff; it fails, so the event is dropped.
    with pytest.raises(sluice.FlushTimeout, match="1 events were not exported by the deadline"):
        store.close(timeout=0.5)
    exporter = store.stats()["exporters"][0]
    assert exporter["dropped_reasons"] == {"overflow": 0, "shutdown": 1}
    assert (exporter["accepted"], exporter["exported"], exporter["pending"]) == (1, 0, 0)
    assert len(attempts) == 2
    store.close()


def test_errors_pickle_with_their_status_and_message():
    error = sluice.QueueFull(4, "SLUICE_ERR_FULL", "the buffer is full")
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.status, copy.status_name, copy.message) == (
        sluice.QueueFull,
        4,
        "SLUICE_ERR_FULL",
        "the buffer is full",
    )
    assert str(copy) == "SLUICE_ERR_FULL: the buffer is full"
