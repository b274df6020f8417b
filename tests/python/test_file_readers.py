"""The built-in exporters' files read back with real readers: json.loads for JSON lines, the csv
module with a ';' delimiter for CSV, pyarrow for Parquet. Drives libsluice through its C ABI."""

import csv
import ctypes
import json
import os
import pathlib
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sluice_ctypes import (ERR_EXPORT, ERR_INVALID_ARGUMENT, ERR_IO, ERR_NULL_ARGUMENT, LOG_INFO, SluiceError,
                           Store, clear_log_callback, lib, set_log_callback)

HERE = pathlib.Path(__file__).resolve().parent
STRING_COLUMNS = ["kind", "contextKind", "userKey", "key", "variation", "value", "version", "source", "metadata",
                  "evaluationContext", "trackingEventDetails"]
COLUMNS = ["kind", "contextKind", "userKey", "creationDate", "key", "variation", "value", "default", "version",
           "source", "metadata", "evaluationContext", "trackingEventDetails"]
JSON_COLUMNS = {"value", "metadata", "evaluationContext", "trackingEventDetails"}


def dumps(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def event(i):
    """Every fifth event is a tracking event; the others' values cover `;`, quotes, line breaks,
    non-ASCII text, numbers, booleans, objects and null."""
    user = f'user;"{i}"\r\nsecond line' if i % 10 == 3 else f"user-{i}"
    if i % 5 == 4:
        return {"kind": "tracking", "contextKind": "user", "userKey": user, "creationDate": 1_700_000_000 + i,
                "key": "checkout", "evaluationContext": {"plan": "pro", "n": i},
                "trackingEventDetails": {"total": i * 3, "currency": "€"}}
    values = [f'a;b "quoted"\nnext line, été 🚀 {i}', i + 0.5, i % 4 == 0, {"z": i, "a": [1, 'two;"2"']}, None,
              f"plain-{i}"]
    return {"kind": "feature", "contextKind": "user", "userKey": user, "creationDate": 1_700_000_000 + i,
            "key": f"flag-{i % 7}", "variation": f"v{i % 3}", "value": values[i % 6], "default": i % 2 == 0,
            "version": "1.0", "source": "SERVER", "metadata": {"i": i, "note": 'ünïcode;"x"'}}


def events(count):
    return [event(i) for i in range(count)]


def text(value):
    """How a template renders a value: strings as they are, other values as JSON, null as nothing."""
    if value is None:
        return ""
    return value if isinstance(value, str) else dumps(value)


def expected_csv_row(e):
    return [text(e.get(name)) for name in
            ["kind", "contextKind", "userKey", "creationDate", "key", "variation", "value", "default", "source"]]


def expected_parquet_row(e):
    row = {}
    for name in COLUMNS:
        value = e.get(name)
        row[name] = dumps(value) if name in JSON_COLUMNS and value is not None else value
    return row


def visible_files(directory):
    """The published files, in name order (which is export order)."""
    return sorted(p for p in pathlib.Path(directory).iterdir() if not p.name.startswith("."))


def read_json_lines(directory):
    return [line for path in visible_files(directory) for line in path.read_text(encoding="utf-8").splitlines()]


def read_csv(directory):
    rows = []
    for path in visible_files(directory):
        with open(path, newline="", encoding="utf-8") as f:
            rows.extend(csv.reader(f, delimiter=";"))
    return rows


def read_parquet(directory):
    rows = []
    for path in visible_files(directory):
        table = pq.read_table(path)
        assert table.schema.names == COLUMNS
        assert table.schema.field("creationDate").type == pa.int64()
        assert table.schema.field("default").type == pa.bool_()
        for name in STRING_COLUMNS:
            assert table.schema.field(name).type == pa.string(), name
        rows.extend(table.to_pylist())
    return rows


def export_all(directory, config, sent):
    with Store() as store:
        exporter = store.add_exporter({"type": "file", "dir": str(directory), **config})
        for e in sent:
            store.add(dumps(e))
        store.flush()
        stats = store.exporter_stats(exporter)
        store.close()
    assert (stats["exported"], stats["pending"], stats["dropped"], stats["failed_attempts"]) == (len(sent), 0, 0, 0)
    assert len(visible_files(directory)) == stats["batches"], "one file per batch"
    assert not [p for p in pathlib.Path(directory).iterdir() if p.name.startswith(".")], "no temporary file left"
    return stats


def test_json_lines_files_read_back_with_json_loads(tmp_path):
    sent = events(500)
    export_all(tmp_path, {}, sent)
    lines = read_json_lines(tmp_path)
    assert [json.loads(line) for line in lines] == sent
    assert lines == [dumps(e) for e in sent], "each event is written byte for byte"
    assert all(p.suffix == ".json" and p.name.startswith("flag-variation-") for p in visible_files(tmp_path))


def test_csv_files_read_back_with_the_csv_module(tmp_path):
    sent = events(500)
    export_all(tmp_path, {"format": "csv"}, sent)
    assert read_csv(tmp_path) == [expected_csv_row(e) for e in sent]
    assert all(p.suffix == ".csv" for p in visible_files(tmp_path))


def test_a_csv_template_of_our_own(tmp_path):
    sent = events(12)
    template = "{{ .UserKey }};{{.FormattedDate}};{{ .TrackingEventDetails }};{{ .Metadata }}\n"
    export_all(tmp_path, {"format": "csv", "csv_template": template}, sent)
    assert read_csv(tmp_path) == [
        [e["userKey"], f"2023-11-14T22:13:{20 + i:02d}Z", text(e.get("trackingEventDetails")), text(e.get("metadata"))]
        for i, e in enumerate(sent)
    ]


@pytest.mark.parametrize("compression", ["snappy", "gzip", "zstd", "uncompressed"])
def test_parquet_files_read_back_with_pyarrow(tmp_path, compression):
    sent = events(500)
    export_all(tmp_path, {"format": "parquet", "parquet_compression": compression, "max_batch_size": 200}, sent)
    assert read_parquet(tmp_path) == [expected_parquet_row(e) for e in sent]
    for path in visible_files(tmp_path):
        metadata = pq.ParquetFile(path).metadata
        assert metadata.num_row_groups == 1
        assert metadata.row_group(0).column(0).compression == compression.upper()


def test_parquet_holds_feature_and_tracking_events_with_nulls(tmp_path):
    sent = [event(0), event(4)]
    export_all(tmp_path, {"format": "parquet"}, sent)
    feature, tracking = read_parquet(tmp_path)
    assert feature["evaluationContext"] is None and feature["trackingEventDetails"] is None
    assert json.loads(feature["value"]) == sent[0]["value"]
    assert feature["default"] is True and feature["creationDate"] == 1_700_000_000
    assert tracking["value"] is None and tracking["default"] is None and tracking["variation"] is None
    assert json.loads(tracking["trackingEventDetails"]) == {"total": 12, "currency": "€"}


@pytest.mark.parametrize("file_format", ["json", "csv", "parquet"])
def test_a_10000_event_burst_with_threshold_100_comes_back_exactly_in_order(tmp_path, file_format):
    sent = events(10_000)
    stats = export_all(tmp_path, {"format": file_format, "flush_threshold": 100}, sent)
    assert stats["batches"] >= 10
    if file_format == "json":
        assert [json.loads(line) for line in read_json_lines(tmp_path)] == sent
    elif file_format == "csv":
        assert read_csv(tmp_path) == [expected_csv_row(e) for e in sent]
    else:
        assert read_parquet(tmp_path) == [expected_parquet_row(e) for e in sent]


def test_exports_in_the_same_second_never_overwrite(tmp_path):
    sent = events(40)
    export_all(tmp_path, {"bulk": False, "filename": "events-{{ .Timestamp }}.{{ .Format }}"}, sent)
    assert len(visible_files(tmp_path)) == 40
    assert [json.loads(line) for line in read_json_lines(tmp_path)] == sent


def refused(config):
    with Store() as store:
        with pytest.raises(SluiceError) as caught:
            store.add_exporter(config)
        assert store.stats()["exporters"] == []
    return caught.value.status, caught.value.message


def test_templates_that_do_not_parse_are_refused_with_their_position(tmp_path):
    assert refused({"type": "file", "dir": str(tmp_path), "format": "csv", "csv_template": "{{ .Key };\n"}) == (
        ERR_INVALID_ARGUMENT,
        "file exporter: `csv_template` is refused: unclosed action: `{{` without `}}` at line 1, column 1")
    assert refused({"type": "log", "template": "ok\n  {{ .Key | printf }}"}) == (
        ERR_INVALID_ARGUMENT,
        "log exporter: `template` is refused: unexpected ` | printf` after `.Key`: only fields such as "
        "`{{ .Key }}` are supported at line 2, column 10")


def test_unknown_template_fields_are_refused(tmp_path):
    status, message = refused({"type": "file", "dir": str(tmp_path), "format": "csv", "csv_template": "{{ .Flag }}"})
    assert status == ERR_INVALID_ARGUMENT
    assert message.startswith("file exporter: `csv_template` is refused: unknown field `.Flag` (known: .Kind, ")
    assert message.endswith(".FormattedDate) at line 1, column 4")
    assert refused({"type": "file", "dir": str(tmp_path), "filename": "{{ .Hostname }}-{{ .Date }}"}) == (
        ERR_INVALID_ARGUMENT,
        "file exporter: `filename` is refused: unknown field `.Date` (known: .Hostname, .Timestamp, .Format) "
        "at line 1, column 20")


def test_unknown_types_and_keys_are_refused():
    assert refused({"type": "kafka"}) == (ERR_INVALID_ARGUMENT,
                                         'exporter config: unknown `type` "kafka" (expected "file", "log" or "webhook")')
    assert refused({"type": "log", "bulk": "no"}) == (ERR_INVALID_ARGUMENT,
                                                     'log exporter: `bulk` must be true or false, not "no"')
    assert refused("{")[0] == ERR_INVALID_ARGUMENT


def test_null_arguments_are_refused():
    exporter_id = ctypes.c_uint64()
    assert lib.sluice_store_add_exporter(None, b'{"type":"log"}', ctypes.byref(exporter_id)) == ERR_NULL_ARGUMENT
    with Store() as store:
        assert lib.sluice_store_add_exporter(store.handle, None, ctypes.byref(exporter_id)) == ERR_NULL_ARGUMENT
        assert lib.sluice_last_error().decode() == "`config_json` must not be NULL"
        assert lib.sluice_store_add_exporter(store.handle, b'{"type":"log"}', None) == ERR_NULL_ARGUMENT


def test_a_directory_that_cannot_be_created_is_an_io_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    status, message = refused({"type": "file", "dir": str(blocker / "events")})
    assert status == ERR_IO
    assert message == f"file exporter: cannot create directory {blocker / 'events'}: Not a directory (os error 20)"


def test_an_unwritable_directory_fails_exports_that_are_retried_and_written_once_it_clears(tmp_path):
    directory = tmp_path / "events"
    sent = events(30)
    with Store() as store:
        exporter = store.add_exporter({"type": "file", "dir": str(directory), "initial_backoff_ms": 5,
                                       "max_backoff_ms": 20})
        directory.rmdir()
        directory.write_text("a regular file where the directory was")
        for e in sent:
            store.add(dumps(e))
        with pytest.raises(SluiceError) as caught:
            store.flush(300)
        assert caught.value.status == ERR_EXPORT
        stats = store.exporter_stats(exporter)
        assert stats["failed_attempts"] >= 2
        assert (stats["exported"], stats["pending"]) == (0, 30)
        assert stats["last_error"].startswith(f"file exporter: cannot create directory {directory}")
        directory.unlink()
        store.flush()
        stats = store.exporter_stats(exporter)
        store.close()
    assert (stats["exported"], stats["pending"], stats["dropped"]) == (30, 0, 0)
    assert [json.loads(line) for line in read_json_lines(directory)] == sent


DISK_FULL_CHILD = r"""
import json, os, resource, sys
from sluice_ctypes import Store, SluiceError
directory, sent = sys.argv[1], json.loads(sys.stdin.read())
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
store = Store()
exporter = store.add_exporter({"type": "file", "dir": directory, "format": sys.argv[2],
                               "initial_backoff_ms": 5, "max_backoff_ms": 20})
resource.setrlimit(resource.RLIMIT_FSIZE, (200, hard))  # Python ignores SIGXFSZ: writes get EFBIG
for e in sent:
    store.add(e)
try:
    store.flush(300)
    status = 0
except SluiceError as error:
    status = error.status
during = store.exporter_stats(exporter)
files_during = os.listdir(directory)
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
store.flush()
after = store.exporter_stats(exporter)
store.close()
store.free()
print(json.dumps({"status": status, "during": during, "files_during": files_during, "after": after}))
"""


@pytest.mark.parametrize("file_format", ["json", "parquet"])
def test_a_full_disk_fails_exports_that_are_retried_and_written_once_it_clears(tmp_path, file_format):
    sent = events(60)
    child = subprocess.run([sys.executable, "-c", DISK_FULL_CHILD, str(tmp_path), file_format],
                           input=json.dumps([dumps(e) for e in sent]), capture_output=True, text=True,
                           cwd=HERE, env={**os.environ, "PYTHONPATH": str(HERE)}, timeout=120)
    assert child.returncode == 0, child.stderr
    result = json.loads(child.stdout)
    assert result["status"] == ERR_EXPORT
    assert result["during"]["failed_attempts"] >= 2
    assert (result["during"]["exported"], result["during"]["pending"]) == (0, 60)
    assert "File too large" in result["during"]["last_error"]
    assert result["files_during"] == [], "no partial file is ever visible"
    assert (result["after"]["exported"], result["after"]["pending"], result["after"]["dropped"]) == (60, 0, 0)
    if file_format == "json":
        assert [json.loads(line) for line in read_json_lines(tmp_path)] == sent
    else:
        assert read_parquet(tmp_path) == [expected_parquet_row(e) for e in sent]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_log_lines_reach_the_log_callback_at_info():
    lines = []
    keep = set_log_callback(lambda level, message: lines.append((level, message)) if message.startswith("py-log ")
                            else None)
    try:
        with Store() as store:
            exporter = store.add_exporter({"type": "log", "template": 'py-log {{ .Key }} user="{{ .UserKey }}" '
                                                                      'value={{ .Value }} at {{ .FormattedDate }}'})
            for e in [event(0), event(1), event(3)]:
                store.add(dumps(e))
            store.close()
            stats = store.exporter_stats(exporter)
    finally:
        clear_log_callback()
    assert lines == [
        (LOG_INFO, 'py-log flag-0 user="user-0" value=a;b "quoted"\\nnext line, été 🚀 0 at 2023-11-14T22:13:20Z'),
        (LOG_INFO, 'py-log flag-1 user="user-1" value=1.5 at 2023-11-14T22:13:21Z'),
        (LOG_INFO, 'py-log flag-3 user="user;"3"\\r\\nsecond line" value={"z":3,"a":[1,"two;\\"2\\""]} '
                   'at 2023-11-14T22:13:23Z'),
    ]
    assert (stats["name"], stats["exported"], stats["batches"]) == ("log", 3, 3), "not bulk by default"


LOG_TO_STDERR_CHILD = r"""
import json, sys
from sluice_ctypes import Store
store = Store()
store.add_exporter({"type": "log", "target": "stderr"})
for e in json.loads(sys.stdin.read()):
    store.add(e)
store.close()
store.free()
"""


def test_log_lines_go_to_standard_error_with_the_default_template():
    sent = [event(0), event(4), event(5)]
    child = subprocess.run([sys.executable, "-c", LOG_TO_STDERR_CHILD], input=json.dumps([dumps(e) for e in sent]),
                           capture_output=True, text=True, cwd=HERE, env={**os.environ, "PYTHONPATH": str(HERE)},
                           timeout=60)
    assert child.returncode == 0, child.stderr
    assert child.stderr.splitlines() == [
        '[2023-11-14T22:13:20Z] user="user-0", flag="flag-0", value="a;b "quoted"\\nnext line, été 🚀 0"',
        '[2023-11-14T22:13:24Z] user="user-4", flag="checkout", value=""',
        '[2023-11-14T22:13:25Z] user="user-5", flag="flag-5", value="plain-5"',
    ]
