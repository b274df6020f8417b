//! The Rust/C rows of `benches/run.sh`: the floor (an append to a locked `Vec<u8>`), sluice through
//! its C ABI and its Rust API, OpenTelemetry's `BatchLogProcessor`, sluice end to end, and sluice
//! under pressure. Prints one JSON object per row and run on standard output, which
//! `benches/report.py` turns into the table; never asserts a speed.
//!
//!     cargo run --release -- table [--quick]      the Rust/C table
//!     cargo run --release -- pressure [--quick]   sluice under pressure (a process of its own,
//!                                                 so that its peak RSS is its own)
//!     cargo run --release -- row ID [--quick]     one run of one row, e.g. under valgrind
//!
//! Each row counts what its consumer received (`exported`) beside what the library reports
//! (`accepted`, `refused`, `dropped`), so that loss nobody counted shows.

use sluice::ffi::builtin::sluice_store_add_exporter;
use sluice::ffi::exporter::{sluice_export_fn, sluice_release_fn, sluice_store_add_callback_exporter};
use sluice::ffi::sluice_status;
use sluice::ffi::sluice_string_free;
use sluice::ffi::store::{
    sluice_store, sluice_store_add, sluice_store_close, sluice_store_flush, sluice_store_free, sluice_store_new,
    sluice_store_stats,
};
use std::ffi::{c_char, c_void, CStr, CString};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The event of every row and language: a flag evaluation as an SDK records it.
const EVENT: &[u8] = br#"{"kind":"feature","contextKind":"user","creationDate":1700000000,"key":"new-checkout-flow","userKey":"user-00042","variation":"enabled","value":true,"default":false}"#;
const RUNS: usize = 5;
const FLUSH_MS: u32 = 120_000;

/// What one run of one row measured. `seconds` is the time of the adds alone, or of adds and
/// flush for the end-to-end rows.
#[derive(Default)]
struct Outcome {
    seconds: f64,
    refused: u64,
    accepted: u64,
    exported: u64,
    dropped: u64,
}

struct Row {
    id: &'static str,
    label: &'static str,
    run: Box<dyn Fn(usize) -> Outcome>,
}

fn row(id: &'static str, label: &'static str, run: impl Fn(usize) -> Outcome + 'static) -> Row {
    Row { id, label, run: Box::new(run) }
}

// --- the floor ------------------------------------------------------------------------------

