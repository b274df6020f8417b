//! Exporters at the boundary: callback exporters, pull exporters and their batches.

use super::{ffi_boundary, optional_str, sluice_status, status_of, try_core, try_out, try_ref, HostUserdata};
use super::store::sluice_store;
use crate::config::ExporterOptions;
use crate::exporter::Sink;
use crate::store::Batch;
use std::ffi::{c_char, c_void};
use std::time::Duration;

/// Exports one batch: `len` bytes at `data` holding `event_count` events in the exporter's
/// format. Runs on a library thread, never concurrently with itself for one exporter. `data` is
/// valid only during the call (ownership NOT transferred). Return 0 when the batch is exported;
/// any other value marks it failed: the same events, in order, are offered again after backoff.
pub type sluice_export_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, data: *const u8, len: usize, event_count: usize) -> i32>;

/// Releases `userdata`. Called exactly once, after the last export call of the exporter.
pub type sluice_release_fn = Option<unsafe extern "C" fn(userdata: *mut c_void)>;

/// A batch handed to a pull exporter. Opaque; consumed by `sluice_batch_complete`.
pub struct sluice_batch {
    batch: Batch,
}

/// Dropping it releases the host's `userdata`.
struct CallbackSink {
    export_fn: unsafe extern "C" fn(*mut c_void, *const u8, usize, usize) -> i32,
    userdata: HostUserdata,
}

impl Sink for CallbackSink {
    fn export(&mut self, batch: &[u8], event_count: usize) -> Result<(), String> {
        match unsafe { (self.export_fn)(self.userdata.ptr(), batch.as_ptr(), batch.len(), event_count) } {
            0 => Ok(()),
            code => Err(format!("the export callback returned {code}")),
        }
    }
}

/// Adds an exporter that delivers batches to `export_fn` on a library thread of its own. It
/// sees every event accepted from now on. `options_json` may be NULL or "": keys `name`,
/// `format` ("json" array per batch, default; "jsonl" one object per line), `max_batch_size`
/// (default 1000), `flush_threshold` (pending events that trigger an export, default
/// `max_batch_size`), `flush_interval_ms` (default 5000), `bulk` (default true; false exports
/// each event as soon as possible, one per call), `initial_backoff_ms` (default 100),
/// `max_backoff_ms` (default 30000). `store`, `export_fn` and `out_id` must not be NULL;
/// `release_fn` may be NULL. Ownership of `userdata` is transferred to the exporter on success
/// (`release_fn` runs exactly once, after the last `export_fn` call); if registration fails,
/// `release_fn` is not called and the caller keeps `userdata`. `*out_id` is written only on
/// success. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn sluice_store_add_callback_exporter(
    store: *mut sluice_store,
    options_json: *const c_char,
    export_fn: sluice_export_fn,
    userdata: *mut c_void,
    release_fn: sluice_release_fn,
    out_id: *mut u64,
) -> sluice_status {
    ffi_boundary! {
        let handle = try_ref!(store, "store");
        let Some(export_fn) = export_fn else {
            return super::null_argument("export_fn");
        };
        try_out!(out_id, "out_id");
        let options = try_core!(ExporterOptions::from_json(try_core!(optional_str(options_json, "options_json"))));
        let (userdata, disown) = HostUserdata::new(userdata, release_fn);
        match handle.store.add_exporter_or_return(options, Box::new(CallbackSink { export_fn, userdata })) {
            Ok(id) => {
                *out_id = id;
                sluice_status::SLUICE_OK
            }
            Err((error, sink)) => {
                disown.disown();
                drop(sink);
                super::fail(error)
            }
        }
    }
}

/// Adds an exporter driven by the host with `sluice_store_poll` and `sluice_batch_complete`.
/// Same options as `sluice_store_add_callback_exporter`. `store` and `out_id` must not be NULL;
/// `*out_id` is written only on success. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn sluice_store_add_pull_exporter(
    store: *mut sluice_store,
    options_json: *const c_char,
    out_id: *mut u64,
) -> sluice_status {
    ffi_boundary! {
        let handle = try_ref!(store, "store");
        try_out!(out_id, "out_id");
        let options = try_core!(ExporterOptions::from_json(try_core!(optional_str(options_json, "options_json"))));
        *out_id = try_core!(handle.store.add_pull_exporter(options));
        sluice_status::SLUICE_OK
    }
}

