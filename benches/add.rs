//! Prints the cost of `sluice_store_add` through the C ABI (one and two threads), the same
//! through the Rust API, and end-to-end events/s through a no-op callback exporter.
//! `SLUICE_BENCH_QUICK=1` runs a tenth of the events. A benchmark, never a test.

use sluice::ffi::exporter::sluice_store_add_callback_exporter;
use sluice::ffi::store::{sluice_store, sluice_store_add, sluice_store_close, sluice_store_flush, sluice_store_free, sluice_store_new};
use sluice::ffi::sluice_status;
use std::ffi::{c_char, c_void, CString};
use std::time::Instant;

/// About 150 bytes, as an SDK records a flag evaluation.
const EVENT: &[u8] = br#"{"kind":"feature","contextKind":"user","creationDate":1700000000,"key":"new-checkout-flow","userKey":"user-00042","variation":"enabled","value":true,"default":false}"#;

unsafe extern "C" fn no_op(_: *mut c_void, _: *const u8, _: usize, _: usize) -> i32 {
    0
}

struct Handle(*mut sluice_store);
unsafe impl Send for Handle {}
unsafe impl Sync for Handle {}

fn new_store(with_exporter: bool) -> Handle {
    let config = CString::new(r#"{"capacity":1000000,"max_bytes":1073741824}"#).unwrap();
    let mut store = std::ptr::null_mut();
    unsafe {
        assert_eq!(sluice_store_new(config.as_ptr(), &mut store), sluice_status::SLUICE_OK);
        if with_exporter {
            let options = CString::new(r#"{"max_batch_size":1000}"#).unwrap();
            let mut id = 0;
            let status = sluice_store_add_callback_exporter(store, options.as_ptr(), Some(no_op), std::ptr::null_mut(), None, &mut id);
            assert_eq!(status, sluice_status::SLUICE_OK);
        }
    }
    Handle(store)
}

fn close(store: Handle) {
    unsafe {
        assert_eq!(sluice_store_close(store.0, 60_000), sluice_status::SLUICE_OK);
        sluice_store_free(store.0);
    }
}

/// ns per add with `threads` threads each adding `per_thread` events.
fn c_add(threads: usize, per_thread: usize, with_exporter: bool) -> f64 {
    let store = new_store(with_exporter);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            let store = &store;
            s.spawn(move || {
                for _ in 0..per_thread {
                    let status = unsafe { sluice_store_add(store.0, EVENT.as_ptr() as *const c_char, EVENT.len()) };
                    assert_eq!(status, sluice_status::SLUICE_OK);
                }
            });
        }
    });
    let elapsed = start.elapsed();
    close(store);
    elapsed.as_nanos() as f64 / (threads * per_thread) as f64
}

fn rust_add(n: usize) -> f64 {
    let store = sluice::Store::from_json(r#"{"capacity":1000000,"max_bytes":1073741824}"#).unwrap();
    let sink = |_: &[u8], _: usize| -> Result<(), String> { Ok(()) };
    store.add_exporter(sluice::ExporterOptions { max_batch_size: 1000, flush_threshold: 1000, ..Default::default() }, Box::new(sink)).unwrap();
    let start = Instant::now();
    for _ in 0..n {
        store.add(EVENT).unwrap();
    }
    let elapsed = start.elapsed();
    store.close(std::time::Duration::from_secs(60)).unwrap();
    elapsed.as_nanos() as f64 / n as f64
}

/// Events per second from the first add until a flush confirms every event was exported.
fn end_to_end(n: usize) -> f64 {
    let store = new_store(true);
    let start = Instant::now();
    for _ in 0..n {
        unsafe { sluice_store_add(store.0, EVENT.as_ptr() as *const c_char, EVENT.len()) };
    }
    unsafe { assert_eq!(sluice_store_flush(store.0, 60_000), sluice_status::SLUICE_OK) };
    let elapsed = start.elapsed();
    close(store);
    n as f64 / elapsed.as_secs_f64()
}

fn median(mut runs: Vec<f64>) -> f64 {
    runs.sort_by(|a, b| a.total_cmp(b));
    runs[runs.len() / 2]
}

fn main() {
    let quick = std::env::var("SLUICE_BENCH_QUICK").is_ok_and(|v| v == "1");
    let n = if quick { 100_000 } else { 1_000_000 };
    let runs = if quick { 3 } else { 5 };
    println!("sluice add benchmark: {}-byte event, {n} events per row, median of {runs} runs", EVENT.len());
    let row = |name: &str, value: f64, unit: &str| println!("  {name:<58} {value:>12.1} {unit}");
    row("sluice_store_add, 1 thread, no exporter", median((0..runs).map(|_| c_add(1, n, false)).collect()), "ns/add");
    row("sluice_store_add, 1 thread, no-op callback exporter", median((0..runs).map(|_| c_add(1, n, true)).collect()), "ns/add");
    row("sluice_store_add, 2 threads, no-op callback exporter", median((0..runs).map(|_| c_add(2, n / 2, true)).collect()), "ns/add");
    row("Store::add (Rust API), 1 thread, no-op callback exporter", median((0..runs).map(|_| rust_add(n)).collect()), "ns/add");
    row("end to end: add + flush through a no-op callback exporter", median((0..runs).map(|_| end_to_end(n)).collect()), "events/s");
}
