//! Behaviour of the store and its exporters through the Rust API.

use parking_lot::{Condvar, Mutex};
use serde_json::Value;
use sluice::{Error, ExporterOptions, Format, Overflow, Sink, Store, StoreConfig};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(20);
const SHORT: Duration = Duration::from_millis(10);

fn store(capacity: usize, overflow: Overflow) -> Store {
    Store::new(StoreConfig { capacity, overflow, ..StoreConfig::default() }).unwrap()
}

fn options(batch: usize) -> ExporterOptions {
    ExporterOptions {
        max_batch_size: batch,
        flush_threshold: batch,
        flush_interval: Duration::from_secs(3600),
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(4),
        ..ExporterOptions::default()
    }
}

fn event(i: usize) -> Vec<u8> {
    format!(r#"{{"kind":"feature","creationDate":1700000000,"key":"flag","userKey":"u{i}","value":{i}}}"#).into_bytes()
}

type Batch = (Vec<u8>, usize);

/// Records every batch it is offered and answers from `verdicts` (then success).
#[derive(Clone, Default)]
struct Recorder {
    /// Every batch offered: its bytes and event count.
    batches: Arc<Mutex<Vec<Batch>>>,
    /// How many more attempts fail before the sink starts succeeding.
    failures_left: Arc<AtomicUsize>,
    released: Arc<AtomicUsize>,
}

struct RecorderSink(Recorder);

impl Sink for RecorderSink {
    fn export(&mut self, batch: &[u8], count: usize) -> Result<(), String> {
        self.0.batches.lock().push((batch.to_vec(), count));
        match self.0.failures_left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)) {
            Ok(_) => Err("refused by the test".into()),
            Err(_) => Ok(()),
        }
    }
}

impl Drop for RecorderSink {
    fn drop(&mut self) {
        self.0.released.fetch_add(1, Ordering::SeqCst);
    }
}

impl Recorder {
    fn failing(times: usize) -> Recorder {
        let r = Recorder::default();
        r.failures_left.store(times, Ordering::SeqCst);
        r
    }

    fn sink(&self) -> Box<dyn Sink> {
        Box::new(RecorderSink(self.clone()))
    }

    /// The `userKey` values of every event of every successful-or-not batch, in order.
    fn users(&self) -> Vec<Vec<String>> {
        self.batches
            .lock()
            .iter()
            .map(|(bytes, count)| {
                let v: Value = serde_json::from_slice(bytes).unwrap();
                let users: Vec<String> = v.as_array().unwrap().iter().map(|e| e["userKey"].as_str().unwrap().to_string()).collect();
                assert_eq!(users.len(), *count);
                users
            })
            .collect()
    }
}

fn users(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("u{i}")).collect()
}

fn assert_invariant(store: &Store) {
    for e in store.stats().exporters {
        assert_eq!(e.accepted, e.exported + e.dropped + e.pending, "{e:?}");
    }
}

#[test]
fn each_exporter_sees_only_events_accepted_after_it_was_added() {
    let store = store(1000, Overflow::DropOldest);
    let first = Recorder::default();
    store.add_exporter(options(100), first.sink()).unwrap();
    for i in 0..3 {
        store.add(&event(i)).unwrap();
    }
    let second = Recorder::default();
    store.add_exporter(options(100), second.sink()).unwrap();
    for i in 3..5 {
        store.add(&event(i)).unwrap();
    }
    store.flush(LONG).unwrap();
    assert_eq!(first.users().concat(), users(0..5));
    assert_eq!(second.users().concat(), users(3..5));
    let stats = store.stats();
    assert_eq!((stats.accepted, stats.exporters[0].accepted, stats.exporters[1].accepted), (5, 5, 2));
    assert_eq!((stats.exporters[0].exported, stats.exporters[1].exported), (5, 2));
    assert_eq!(stats.buffered, 0, "events every exporter exported are released");
}

