"""The library's built-in exporters (`sluice_store_add_exporter`): files and log lines."""

from __future__ import annotations

import json
import logging
import types

import pytest

import sluice
from sluice import _native

needs_builtin_exporters = pytest.mark.skipif(
    not hasattr(_native.lib, "sluice_store_add_exporter"),
    reason="this libsluice has no sluice_store_add_exporter yet",
)

EVENTS = [
    {"kind": "feature", "creationDate": 1700000000, "key": "a", "userKey": "u-1", "value": True},
    {"kind": "feature", "creationDate": 1700000001, "key": "b", "userKey": "u-2", "value": "x;\"y\"\né"},
]


@needs_builtin_exporters
def test_file_exporter_writes_every_event_as_a_json_line(store, tmp_path):
    directory = tmp_path / "events"
    exporter_id = store.add_file_exporter(dir=directory, format="json", flush_interval=60)
    for event in EVENTS:
        store.add(event)
    store.flush()
    files = sorted(directory.iterdir())
    assert files and all(f.name.startswith("flag-variation-") and f.suffix == ".json" for f in files)
    written = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    assert written == EVENTS
    exporter = store.stats()["exporters"][0]
    assert (exporter["id"], exporter["exported"], exporter["pending"]) == (exporter_id, 2, 0)


@needs_builtin_exporters
def test_log_exporter_logs_each_event_at_info_to_the_sluice_logger(store, caplog):
    caplog.set_level(logging.INFO, logger="sluice")
    store.add_log_exporter(template="flag={{ .Key}} user={{ .UserKey}}", flush_interval=60)
    for event in EVENTS:
        store.add(event)
    store.flush()
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("sluice", logging.INFO, "flag=a user=u-1"),
        ("sluice", logging.INFO, "flag=b user=u-2"),
    ]


@needs_builtin_exporters
def test_built_in_exporters_refuse_bad_options(store, tmp_path):
    with pytest.raises(sluice.InvalidArgument, match="format"):
        store.add_file_exporter(dir=tmp_path, format="xml")
    with pytest.raises(sluice.InvalidArgument, match="colour"):
        store.add_log_exporter(colour="blue")
    with pytest.raises(sluice.InvalidArgument, match="`flush_interval` must be a number of seconds"):
        store.add_log_exporter(flush_interval="often")
    assert store.stats()["exporters"] == []


def test_without_the_symbol_built_in_exporters_raise_not_implemented(store, monkeypatch):
    monkeypatch.setattr(_native, "lib", types.SimpleNamespace())
    with pytest.raises(NotImplementedError, match="no sluice_store_add_exporter"):
        store.add_file_exporter(dir="/tmp")
    with pytest.raises(NotImplementedError, match="no sluice_store_add_exporter"):
        store.add_log_exporter()