/// Appends to a `parking_lot::Mutex<Vec<u8>>`, handing the buffer to a consumer thread every
/// 512 records: the least any in-memory pipeline can cost.
fn floor(n: usize) -> Outcome {
    const SWAP_EVERY: usize = 512;
    let fresh = || Vec::with_capacity(SWAP_EVERY * EVENT.len());
    let (sender, receiver) = std::sync::mpsc::channel::<(Vec<u8>, u64)>();
    let consumer = std::thread::spawn(move || receiver.iter().map(|(_, records)| records).sum::<u64>());
    let buffer = parking_lot::Mutex::new((fresh(), 0u64));
    let start = Instant::now();
    for _ in 0..n {
        let mut guard = buffer.lock();
        guard.0.extend_from_slice(EVENT);
        guard.1 += 1;
        if guard.1 == SWAP_EVERY as u64 {
            let full = std::mem::replace(&mut *guard, (fresh(), 0));
            drop(guard);
            sender.send(full).expect("the consumer runs until the sender is dropped");
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    sender.send(std::mem::take(&mut *buffer.lock())).expect("the consumer runs");
    drop(sender);
    let exported = consumer.join().expect("the consumer does not panic");
    Outcome { seconds, accepted: n as u64, exported, ..Default::default() }
}

// --- sluice through the C ABI ---------------------------------------------------------------

struct Handle(*mut sluice_store);
// The C ABI says every call but free is thread-safe.
unsafe impl Send for Handle {}
unsafe impl Sync for Handle {}

unsafe extern "C" fn count_batch(counter: *mut c_void, _: *const u8, _: usize, events: usize) -> i32 {
    (*(counter as *const AtomicU64)).fetch_add(events as u64, Ordering::Relaxed);
    0
}

unsafe extern "C" fn release_counter(counter: *mut c_void) {
    drop(Arc::from_raw(counter as *const AtomicU64));
}

unsafe extern "C" fn always_fail(_: *mut c_void, _: *const u8, _: usize, _: usize) -> i32 {
    1
}

fn check(status: sluice_status, what: &str) {
    assert_eq!(status, sluice_status::SLUICE_OK, "{what}");
}

fn new_store(config: &str) -> Handle {
    let config = CString::new(config).expect("no NUL");
    let mut store = std::ptr::null_mut();
    check(unsafe { sluice_store_new(config.as_ptr(), &mut store) }, "sluice_store_new");
    Handle(store)
}

/// Adds a callback exporter of batches of up to 1,000 events.
fn add_callback_exporter(store: &Handle, export: sluice_export_fn, userdata: *mut c_void, release: sluice_release_fn) {
    let options = CString::new(r#"{"max_batch_size":1000}"#).expect("no NUL");
    let mut id = 0;
    let status =
        unsafe { sluice_store_add_callback_exporter(store.0, options.as_ptr(), export, userdata, release, &mut id) };
    check(status, "sluice_store_add_callback_exporter");
}

/// Adds a callback exporter that counts the events it receives.
fn add_counting_exporter(store: &Handle) -> Arc<AtomicU64> {
    let counter = Arc::new(AtomicU64::new(0));
    add_callback_exporter(
        store,
        Some(count_batch),
        Arc::into_raw(counter.clone()) as *mut c_void,
        Some(release_counter),
    );
    counter
}

fn add(store: &Handle) -> sluice_status {
    unsafe { sluice_store_add(store.0, EVENT.as_ptr() as *const c_char, EVENT.len()) }
}

fn stats(store: &Handle) -> serde_json::Value {
    let mut json = std::ptr::null_mut();
    check(unsafe { sluice_store_stats(store.0, &mut json) }, "sluice_store_stats");
    let value = serde_json::from_slice(unsafe { CStr::from_ptr(json) }.to_bytes()).expect("stats are JSON");
    unsafe { sluice_string_free(json) };
    value
}

/// Closes the store (flushing what is left within `timeout_ms`) and reads its counters; the
/// exporter's counters are those of its only exporter.
fn close_and_count(store: Handle, timeout_ms: u32, seconds: f64, exported: impl FnOnce() -> u64) -> Outcome {
    unsafe { sluice_store_close(store.0, timeout_ms) };
    let stats = stats(&store);
    unsafe { sluice_store_free(store.0) };
    let count = |value: &serde_json::Value| value.as_u64().expect("a counter");
    Outcome {
        seconds,
        refused: count(&stats["rejected"]),
        accepted: count(&stats["accepted"]),
        exported: exported(),
        dropped: count(&stats["exporters"][0]["dropped"]),
    }
}

fn big_store(n: usize) -> Handle {
    new_store(&format!(r#"{{"capacity":{n},"max_bytes":1073741824}}"#))
}

/// `sluice_store_add` on `threads` threads, `n` events in all, with one counting exporter.
fn c_add(threads: usize, n: usize) -> Outcome {
    let store = big_store(n);
    let exported = add_counting_exporter(&store);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            let store = &store;
            s.spawn(move || {
                for _ in 0..n / threads {
                    add(store);
                }
            });
        }
    });
    let seconds = start.elapsed().as_secs_f64();
    close_and_count(store, FLUSH_MS, seconds, || exported.load(Ordering::Relaxed))
}

/// Events/s from the first add until `sluice_store_flush` returns.
fn end_to_end(store: Handle, n: usize, exported: impl FnOnce() -> u64) -> Outcome {
    let start = Instant::now();
    for _ in 0..n {
        add(&store);
    }
    check(unsafe { sluice_store_flush(store.0, FLUSH_MS) }, "sluice_store_flush");
    let seconds = start.elapsed().as_secs_f64();
    close_and_count(store, FLUSH_MS, seconds, exported)
}

fn end_to_end_callback(n: usize) -> Outcome {
    let store = big_store(n);
    let exported = add_counting_exporter(&store);
    end_to_end(store, n, || exported.load(Ordering::Relaxed))
}

fn end_to_end_file(n: usize) -> Outcome {
    let dir = std::env::temp_dir().join(format!("sluice-bench-jsonl-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = big_store(n);
    let config = serde_json::json!({"type": "file", "dir": dir, "format": "json", "max_batch_size": 1000}).to_string();
    let config = CString::new(config).expect("no NUL");
    let mut id = 0;
    check(unsafe { sluice_store_add_exporter(store.0, config.as_ptr(), &mut id) }, "sluice_store_add_exporter");
    let outcome = end_to_end(store, n, || lines_in(&dir));
    std::fs::remove_dir_all(&dir).expect("the temporary directory can be removed");
    outcome
}

/// The events written to the files of `dir`: one JSON object per line.
fn lines_in(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("the exporter created its directory")
        .map(|entry| {
            let bytes = std::fs::read(entry.expect("a readable entry").path()).expect("a readable file");
            bytes.iter().filter(|&&b| b == b'\n').count() as u64
        })
        .sum()
}

// --- sluice through the Rust API ------------------------------------------------------------

fn rust_add(n: usize) -> Outcome {
    let store =
        sluice::Store::from_json(&format!(r#"{{"capacity":{n},"max_bytes":1073741824}}"#)).expect("a valid config");
    let exported = Arc::new(AtomicU64::new(0));
    let counter = exported.clone();
    let sink = move |_: &[u8], events: usize| -> Result<(), String> {
        counter.fetch_add(events as u64, Ordering::Relaxed);
        Ok(())
    };
    let options = sluice::ExporterOptions { max_batch_size: 1000, flush_threshold: 1000, ..Default::default() };
    store.add_exporter(options, Box::new(sink)).expect("the store is open");
    let start = Instant::now();
    for _ in 0..n {
        let _ = store.add(EVENT);
    }
    let seconds = start.elapsed().as_secs_f64();
    store.close(Duration::from_millis(FLUSH_MS.into())).expect("the flush completes");
    let stats = store.stats();
    Outcome {
        seconds,
        refused: stats.rejected,
        accepted: stats.accepted,
        exported: exported.load(Ordering::Relaxed),
        dropped: stats.exporters[0].dropped,
    }
}

// --- OpenTelemetry --------------------------------------------------------------------------

#[cfg(feature = "otel")]
mod otel {
    use super::Outcome;
    use opentelemetry::logs::{AnyValue, LogRecord, Logger, LoggerProvider};
    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::logs::{BatchConfigBuilder, BatchLogProcessor, LogBatch, LogExporter, SdkLoggerProvider};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Once};
    use std::time::Instant;
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::subscriber::Interest;
    use tracing::{Event, Metadata, Subscriber};

    #[derive(Debug)]
    struct CountingExporter(Arc<AtomicU64>);

    impl LogExporter for CountingExporter {
        async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
            self.0.fetch_add(batch.iter().count() as u64, Ordering::Relaxed);
            Ok(())
        }
    }

    /// The processor's count of records it dropped, which it reports only in the warning
    /// `BatchLogProcessor.LogsDropped` at shutdown: a tracing subscriber that takes that one
    /// event and ignores every other.
    static DROPPED: AtomicU64 = AtomicU64::new(0);
    const DROPPED_EVENT: &str = "BatchLogProcessor.LogsDropped";

    struct DroppedCounter;

    impl Visit for DroppedCounter {
        fn record_u64(&mut self, field: &Field, value: u64) {
            if field.name() == "dropped_logs_count" {
                DROPPED.fetch_add(value, Ordering::Relaxed);
            }
        }
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            if let Ok(value) = format!("{value:?}").parse() {
                self.record_u64(field, value);
            }
        }
    }

    impl Subscriber for DroppedCounter {
        fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
            if self.enabled(metadata) {
                Interest::always()
            } else {
                Interest::never()
            }
        }
        fn enabled(&self, metadata: &Metadata<'_>) -> bool {
            metadata.is_event() && metadata.name() == DROPPED_EVENT
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            event.record(&mut DroppedCounter);
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    /// `Logger::emit` of the same event as attributes, through a `BatchLogProcessor` with a
    /// counting exporter; `queue` None keeps the default queue (2,048 records).
    pub fn emit(n: usize, queue: Option<usize>) -> Outcome {
        static SUBSCRIBER: Once = Once::new();
        SUBSCRIBER.call_once(|| tracing::subscriber::set_global_default(DroppedCounter).expect("the only subscriber"));
        let exported = Arc::new(AtomicU64::new(0));
        let mut processor = BatchLogProcessor::builder(CountingExporter(exported.clone()));
        if let Some(queue) = queue {
            processor = processor.with_batch_config(BatchConfigBuilder::default().with_max_queue_size(queue).build());
        }
        let provider = SdkLoggerProvider::builder().with_log_processor(processor.build()).build();
        let logger = provider.logger("sluice-bench");
        let start = Instant::now();
        for _ in 0..n {
            let mut record = logger.create_log_record();
            record.set_event_name("feature");
            record.add_attribute("kind", "feature");
            record.add_attribute("contextKind", "user");
            record.add_attribute("creationDate", AnyValue::Int(1_700_000_000));
            record.add_attribute("key", "new-checkout-flow");
            record.add_attribute("userKey", "user-00042");
            record.add_attribute("variation", "enabled");
            record.add_attribute("value", AnyValue::Boolean(true));
            record.add_attribute("default", AnyValue::Boolean(false));
            logger.emit(record);
        }
        let seconds = start.elapsed().as_secs_f64();
        DROPPED.store(0, Ordering::Relaxed);
        provider.shutdown().expect("the processor shuts down");
        Outcome {
            seconds,
            accepted: n as u64,
            exported: exported.load(Ordering::Relaxed),
            dropped: DROPPED.load(Ordering::Relaxed),
            ..Default::default()
        }
    }
}

// --- under pressure -------------------------------------------------------------------------

/// The most resident memory the process has had so far (VmHWM), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    let line = status.lines().find(|line| line.starts_with("VmHWM:")).expect("VmHWM in /proc/self/status");
    let kib: u64 = line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("VmHWM in kB");
    kib * 1024
}

/// `total` adds to a store of `capacity` events whose only exporter never succeeds: peak RSS
/// before and after, and the latency of each add once the buffer is full.
fn pressure(total: usize, capacity: usize) {
    let store = new_store(&format!(r#"{{"capacity":{capacity}}}"#));
    add_callback_exporter(&store, Some(always_fail), std::ptr::null_mut(), None);
    // Written through before the first reading, so that the latencies' own pages count in both.
    let mut latencies = vec![u32::MAX; total - capacity];
    let rss_before = peak_rss();
    let start = Instant::now();
    for i in 0..total {
        let before = Instant::now();
        add(&store);
        let nanos = before.elapsed().as_nanos();
        if i >= capacity {
            latencies[i - capacity] = nanos.min(u32::MAX as u128) as u32;
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let rss_after = peak_rss();
    let buffered = stats(&store)["buffered"].as_u64().expect("a counter");
    let outcome = close_and_count(store, 0, seconds, || 0);
    let over_1ms = latencies.iter().filter(|&&nanos| nanos > 1_000_000).count();
    latencies.sort_unstable();
    let percentile = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];
    println!(
        "{}",
        serde_json::json!({
            "table": "pressure", "n": total, "event_bytes": EVENT.len(), "capacity": capacity, "seconds": seconds,
            "rss_before": rss_before, "rss_after": rss_after, "buffered_at_end": buffered,
            "p50_ns": percentile(0.50), "p99_ns": percentile(0.99), "p999_ns": percentile(0.999),
            "max_ns": latencies[latencies.len() - 1], "timed_adds": latencies.len(),
            "over_1ms": over_1ms,
            "accepted": outcome.accepted, "refused": outcome.refused, "exported": outcome.exported,
            "dropped": outcome.dropped,
        })
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|arg| arg == "--quick");
    match args.first().map(String::as_str) {
        Some("table") => table(quick, None),
        Some("row") if args.len() > 1 => table(quick, Some(&args[1])),
        Some("pressure") if quick => pressure(500_000, 100_000),
        Some("pressure") => pressure(5_000_000, 100_000),
        _ => {
            eprintln!("usage: sluice-rust-peers table|pressure|row ID [--quick]");
            std::process::exit(2);
        }
    }
}

/// Every row, `RUNS` times in alternating order; or one run of the row `only`.
fn table(quick: bool, only: Option<&str>) {
    let n = if quick { 100_000 } else { 1_000_000 };
    let runs = if quick { 3 } else { RUNS };
    let mut rows = vec![
        row("floor", "floor: append to a parking_lot::Mutex<Vec<u8>>, swapped every 512", floor),
        row("c_add_1", "sluice_store_add (C ABI), 1 thread", |n| c_add(1, n)),
        row("c_add_2", "sluice_store_add (C ABI), 2 threads", |n| c_add(2, n)),
        row("rust_add", "Store::add (Rust API), 1 thread", rust_add),
        row("e2e_callback", "end to end: add + flush, no-op callback exporter", end_to_end_callback),
        row("e2e_file", "end to end: add + flush, JSON-lines file exporter", end_to_end_file),
    ];
    #[cfg(feature = "otel")]
    if !quick {
        rows.insert(
            4,
            row("otel_default", "OpenTelemetry BatchLogProcessor, default queue (2,048)", |n| otel::emit(n, None)),
        );
        rows.insert(5, row("otel_large", "OpenTelemetry BatchLogProcessor, queue of N", |n| otel::emit(n, Some(n))));
    }
    if let Some(only) = only {
        rows.retain(|row| row.id == only);
        assert!(!rows.is_empty(), "no row {only}");
    }
    let runs = if only.is_some() { 1 } else { runs };
    for run in 0..runs {
        let order: Vec<&Row> = if run % 2 == 0 { rows.iter().collect() } else { rows.iter().rev().collect() };
        for row in order {
            let outcome = (row.run)(n);
            println!(
                "{}",
                serde_json::json!({
                    "table": "rust", "row": row.id, "label": row.label, "run": run, "n": n,
                    "event_bytes": EVENT.len(), "seconds": outcome.seconds, "refused": outcome.refused,
                    "accepted": outcome.accepted, "exported": outcome.exported, "dropped": outcome.dropped,
                })
            );
        }
    }
}
