//! Throughput of the file exporter: 1,000,000 events (100,000 with `SLUICE_BENCH_QUICK=1`) added
//! to a store and written to JSON lines, CSV and Parquet files, end to end (add, batch, encode,
//! write, sync, link). Prints events/s and MB/s of file bytes written; never asserts a speed.
//!
//! `cargo bench --bench files`

use sluice::exporter::builtin::add_builtin_exporter;
use sluice::{Overflow, Store, StoreConfig};
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

fn event(i: usize) -> String {
    format!(
        r#"{{"kind":"feature","contextKind":"user","userKey":"user-{i:08}","creationDate":{},"key":"flag-{}","variation":"variation-{}","value":{},"default":false,"version":"1.4.2","source":"SERVER","metadata":{{"env":"production","region":"eu-west-1"}}}}"#,
        1_700_000_000 + i / 1000,
        i % 50,
        i % 3,
        if i.is_multiple_of(2) {
            "true".to_string()
        } else {
            format!(r#"{{"limit":{i},"tier":"gold"}}"#)
        }
    )
}

fn bytes_in(dir: &Path) -> (u64, usize) {
    let mut total = 0;
    let mut files = 0;
    for entry in fs::read_dir(dir).unwrap() {
        total += entry.unwrap().metadata().unwrap().len();
        files += 1;
    }
    (total, files)
}

fn main() {
    let quick = std::env::var("SLUICE_BENCH_QUICK").is_ok_and(|v| v == "1");
    let count = if quick { 100_000 } else { 1_000_000 };
    let events: Vec<String> = (0..count).map(event).collect();
    let input: usize = events.iter().map(String::len).sum();
    let root = std::env::temp_dir().join(format!("sluice-bench-files-{}", std::process::id()));
    println!(
        "file exporter: {count} events ({:.1} MB of JSON), default batches of 1000, into {}",
        input as f64 / 1e6,
        root.display()
    );
    for (label, format) in [
        ("JSON lines", "json"),
        ("CSV", "csv"),
        ("Parquet (snappy)", "parquet"),
        ("Parquet (zstd)", "parquet-zstd"),
    ] {
        let dir = root.join(format);
        let config = StoreConfig {
            overflow: Overflow::Block,
            block_timeout: Duration::from_secs(600),
            ..StoreConfig::default()
        };
        let store = Store::new(config).unwrap();
        let exporter = match format {
            "parquet-zstd" => {
                serde_json::json!({"type": "file", "dir": dir, "format": "parquet", "parquet_compression": "zstd"})
            }
            _ => serde_json::json!({"type": "file", "dir": dir, "format": format}),
        };
        add_builtin_exporter(&store, &exporter.to_string()).unwrap();
        let start = Instant::now();
        for e in &events {
            store.add(e.as_bytes()).unwrap();
        }
        store.close(Duration::from_secs(600)).unwrap();
        let seconds = start.elapsed().as_secs_f64();
        let stats = store.stats();
        assert_eq!(stats.exporters[0].exported, count as u64, "every event is written");
        let (bytes, files) = bytes_in(&dir);
        println!(
            "  {label:<17} {:>10.0} events/s {:>8.1} MB/s written  ({files} files, {:.1} MB, {seconds:.2} s)",
            count as f64 / seconds,
            bytes as f64 / 1e6 / seconds,
            bytes as f64 / 1e6
        );
        fs::remove_dir_all(&dir).unwrap();
    }
    let _ = fs::remove_dir(&root);
}