#[test]
fn batches_respect_max_batch_size_and_threshold_triggers_without_flush() {
    let store = store(1000, Overflow::DropOldest);
    let r = Recorder::default();
    store.add_exporter(options(4), r.sink()).unwrap();
    for i in 0..8 {
        store.add(&event(i)).unwrap();
    }
    // Two full batches are due by threshold alone; wait for them without flushing.
    while store.stats().exporters[0].exported < 8 {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(r.users(), vec![users(0..4), users(4..8)]);
}

#[test]
fn interval_exports_a_partial_batch() {
    let store = store(1000, Overflow::DropOldest);
    let r = Recorder::default();
    let opts = ExporterOptions { flush_interval: Duration::from_millis(20), ..options(100) };
    store.add_exporter(opts, r.sink()).unwrap();
    store.add(&event(0)).unwrap();
    store.add(&event(1)).unwrap();
    while store.stats().exporters[0].exported < 2 {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(r.users(), vec![users(0..2)]);
}

#[test]
fn non_bulk_exporter_exports_events_one_by_one() {
    let store = store(1000, Overflow::DropOldest);
    let r = Recorder::default();
    store.add_exporter(ExporterOptions { bulk: false, ..options(100) }, r.sink()).unwrap();
    for i in 0..3 {
        store.add(&event(i)).unwrap();
    }
    store.flush(LONG).unwrap();
    assert_eq!(r.users(), vec![users(0..1), users(1..2), users(2..3)]);
}

#[test]
fn jsonl_batches_hold_one_event_per_line() {
    let store = store(1000, Overflow::DropOldest);
    let lines = Arc::new(Mutex::new(String::new()));
    let sink_lines = lines.clone();
    let sink = move |batch: &[u8], _count: usize| -> Result<(), String> {
        sink_lines.lock().push_str(std::str::from_utf8(batch).unwrap());
        Ok(())
    };
    store.add_exporter(ExporterOptions { format: Format::JsonLines, ..options(10) }, Box::new(sink)).unwrap();
    store.add(b"{\"key\":\"a\",\n\"creationDate\":1}").unwrap();
    store.add(br#"{"kind":"tracking","creationDate":2,"key":"b"}"#).unwrap();
    store.flush(LONG).unwrap();
    assert_eq!(
        *lines.lock(),
        "{\"kind\":\"feature\",\"key\":\"a\", \"creationDate\":1}\n{\"kind\":\"tracking\",\"creationDate\":2,\"key\":\"b\"}\n"
    );
}

#[test]
fn failed_batches_are_retried_with_the_same_events_in_order() {
    let store = store(1000, Overflow::DropOldest);
    let r = Recorder::failing(2);
    store.add_exporter(options(3), r.sink()).unwrap();
    for i in 0..5 {
        store.add(&event(i)).unwrap();
    }
    store.flush(LONG).unwrap();
    assert_eq!(r.users(), vec![users(0..3), users(0..3), users(0..3), users(3..5)]);
    let e = &store.stats().exporters[0];
    assert_eq!((e.exported, e.failed_attempts, e.batches, e.pending), (5, 2, 2, 0));
    assert_eq!(e.last_error.as_deref(), Some("refused by the test"));
}

#[test]
fn a_panicking_sink_counts_as_a_failure_and_is_retried() {
    let store = store(1000, Overflow::DropOldest);
    let calls = Arc::new(AtomicUsize::new(0));
    let sink_calls = calls.clone();
    let sink = move |_: &[u8], _: usize| -> Result<(), String> {
        if sink_calls.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("boom");
        }
        Ok(())
    };
    store.add_exporter(options(10), Box::new(sink)).unwrap();
    store.add(&event(0)).unwrap();
    store.flush(LONG).unwrap();
    let e = &store.stats().exporters[0];
    assert_eq!((e.exported, e.failed_attempts), (1, 1));
    assert_eq!(e.last_error.as_deref(), Some("the exporter panicked"));
}

#[test]
fn drop_oldest_charges_only_the_lagging_exporter() {
    let store = store(4, Overflow::DropOldest);
    let healthy = Recorder::default();
    store.add_exporter(ExporterOptions { bulk: false, ..options(1) }, healthy.sink()).unwrap();
    let stuck = store.add_pull_exporter(options(100)).unwrap();
    for i in 0..10 {
        store.add(&event(i)).unwrap();
        // Let the healthy exporter keep up; the pull exporter is never polled.
        while store.stats().exporters[0].exported < i as u64 + 1 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let stats = store.stats();
    assert_eq!(stats.buffered, 4);
    let (h, s) = (&stats.exporters[0], &stats.exporters[1]);
    assert_eq!((h.exported, h.dropped, h.pending), (10, 0, 0));
    assert_eq!((s.exported, s.dropped, s.pending, s.dropped_reasons.overflow), (0, 6, 4, 6));
    assert_eq!(healthy.users().concat(), users(0..10));
    let batch = store.poll(stuck, SHORT).unwrap_err();
    assert!(matches!(batch, Error::Timeout(_)), "below threshold and interval: nothing due");
    store.flush(Duration::from_millis(1)).unwrap_err();
    let batch = store.poll(stuck, LONG).unwrap();
    let v: Value = serde_json::from_slice(batch.data()).unwrap();
    let got: Vec<&str> = v.as_array().unwrap().iter().map(|e| e["userKey"].as_str().unwrap()).collect();
    assert_eq!(got, ["u6", "u7", "u8", "u9"], "the newest events survive");
    batch.complete(true).unwrap();
    assert_invariant(&store);
}

#[test]
fn events_dropped_while_in_flight_count_as_exported_when_the_batch_succeeds() {
    let store = store(2, Overflow::DropOldest);
    let pull = store.add_pull_exporter(options(2)).unwrap();
    store.add(&event(0)).unwrap();
    store.add(&event(1)).unwrap();
    let batch = store.poll(pull, LONG).unwrap();
    store.add(&event(2)).unwrap(); // drops u0, which is in flight
    let e = &store.stats().exporters[0];
    assert_eq!((e.dropped, e.pending, e.in_flight), (1, 2, 1));
    batch.complete(true).unwrap();
    let e = &store.stats().exporters[0];
    assert_eq!((e.exported, e.dropped, e.pending), (2, 0, 1));
    assert_invariant(&store);
    let _ = store.close(SHORT);
}

#[test]
fn drop_newest_rejects_and_counts() {
    let store = store(2, Overflow::DropNewest);
    store.add_pull_exporter(options(100)).unwrap();
    store.add(&event(0)).unwrap();
    store.add(&event(1)).unwrap();
    assert!(matches!(store.add(&event(2)), Err(Error::Full(_))));
    let stats = store.stats();
    assert_eq!((stats.accepted, stats.rejected, stats.buffered), (2, 1, 2));
    assert_eq!(stats.exporters[0].dropped, 0);
    let _ = store.close(SHORT);
}

#[test]
fn max_bytes_bounds_the_buffer() {
    let len = event(0).len();
    let store = Store::new(StoreConfig { max_bytes: len * 3, max_event_bytes: len, overflow: Overflow::DropNewest, ..StoreConfig::default() }).unwrap();
    store.add_pull_exporter(options(100)).unwrap();
    for i in 0..3 {
        store.add(&event(i)).unwrap();
    }
    assert!(matches!(store.add(&event(3)), Err(Error::Full(_))));
    assert_eq!(store.stats().buffered_bytes, (len * 3) as u64);
    let _ = store.close(SHORT);
}

fn blocking_store(block_timeout: Duration) -> (Store, u64) {
    let config = StoreConfig { capacity: 1, overflow: Overflow::Block, block_timeout, ..StoreConfig::default() };
    let store = Store::new(config).unwrap();
    let pull = store.add_pull_exporter(ExporterOptions { bulk: false, ..options(1) }).unwrap();
    store.add(&event(0)).unwrap();
    (store, pull)
}

#[test]
fn block_rejects_when_no_room_is_made_in_time() {
    let (store, _pull) = blocking_store(Duration::from_millis(20));
    assert!(matches!(store.add(&event(1)), Err(Error::Full(_))));
    let stats = store.stats();
    assert_eq!((stats.accepted, stats.rejected), (1, 1));
    let _ = store.close(SHORT);
}

#[test]
fn block_waits_until_an_exporter_makes_room() {
    let (store, pull) = blocking_store(LONG);
    std::thread::scope(|scope| {
        let adder = scope.spawn(|| store.add(&event(1)));
        let batch = store.poll(pull, LONG).unwrap();
        batch.complete(true).unwrap();
        adder.join().unwrap().unwrap();
    });
    let stats = store.stats();
    assert_eq!((stats.accepted, stats.rejected), (2, 0));
    let _ = store.close(SHORT);
}

#[test]
fn close_wakes_a_blocked_add() {
    let (store, _pull) = blocking_store(LONG);
    std::thread::scope(|scope| {
        let adder = scope.spawn(|| store.add(&event(1)));
        // Give the adder time to start waiting (if it has not, it sees the store closed).
        std::thread::sleep(Duration::from_millis(20));
        let _ = store.close(Duration::from_millis(10));
        assert_eq!(adder.join().unwrap(), Err(Error::Closed));
    });
}

#[test]
fn pull_exporter_retries_after_a_failed_completion() {
    let store = store(100, Overflow::DropOldest);
    let pull = store.add_pull_exporter(options(2)).unwrap();
    for i in 0..3 {
        store.add(&event(i)).unwrap();
    }
    let batch = store.poll(pull, LONG).unwrap();
    assert_eq!(batch.event_count(), 2);
    assert!(matches!(store.poll(pull, LONG), Err(Error::InvalidArgument(_))), "one batch outstanding");
    let first = batch.data().to_vec();
    batch.complete(false).unwrap();
    let again = store.poll(pull, LONG).unwrap();
    assert_eq!(again.data(), &first[..]);
    again.complete(true).unwrap();
    std::thread::scope(|s| {
        s.spawn(|| store.flush(LONG).unwrap());
        let last = store.poll(pull, LONG).unwrap();
        assert_eq!(last.event_count(), 1);
        last.complete(true).unwrap();
    });
    let e = &store.stats().exporters[0];
    assert_eq!((e.exported, e.failed_attempts, e.batches), (3, 1, 2));
    assert!(matches!(store.poll(99, LONG), Err(Error::NotFound(_))));
}

#[test]
fn a_dropped_batch_counts_as_failed() {
    let store = store(100, Overflow::DropOldest);
    let pull = store.add_pull_exporter(options(1)).unwrap();
    store.add(&event(0)).unwrap();
    drop(store.poll(pull, LONG).unwrap());
    let e = &store.stats().exporters[0];
    assert_eq!((e.failed_attempts, e.pending), (1, 1));
    let _ = store.close(SHORT);
}

/// A sink that blocks inside `export` until released by the test.
#[derive(Clone, Default)]
struct Gate {
    open: Arc<(Mutex<bool>, Condvar)>,
    entered: Arc<AtomicUsize>,
    released: Arc<AtomicUsize>,
    called_after_close: Arc<AtomicBool>,
    closed: Arc<AtomicBool>,
}

struct GateSink(Gate);

impl Sink for GateSink {
    fn export(&mut self, _: &[u8], _: usize) -> Result<(), String> {
        if self.0.closed.load(Ordering::SeqCst) {
            self.0.called_after_close.store(true, Ordering::SeqCst);
        }
        self.0.entered.fetch_add(1, Ordering::SeqCst);
        let (lock, cv) = &*self.0.open;
        let mut open = lock.lock();
        while !*open {
            cv.wait(&mut open);
        }
        Ok(())
    }
}

impl Drop for GateSink {
    fn drop(&mut self) {
        self.0.released.fetch_add(1, Ordering::SeqCst);
    }
}

impl Gate {
    fn open(&self) {
        *self.open.0.lock() = true;
        self.open.1.notify_all();
    }
}

#[test]
fn a_hung_exporter_delays_neither_add_nor_other_exporters_and_flush_honours_its_deadline() {
    let store = store(100_000, Overflow::DropOldest);
    let gate = Gate::default();
    store.add_exporter(ExporterOptions { bulk: false, ..options(1) }, Box::new(GateSink(gate.clone()))).unwrap();
    let healthy = Recorder::default();
    store.add_exporter(options(1000), healthy.sink()).unwrap();
    for i in 0..5000 {
        store.add(&event(i)).unwrap();
    }
    let result = store.flush(Duration::from_millis(100));
    match result {
        Err(Error::Timeout(m)) => assert!(m.contains("exporter(s) 1 ()"), "{m}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_eq!(healthy.users().concat().len(), 5000, "the healthy exporter finished");
    assert_eq!(gate.entered.load(Ordering::SeqCst), 1);
    gate.open();
    store.close(LONG).unwrap();
    assert_eq!(gate.released.load(Ordering::SeqCst), 1);
    assert_eq!(store.stats().exporters[0].exported, 5000);
}

#[test]
fn close_honours_its_deadline_with_a_hung_callback_and_releases_once_when_it_returns() {
    let store = store(1000, Overflow::DropOldest);
    let gate = Gate::default();
    store.add_exporter(options(10), Box::new(GateSink(gate.clone()))).unwrap();
    for i in 0..25 {
        store.add(&event(i)).unwrap();
    }
    while gate.entered.load(Ordering::SeqCst) == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let result = store.close(Duration::from_millis(50));
    gate.closed.store(true, Ordering::SeqCst);
    match result {
        Err(Error::Timeout(m)) => assert!(m.contains("25 events were not exported"), "{m}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(matches!(store.add(&event(0)), Err(Error::Closed)));
    assert_eq!(store.close(LONG), Ok(()), "close is idempotent");
    let e = &store.stats().exporters[0];
    assert_eq!((e.exported, e.dropped, e.dropped_reasons.shutdown, e.pending), (0, 25, 25, 0));
    assert_eq!(gate.released.load(Ordering::SeqCst), 0, "still inside its callback");
    gate.open();
    while gate.released.load(Ordering::SeqCst) == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(gate.released.load(Ordering::SeqCst), 1);
    assert!(!gate.called_after_close.load(Ordering::SeqCst), "no callback started after close");
    assert_eq!(store.stats().exporters[0].exported, 0, "counters are final after close");
}

#[test]
fn close_drains_exports_and_releases_every_exporter_exactly_once() {
    let store = store(1000, Overflow::DropOldest);
    let recorders: Vec<Recorder> = (0..3).map(|_| Recorder::default()).collect();
    for r in &recorders {
        store.add_exporter(options(1000), r.sink()).unwrap();
    }
    for i in 0..10 {
        store.add(&event(i)).unwrap();
    }
    store.close(LONG).unwrap();
    for r in &recorders {
        assert_eq!(r.users().concat(), users(0..10));
        assert_eq!(r.released.load(Ordering::SeqCst), 1);
    }
    assert!(matches!(store.flush(LONG), Err(Error::Closed)));
    assert!(matches!(store.add_pull_exporter(options(1)), Err(Error::Closed)));
    assert!(matches!(store.remove_exporter(1, LONG), Err(Error::Closed)));
    drop(store);
    for r in &recorders {
        assert_eq!(r.released.load(Ordering::SeqCst), 1);
    }
}

#[test]
fn dropping_an_open_store_closes_it() {
    let r = Recorder::default();
    {
        let store = store(1000, Overflow::DropOldest);
        store.add_exporter(options(1000), r.sink()).unwrap();
        store.add(&event(0)).unwrap();
    }
    assert_eq!(r.users().concat(), users(0..1));
    assert_eq!(r.released.load(Ordering::SeqCst), 1);
}

#[test]
fn flush_reports_an_export_failure_when_no_retry_fits_before_the_deadline() {
    let store = store(1000, Overflow::DropOldest);
    let r = Recorder::failing(usize::MAX);
    let opts = ExporterOptions {
        initial_backoff: Duration::from_secs(60),
        max_backoff: Duration::from_secs(60),
        ..options(10)
    };
    store.add_exporter(opts, r.sink()).unwrap();
    store.add(&event(0)).unwrap();
    match store.flush(LONG) {
        Err(Error::Export(m)) => assert!(m.contains("refused by the test"), "{m}"),
        other => panic!("expected an export failure, got {other:?}"),
    }
    let e = &store.stats().exporters[0];
    assert_eq!((e.pending, e.failed_attempts), (1, 1));
    let _ = store.close(SHORT);
}

#[test]
fn flush_reports_an_export_failure_at_once_for_an_exporter_already_backing_off_past_the_deadline() {
    let store = store(1000, Overflow::DropOldest);
    let r = Recorder::failing(usize::MAX);
    let opts = ExporterOptions {
        bulk: false,
        initial_backoff: Duration::from_secs(60),
        max_backoff: Duration::from_secs(60),
        ..options(10)
    };
    store.add_exporter(opts, r.sink()).unwrap();
    store.add(&event(0)).unwrap();
    while store.stats().exporters[0].failed_attempts == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    // The failure came before the flush; waiting 20 s could not help.
    match store.flush(LONG) {
        Err(Error::Export(m)) => assert!(m.contains("refused by the test"), "{m}"),
        other => panic!("expected an export failure, got {other:?}"),
    }
    let _ = store.close(SHORT);
}

#[test]
fn remove_exporter_flushes_releases_and_forgets_it() {
    let store = store(1000, Overflow::DropOldest);
    let r = Recorder::default();
    let id = store.add_exporter(options(1000), r.sink()).unwrap();
    let other = Recorder::default();
    store.add_exporter(options(1000), other.sink()).unwrap();
    store.add(&event(0)).unwrap();
    store.remove_exporter(id, LONG).unwrap();
    assert_eq!(r.users().concat(), users(0..1));
    assert_eq!(r.released.load(Ordering::SeqCst), 1);
    assert_eq!(store.stats().exporters.len(), 1);
    assert!(matches!(store.remove_exporter(id, LONG), Err(Error::NotFound(_))));
    assert_eq!(other.released.load(Ordering::SeqCst), 0);
}

#[test]
fn calls_from_inside_a_callback_that_would_wait_for_themselves_are_refused() {
    let store = Arc::new(store(1000, Overflow::DropOldest));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (sink_store, sink_seen) = (Arc::downgrade(&store), seen.clone());
    let sink = move |_: &[u8], _: usize| -> Result<(), String> {
        let mut seen = sink_seen.lock();
        if seen.is_empty() {
            let store = sink_store.upgrade().unwrap();
            seen.push(format!("{:?}", store.flush(LONG)));
            seen.push(format!("{:?}", store.close(LONG)));
            seen.push(format!("{:?}", store.remove_exporter(1, LONG)));
            seen.push(format!("{:?}", store.add(&event(1))));
        }
        Ok(())
    };
    store.add_exporter(options(1), Box::new(sink)).unwrap();
    store.add(&event(0)).unwrap();
    store.flush(LONG).unwrap();
    store.flush(LONG).unwrap(); // the event the callback added
    assert_eq!(store.stats().exporters[0].exported, 2);
    let seen = seen.lock().clone();
    assert_eq!(seen.len(), 4, "{seen:?}");
    for line in &seen[..3] {
        assert!(line.starts_with("Err(InvalidArgument(") && line.contains("inside an exporter callback"), "{line}");
    }
    assert_eq!(seen[3], "Ok(())", "add from a callback is allowed");
    store.close(LONG).unwrap();
}

#[test]
fn invalid_events_are_counted_and_refused_with_a_message() {
    let store = store(10, Overflow::DropOldest);
    assert!(matches!(store.add(b"not json"), Err(Error::InvalidEvent(_))));
    assert!(matches!(store.add(&[0xff, 0xfe]), Err(Error::InvalidEvent(_))));
    let huge = format!(r#"{{"value":"{}"}}"#, "x".repeat(2 << 20));
    match store.add(huge.as_bytes()) {
        Err(Error::InvalidEvent(m)) => assert!(m.contains("larger than max_event_bytes"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(store.stats().invalid, 3);
    assert_eq!(store.stats().accepted, 0);
}

#[test]
fn counters_add_up_at_every_snapshot_under_four_producers_with_a_failing_and_a_slow_exporter() {
    let store = Store::new(StoreConfig { capacity: 2000, ..StoreConfig::default() }).unwrap();
    let failing = Recorder::failing(usize::MAX);
    store.add_exporter(options(100), failing.sink()).unwrap();
    let slow_sink = |_: &[u8], _: usize| -> Result<(), String> {
        std::thread::sleep(Duration::from_micros(200));
        Ok(())
    };
    store.add_exporter(options(50), Box::new(slow_sink)).unwrap();
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen_sink = seen.clone();
    let collector = move |batch: &[u8], _: usize| -> Result<(), String> {
        let v: Value = serde_json::from_slice(batch).unwrap();
        let mut seen = seen_sink.lock();
        for e in v.as_array().unwrap() {
            seen.push(e["userKey"].as_str().unwrap().to_string());
        }
        Ok(())
    };
    store.add_exporter(options(500), Box::new(collector)).unwrap();
    let done = AtomicBool::new(false);
    const PER_THREAD: usize = 20_000;
    std::thread::scope(|s| {
        let store = &store;
        let done = &done;
        s.spawn(move || {
            let mut snapshots = 0;
            while !done.load(Ordering::SeqCst) || snapshots == 0 {
                assert_invariant(store);
                snapshots += 1;
            }
        });
        let producers: Vec<_> = (0..4)
            .map(|t| {
                s.spawn(move || {
                    for i in 0..PER_THREAD {
                        let e = format!(r#"{{"key":"k","userKey":"{t}-{i}"}}"#);
                        store.add(e.as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for p in producers {
            p.join().unwrap();
        }
        done.store(true, Ordering::SeqCst);
    });
    let _ = store.close(Duration::from_millis(500));
    let stats = store.stats();
    assert_eq!(stats.accepted, 4 * PER_THREAD as u64);
    for e in &stats.exporters {
        assert_eq!(e.accepted, 4 * PER_THREAD as u64);
        assert_eq!(e.accepted, e.exported + e.dropped + e.pending, "{e:?}");
        assert_eq!(e.pending, 0, "after close nothing is pending");
    }
    assert_eq!(stats.exporters[0].exported, 0, "the failing exporter never succeeds");
    assert!(stats.exporters[0].dropped_reasons.overflow > 0);
    // What each exporter received, it received in per-producer order.
    let collected = seen.lock();
    assert_eq!(collected.len() as u64, stats.exporters[2].exported);
    let mut next = [0usize; 4];
    for key in collected.iter() {
        let (t, i) = key.split_once('-').unwrap();
        let (t, i): (usize, usize) = (t.parse().unwrap(), i.parse().unwrap());
        assert!(i >= next[t], "producer {t}: {i} after {}", next[t]);
        next[t] = i + 1;
    }
}

/// Records every attempt a listener sees: (exporter, events, ok).
#[derive(Clone, Default)]
struct Attempts {
    seen: Arc<Mutex<Vec<(u64, usize, bool)>>>,
    released: Arc<AtomicUsize>,
}

struct AttemptsGuard(Attempts);

impl Drop for AttemptsGuard {
    fn drop(&mut self) {
        self.0.released.fetch_add(1, Ordering::SeqCst);
    }
}

impl Attempts {
    fn listener(&self) -> sluice::store::Listener {
        let guard = AttemptsGuard(self.clone());
        Arc::new(move |d: &sluice::store::Dispatch<'_>| {
            let v: Value = serde_json::from_slice(d.data).unwrap();
            assert_eq!(v.as_array().unwrap().len(), d.event_count);
            guard.0.seen.lock().push((d.exporter_id, d.event_count, d.outcome.is_ok()));
        })
    }
}

#[test]
fn listeners_see_every_attempt_of_every_exporter_with_its_outcome() {
    let store = store(1000, Overflow::DropOldest);
    let attempts = Attempts::default();
    let listener = store.add_listener(attempts.listener()).unwrap();
    let panicking = store.add_listener(Arc::new(|_: &sluice::store::Dispatch<'_>| panic!("listener bug"))).unwrap();
    let flaky = Recorder::failing(2);
    let flaky_id = store.add_exporter(options(10), flaky.sink()).unwrap();
    let pull = store.add_pull_exporter(options(10)).unwrap();
    for i in 0..3 {
        store.add(&event(i)).unwrap();
    }
    std::thread::scope(|s| {
        s.spawn(|| store.flush(LONG).unwrap());
        store.poll(pull, LONG).unwrap().complete(false).unwrap();
        store.poll(pull, LONG).unwrap().complete(true).unwrap();
    });
    let mut seen = attempts.seen.lock().clone();
    seen.sort();
    assert_eq!(
        seen,
        vec![(flaky_id, 3, false), (flaky_id, 3, false), (flaky_id, 3, true), (pull, 3, false), (pull, 3, true)]
    );
    assert_eq!(store.stats().exporters[0].exported, 3, "a panicking listener breaks nothing");
    store.remove_listener(panicking).unwrap();
    assert!(matches!(store.remove_listener(panicking), Err(Error::NotFound(_))));
    store.remove_listener(listener).unwrap();
    assert_eq!(attempts.released.load(Ordering::SeqCst), 1);
    store.add(&event(3)).unwrap();
    store.flush(Duration::from_millis(1)).unwrap_err();
    store.poll(pull, LONG).unwrap().complete(true).unwrap();
    store.flush(LONG).unwrap();
    assert_eq!(attempts.seen.lock().len(), 5, "a removed listener is not called");
}

#[test]
fn close_releases_listeners_and_refuses_new_ones() {
    let store = store(1000, Overflow::DropOldest);
    let attempts = Attempts::default();
    store.add_listener(attempts.listener()).unwrap();
    store.close(LONG).unwrap();
    assert_eq!(attempts.released.load(Ordering::SeqCst), 1);
    let late = Attempts::default();
    assert!(matches!(store.add_listener(late.listener()), Err(Error::Closed)));
}
