//! Built-in exporters through the Rust API: files (JSON lines, CSV, Parquet) and log lines, driven
//! by the same worker as callback exporters. Files are read back with real readers (serde_json,
//! the parquet crate's row reader); tests/python reads them with Python's csv, json and pyarrow.

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use serde_json::{json, Value};
use sluice::exporter::builtin::add_builtin_exporter;
use sluice::{Error, Store, StoreConfig};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(30);

/// A fresh directory path (not created) for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sluice-builtin-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    let _ = fs::remove_file(&dir);
    dir
}

/// Event `i`: every fifth one a tracking event, the others feature events whose values cover
/// strings with `;`, quotes, line breaks and non-ASCII text, numbers, booleans, objects and null.
fn event(i: usize) -> String {
    let date = 1_700_000_000 + i as i64;
    let value = match i % 6 {
        0 => json!(format!("a;b \"quoted\"\nnext line, été 🚀 {i}")),
        1 => json!(i as f64 + 0.5),
        2 => json!(i.is_multiple_of(4)),
        3 => json!({"z": i, "a": [1, "two;\"2\""]}),
        4 => Value::Null,
        _ => json!(format!("plain-{i}")),
    };
    let event = if i % 5 == 4 {
        json!({"kind": "tracking", "contextKind": "user", "userKey": format!("user-{i}"), "creationDate": date,
               "key": "checkout", "evaluationContext": {"plan": "pro", "n": i}, "trackingEventDetails": {"total": i * 3}})
    } else {
        json!({"kind": "feature", "contextKind": "user", "userKey": format!("user-{i}"), "creationDate": date,
               "key": format!("flag-{}", i % 7), "variation": format!("v{}", i % 3), "value": value,
               "default": i.is_multiple_of(2), "version": "1.0", "source": "SERVER", "metadata": {"i": i}})
    };
    event.to_string()
}

/// The visible files of `dir`, sorted by name (which is export order).
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    paths.sort();
    paths
}

fn hidden_files(dir: &Path) -> usize {
    fs::read_dir(dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with('.'))
        .count()
}

fn store() -> Store {
    Store::new(StoreConfig::default()).unwrap()
}

fn add(store: &Store, events: &[String]) {
    for e in events {
        store.add(e.as_bytes()).unwrap();
    }
}