/// Waits up to `timeout_ms` until a batch of pull exporter `exporter_id` is due (threshold,
/// interval, flush or close) and writes it to `*out_batch`; `SLUICE_ERR_TIMEOUT` with nothing
/// written otherwise. One batch per exporter is outstanding at a time (a second poll before
/// completing gives `SLUICE_ERR_INVALID_ARGUMENT`, as does a callback exporter's id).
/// `SLUICE_ERR_NOT_FOUND` for an unknown id; `SLUICE_ERR_CLOSED` once the store has shut down. `store` and `out_batch` must not be NULL;
/// ownership of the batch is transferred to the caller, who must pass it to
/// `sluice_batch_complete`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn sluice_store_poll(
    store: *mut sluice_store,
    exporter_id: u64,
    timeout_ms: u32,
    out_batch: *mut *mut sluice_batch,
) -> sluice_status {
    ffi_boundary! {
        let handle = try_ref!(store, "store");
        try_out!(out_batch, "out_batch");
        let batch = try_core!(handle.store.poll(exporter_id, Duration::from_millis(timeout_ms.into())));
        *out_batch = Box::into_raw(Box::new(sluice_batch { batch }));
        sluice_status::SLUICE_OK
    }
}

/// The bytes of a batch, in its exporter's format; their length goes to `*out_len` when
/// `out_len` is not NULL. Ownership NOT transferred: valid until the batch is completed.
/// A NULL `batch` gives NULL and a length of 0.
#[no_mangle]
pub unsafe extern "C" fn sluice_batch_data(batch: *const sluice_batch, out_len: *mut usize) -> *const u8 {
    let (ptr, len) = match batch.as_ref() {
        Some(b) => (b.batch.data().as_ptr(), b.batch.data().len()),
        None => (std::ptr::null(), 0),
    };
    if !out_len.is_null() {
        *out_len = len;
    }
    ptr
}

/// How many events a batch holds; 0 for NULL.
#[no_mangle]
pub unsafe extern "C" fn sluice_batch_event_count(batch: *const sluice_batch) -> usize {
    batch.as_ref().map_or(0, |b| b.batch.event_count())
}

/// Reports a batch's outcome and frees it (ownership is transferred back: the batch must not be
/// used afterwards, whatever the status). `exported` true advances the exporter past its
/// events; false offers them again, in order, after backoff. After the store has closed the
/// outcome no longer counts (`SLUICE_ERR_CLOSED`: the events were counted as dropped), after the
/// exporter was removed likewise (`SLUICE_ERR_NOT_FOUND`). `batch` must not be NULL.
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn sluice_batch_complete(batch: *mut sluice_batch, exported: bool) -> sluice_status {
    ffi_boundary! {
        try_out!(batch, "batch");
        let batch = Box::from_raw(batch).batch;
        status_of(batch.complete(exported))
    }
}

/// Flushes exporter `exporter_id` for up to `timeout_ms`, stops it and releases it (its
/// `release_fn` runs exactly once). The exporter is removed in every case: `SLUICE_ERR_TIMEOUT`
/// says some of its events were not exported. `SLUICE_ERR_NOT_FOUND` for an unknown id;
/// `SLUICE_ERR_CLOSED` after close; `SLUICE_ERR_INVALID_ARGUMENT` from inside an exporter
/// callback of the same store. `store` must not be NULL. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn sluice_store_remove_exporter(store: *mut sluice_store, exporter_id: u64, timeout_ms: u32) -> sluice_status {
    ffi_boundary! {
        let handle = try_ref!(store, "store");
        status_of(handle.store.remove_exporter(exporter_id, Duration::from_millis(timeout_ms.into())))
    }
}