/// Every JSON line of every file, in order.
fn json_lines(dir: &Path) -> Vec<String> {
    files(dir)
        .iter()
        .flat_map(|p| {
            fs::read_to_string(p)
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Every Parquet row of every file, in order, as (column, field) pairs.
fn parquet_rows(dir: &Path) -> Vec<Vec<(String, Field)>> {
    let mut rows = Vec::new();
    for path in files(dir) {
        let reader = SerializedFileReader::try_from(fs::File::open(&path).unwrap()).unwrap();
        for row in reader.get_row_iter(None).unwrap() {
            rows.push(
                row.unwrap()
                    .get_column_iter()
                    .map(|(name, field)| (name.clone(), field.clone()))
                    .collect(),
            );
        }
    }
    rows
}

/// The Parquet row that event `text` must become.
fn expected_row(text: &str) -> Vec<(String, Field)> {
    let event: Value = serde_json::from_str(text).unwrap();
    let text_column = |name: &str| {
        event
            .get(name)
            .and_then(Value::as_str)
            .map_or(Field::Null, |s| Field::Str(s.into()))
    };
    let json_column = |name: &str| match event.get(name) {
        None | Some(Value::Null) => Field::Null,
        Some(v) => Field::Str(v.to_string()),
    };
    let columns = [
        ("kind", text_column("kind")),
        ("contextKind", text_column("contextKind")),
        ("userKey", text_column("userKey")),
        ("creationDate", Field::Long(event["creationDate"].as_i64().unwrap())),
        ("key", text_column("key")),
        ("variation", text_column("variation")),
        ("value", json_column("value")),
        (
            "default",
            event
                .get("default")
                .and_then(Value::as_bool)
                .map_or(Field::Null, Field::Bool),
        ),
        ("version", text_column("version")),
        ("source", text_column("source")),
        ("metadata", json_column("metadata")),
        ("evaluationContext", json_column("evaluationContext")),
        ("trackingEventDetails", json_column("trackingEventDetails")),
    ];
    columns
        .into_iter()
        .map(|(name, field)| (name.to_string(), field))
        .collect()
}

#[test]
fn a_10000_event_burst_with_threshold_100_lands_in_json_lines_files_in_order() {
    let dir = scratch("burst-json");
    let store = store();
    let config = json!({"type": "file", "dir": dir, "flush_threshold": 100}).to_string();
    let id = add_builtin_exporter(&store, &config).unwrap();
    let events: Vec<String> = (0..10_000).map(event).collect();
    add(&store, &events);
    store.flush(LONG).unwrap();
    let stats = store.stats().exporters.into_iter().find(|e| e.id == id).unwrap();
    assert_eq!((stats.exported, stats.pending, stats.dropped), (10_000, 0, 0));
    assert_eq!(stats.kind, "file", "stats show the built-in type");
    assert_eq!(files(&dir).len() as u64, stats.batches, "one file per batch");
    assert!(
        stats.batches >= 10,
        "batches of at most max_batch_size (1000): {}",
        stats.batches
    );
    assert_eq!(
        json_lines(&dir),
        events,
        "the files hold exactly the accepted events, byte for byte, in order"
    );
    assert_eq!(hidden_files(&dir), 0, "no temporary file is left");
    store.close(LONG).unwrap();
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_10000_event_burst_lands_in_parquet_files_with_every_column() {
    for compression in ["snappy", "gzip", "zstd", "uncompressed"] {
        let dir = scratch(&format!("burst-parquet-{compression}"));
        let store = store();
        let config = json!({"type": "file", "dir": dir, "format": "parquet", "parquet_compression": compression,
                            "flush_threshold": 100, "max_batch_size": 100});
        add_builtin_exporter(&store, &config.to_string()).unwrap();
        let events: Vec<String> = (0..10_000).map(event).collect();
        add(&store, &events);
        store.close(LONG).unwrap();
        assert_eq!(files(&dir).len(), 100);
        assert!(files(&dir).iter().all(|p| p.extension().unwrap() == "parquet"));
        let rows = parquet_rows(&dir);
        assert_eq!(rows.len(), 10_000, "{compression}");
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(row, &expected_row(&events[i]), "{compression}: row {i}");
        }
        fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn csv_rows_follow_the_default_template() {
    let dir = scratch("csv");
    let store = store();
    add_builtin_exporter(
        &store,
        &json!({"type": "file", "dir": dir, "format": "csv"}).to_string(),
    )
    .unwrap();
    add(&store, &[event(0), event(4), event(5)]);
    store.close(LONG).unwrap();
    let [file] = files(&dir).try_into().unwrap();
    assert!(file.to_string_lossy().ends_with(".csv"));
    assert_eq!(
        fs::read_to_string(file).unwrap(),
        concat!(
            "feature;user;user-0;1700000000;flag-0;v0;\"a;b \"\"quoted\"\"\nnext line, été 🚀 0\";true;SERVER\n",
            "tracking;user;user-4;1700000004;checkout;;;;\n",
            "feature;user;user-5;1700000005;flag-5;v2;plain-5;false;SERVER\n",
        )
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn one_file_per_event_without_bulk_never_overwrites() {
    let dir = scratch("non-bulk");
    let store = store();
    let config = json!({"type": "file", "dir": dir, "bulk": false, "filename": "events-{{ .Timestamp}}.{{ .Format}}"});
    add_builtin_exporter(&store, &config.to_string()).unwrap();
    let events: Vec<String> = (0..50).map(event).collect();
    add(&store, &events);
    store.close(LONG).unwrap();
    let names = files(&dir);
    assert_eq!(
        names.len(),
        50,
        "many exports in the same second each keep their own file"
    );
    assert!(names.iter().any(|p| p.to_string_lossy().contains("_000001.json")));
    assert_eq!(json_lines(&dir), events);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_directory_that_cannot_be_created_is_refused_at_registration() {
    let blocker = scratch("blocker");
    fs::write(&blocker, "a regular file").unwrap();
    let store = store();
    let under_a_file = blocker.join("events");
    let error = add_builtin_exporter(&store, &json!({"type": "file", "dir": under_a_file}).to_string()).unwrap_err();
    let Error::Io(message) = error else {
        panic!("expected an I/O error, got {error:?}")
    };
    assert_eq!(
        message,
        format!(
            "file exporter: cannot create directory {}: Not a directory (os error 20)",
            under_a_file.display()
        )
    );
    assert!(store.stats().exporters.is_empty());
    fs::remove_file(&blocker).unwrap();
}

#[test]
fn a_directory_lost_after_registration_fails_exports_which_are_retried_and_then_written_once() {
    let dir = scratch("lost-dir");
    let store = store();
    let config = json!({"type": "file", "dir": dir, "initial_backoff_ms": 5, "max_backoff_ms": 20});
    let id = add_builtin_exporter(&store, &config.to_string()).unwrap();
    fs::remove_dir_all(&dir).unwrap();
    fs::write(&dir, "a regular file where the directory was").unwrap();
    let events: Vec<String> = (0..30).map(event).collect();
    add(&store, &events);
    let error = store.flush(Duration::from_millis(300)).unwrap_err();
    assert!(matches!(error, Error::Export(_)), "{error:?}");
    let stats = store.stats().exporters.into_iter().find(|e| e.id == id).unwrap();
    assert!(stats.failed_attempts >= 2, "retried: {stats:?}");
    assert_eq!((stats.exported, stats.pending), (0, 30));
    assert!(stats
        .last_error
        .unwrap()
        .starts_with("file exporter: cannot create directory"));
    fs::remove_file(&dir).unwrap();
    store.flush(LONG).unwrap();
    assert_eq!(json_lines(&dir), events, "written exactly once after the fault cleared");
    let stats = store.stats().exporters.into_iter().find(|e| e.id == id).unwrap();
    assert_eq!((stats.exported, stats.pending, stats.dropped), (30, 0, 0));
    store.close(LONG).unwrap();
    fs::remove_dir_all(&dir).unwrap();
}

/// Runs in a child process (it lowers the file size limit of its whole process): writes past the
/// limit fail with EFBIG, like a full disk.
#[test]
fn disk_full_child() {
    let Ok(dir) = std::env::var("SLUICE_DISK_FULL_DIR") else {
        return;
    };
    let limit = |bytes: libc::rlim_t| unsafe {
        let mut current = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        assert_eq!(libc::getrlimit(libc::RLIMIT_FSIZE, &mut current), 0);
        current.rlim_cur = bytes.min(current.rlim_max);
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &current), 0);
    };
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    let store = store();
    let config = json!({"type": "file", "dir": dir, "initial_backoff_ms": 5, "max_backoff_ms": 20});
    let id = add_builtin_exporter(&store, &config.to_string()).unwrap();
    limit(200);
    let events: Vec<String> = (0..40).map(event).collect();
    add(&store, &events);
    let error = store.flush(Duration::from_millis(300)).unwrap_err();
    assert!(matches!(error, Error::Export(_)), "{error:?}");
    let stats = store.stats().exporters.into_iter().find(|e| e.id == id).unwrap();
    assert!(stats.failed_attempts >= 2, "{stats:?}");
    assert_eq!((stats.exported, stats.pending), (0, 40));
    assert!(
        stats.last_error.as_deref().unwrap().contains("File too large"),
        "{stats:?}"
    );
    assert!(files(Path::new(&dir)).is_empty(), "no partial file is visible");
    limit(libc::RLIM_INFINITY);
    store.flush(LONG).unwrap();
    assert_eq!(json_lines(Path::new(&dir)), events);
    assert_eq!(hidden_files(Path::new(&dir)), 0);
    store.close(LONG).unwrap();
    println!("disk full child: ok");
}

#[test]
fn a_full_disk_fails_exports_which_are_retried_and_then_written_once() {
    let dir = scratch("disk-full");
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "disk_full_child", "--nocapture", "--test-threads=1"])
        .env("SLUICE_DISK_FULL_DIR", &dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("disk full child: ok"), "{stdout}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_configs_are_refused_with_a_message_naming_the_key() {
    let store = store();
    let dir = scratch("never-created");
    let refused = |config: Value| match add_builtin_exporter(&store, &config.to_string()) {
        Err(Error::InvalidArgument(message)) => message,
        other => panic!("{config}: expected InvalidArgument, got {other:?}"),
    };
    let cases = [
        (json!({}), "exporter config: `type` is required (\"file\", \"log\" or \"webhook\")"),
        (json!({"type": "s3"}), "exporter config: unknown `type` \"s3\" (expected \"file\", \"log\" or \"webhook\")"),
        (json!({"type": 1}), "exporter config: `type` must be a string, not 1"),
        (json!({"type": "file", "dir": dir, "colour": "red"}), "file exporter: unknown key `colour`"),
        (json!({"type": "file"}), "file exporter: `dir` is required"),
        (json!({"type": "file", "dir": dir, "format": "jsonl"}), "file exporter: `format` must be \"json\", \"csv\" or \"parquet\", not \"jsonl\""),
        (json!({"type": "file", "dir": dir, "format": "parquet", "parquet_compression": "lz4"}), "file exporter: `parquet_compression` must be \"snappy\", \"gzip\", \"zstd\" or \"uncompressed\", not \"lz4\""),
        (json!({"type": "file", "dir": dir, "csv_template": "{{ .Key }}"}), "file exporter: `csv_template` applies only to `format` \"csv\""),
        (json!({"type": "file", "dir": dir, "flush_threshold": 0}), "file exporter: `flush_threshold` must be an integer from 1 to 4294967296, not 0"),
        (json!({"type": "file", "dir": dir, "format": "csv", "csv_template": "{{ .Key };{{ .Value }}\n"}), "file exporter: `csv_template` is refused: unexpected ` };{{ .Value` after `.Key`: only fields such as `{{ .Key }}` are supported at line 1, column 8"),
        (json!({"type": "file", "dir": dir, "format": "csv", "csv_template": "{{ .Key }};\n{{ .Usr }}"}), "file exporter: `csv_template` is refused: unknown field `.Usr` (known: .Kind, .ContextKind, .UserKey, .CreationDate, .Key, .Variation, .Value, .Default, .Version, .Source, .Metadata, .EvaluationContext, .TrackingEventDetails, .FormattedDate) at line 2, column 4"),
        (json!({"type": "file", "dir": dir, "filename": "{{ .Key }}.json"}), "file exporter: `filename` is refused: unknown field `.Key` (known: .Hostname, .Timestamp, .Format) at line 1, column 4"),
        (json!({"type": "file", "dir": dir, "filename": "events-{{ .Timestamp"}), "file exporter: `filename` is refused: unclosed action: `{{` without `}}` at line 1, column 8"),
        (json!({"type": "log", "format": "json"}), "log exporter: unknown key `format` (each line comes from `template`)"),
        (json!({"type": "log", "target": "syslog"}), "log exporter: `target` must be \"log\" or \"stderr\", not \"syslog\""),
        (json!({"type": "log", "template": "{{ .Value }} {{"}), "log exporter: `template` is refused: unclosed action: `{{` without `}}` at line 1, column 14"),
    ];
    for (config, message) in cases {
        assert_eq!(refused(config), message);
    }
    assert!(!dir.exists(), "a refused config creates no directory");
    assert!(store.stats().exporters.is_empty());
}

#[test]
fn log_lines_reach_the_log_callback_at_info_one_per_event() {
    use sluice::log::{set_sink, Level};
    use std::sync::{Arc, Mutex};
    let lines = Arc::new(Mutex::new(Vec::new()));
    let captured = lines.clone();
    set_sink(
        Some(Arc::new(move |level: Level, line: &str| {
            if level == Level::Info && line.starts_with("log-test ") {
                captured.lock().unwrap().push(line.to_string());
            }
        })),
        Level::Info,
    );
    let store = store();
    let config = json!({"type": "log", "template": "log-test [{{ .FormattedDate}}] user=\"{{ .UserKey}}\", flag=\"{{ .Key}}\", value=\"{{ .Value}}\""});
    let id = add_builtin_exporter(&store, &config.to_string()).unwrap();
    add(&store, &[event(0), event(3), event(4)]);
    store.close(LONG).unwrap();
    set_sink(None, Level::Error);
    assert_eq!(
        *lines.lock().unwrap(),
        [
            "log-test [2023-11-14T22:13:20Z] user=\"user-0\", flag=\"flag-0\", value=\"a;b \"quoted\"\\nnext line, été 🚀 0\"",
            "log-test [2023-11-14T22:13:23Z] user=\"user-3\", flag=\"flag-3\", value=\"{\"a\":[1,\"two;\\\"2\\\"\"],\"z\":3}\"",
            "log-test [2023-11-14T22:13:24Z] user=\"user-4\", flag=\"checkout\", value=\"\"",
        ]
    );
    let stats = store.stats().exporters.into_iter().find(|e| e.id == id).unwrap();
    assert_eq!(
        (stats.name.as_str(), stats.exported, stats.batches),
        ("log", 3, 3),
        "not bulk: one event per export"
    );
}
