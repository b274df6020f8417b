//! The store handle: create, add, flush, close, free, stats.

use super::{bytes, ffi_boundary, null_argument, optional_str, sluice_status, status_of, try_core, try_out, try_ref};
use crate::error::Error;
use crate::log::{log_at, Level};
use super::exporter::sluice_release_fn;
use super::HostUserdata;
use crate::store::{Dispatch, Listener, Store};
use std::ffi::{c_char, c_void, CString};
use std::sync::Arc;
use std::time::Duration;

/// An event store. Opaque; create with `sluice_store_new`, destroy with `sluice_store_free`.
/// Every function taking a store is thread-safe, except `sluice_store_free`.
pub struct sluice_store {
    pub(crate) store: Store,
}

/// Creates a store. `config_json` may be NULL or "" for defaults; otherwise a JSON object with
/// the keys `capacity` (max buffered events, default 100000), `max_bytes` (max buffered bytes,
/// default 67108864), `overflow` ("drop_oldest" default, "drop_newest", "block"),
/// `block_timeout_ms` (default 100) and `max_event_bytes` (default 1048576). Unknown keys and
/// wrong types give `SLUICE_ERR_INVALID_ARGUMENT` with a message naming the key.
/// `config_json`: NUL-terminated, ownership NOT transferred. `out_store`: must not be NULL;
/// written only on success; the caller owns the store and frees it with `sluice_store_free`.
#[no_mangle]
pub unsafe extern "C" fn sluice_store_new(config_json: *const c_char, out_store: *mut *mut sluice_store) -> sluice_status {
    ffi_boundary! {
        try_out!(out_store, "out_store");
        let config = try_core!(optional_str(config_json, "config_json"));
        let store = try_core!(Store::from_json(config));
        *out_store = Box::into_raw(Box::new(sluice_store { store }));
        sluice_status::SLUICE_OK
    }
}

/// Accepts one event: a JSON object of `len` UTF-8 bytes (no NUL needed). Never waits for an
/// exporter or for I/O; only `overflow: "block"` may wait, up to `block_timeout_ms`.
/// `kind` defaults to "feature" and `creationDate` to now (Unix seconds); all else is kept
/// byte for byte. `SLUICE_ERR_INVALID_EVENT` (counted in `invalid`) for anything but one valid
/// JSON object with correctly typed known fields within `max_event_bytes`;
/// `SLUICE_ERR_FULL` (counted in `rejected`) when the overflow policy refuses it;
/// `SLUICE_ERR_CLOSED` after close. `store` must not be NULL; `event_json` must not be NULL
/// unless `len` is 0; ownership NOT transferred (the bytes are copied). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn sluice_store_add(store: *mut sluice_store, event_json: *const c_char, len: usize) -> sluice_status {
    ffi_boundary! {
        let handle = try_ref!(store, "store");
        let Some(event) = bytes(event_json.cast(), len) else {
            return null_argument("event_json");
        };
        status_of(handle.store.add(event))
    }
}

/// Returns when every event accepted before the call has been exported by every exporter or
/// dropped by policy: `SLUICE_OK`; `SLUICE_ERR_TIMEOUT` when `timeout_ms` passes first;
/// `SLUICE_ERR_EXPORT` when an exporter failed during the flush, or is waiting to retry until
/// after the deadline (returned at once then; its events stay pending and are retried);
/// `SLUICE_ERR_CLOSED`; `SLUICE_ERR_INVALID_ARGUMENT` from inside an exporter callback of the
/// same store. `store` must not be NULL. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn sluice_store_flush(store: *mut sluice_store, timeout_ms: u32) -> sluice_status {
    ffi_boundary! {
        let handle = try_ref!(store, "store");
        status_of(handle.store.flush(Duration::from_millis(timeout_ms.into())))
    }
}

/// Stops intake (later `add` gives `SLUICE_ERR_CLOSED`), flushes for up to `timeout_ms`, stops
/// and joins every library thread and releases every exporter (each `release` runs exactly
/// once). No exporter callback starts after it returns. Events still unexported at the deadline
/// are counted as dropped with reason `shutdown` and `SLUICE_ERR_TIMEOUT` says so; the store is
/// closed in every case. A callback that is still running at the deadline is not waited for: its
/// thread is detached, makes no further call, and releases the exporter when the callback
/// returns (also `SLUICE_ERR_TIMEOUT`). A second close returns `SLUICE_OK`. From inside an
/// exporter callback of the same store: `SLUICE_ERR_INVALID_ARGUMENT`. `store` must not be NULL;
/// the store stays valid (stats still work) until `sluice_store_free`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn sluice_store_close(store: *mut sluice_store, timeout_ms: u32) -> sluice_status {
    ffi_boundary! {
        let handle = try_ref!(store, "store");
        status_of(handle.store.close(Duration::from_millis(timeout_ms.into())))
    }
}

/// Frees a store; an open store is closed first with a 5 second deadline. NULL is a no-op.
/// Ownership is transferred: the store must not be used afterwards, and this must be the last
/// call on it (NOT thread-safe with other calls on the same store). From inside an exporter
/// callback of the same store the store is left as it is (freeing it there would wait for the
/// callback itself): the call sets `sluice_last_error` and logs an error.
#[no_mangle]
pub unsafe extern "C" fn sluice_store_free(store: *mut sluice_store) {
    if store.is_null() {
        return;
    }
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if let Err(e) = (*store).store.close(crate::store::DEFAULT_CLOSE_TIMEOUT) {
            if matches!(e, Error::InvalidArgument(_)) {
                let message = format!("sluice_store_free refused: {e}");
                super::set_last_error(&message);
                log_at!(Level::Error, "{message}");
                return;
            }
        }
        drop(Box::from_raw(store));
    }));
    if let Err(payload) = result {
        super::panic_status(payload);
    }
}

/// Writes the counters as a JSON object to `*out_json`: `accepted`, `rejected`, `invalid`,
/// `buffered`, `buffered_bytes`, `capacity`, `max_bytes`, `closed` and `exporters`, an array of
/// `{id, name, type, accepted, exported, pending, dropped, dropped_reasons: {overflow, shutdown},
/// in_flight, failed_attempts, batches, last_error}` where, for every exporter and at every
/// snapshot, `accepted = exported + dropped + pending`. Works after close. `store` and
/// `out_json` must not be NULL; `*out_json` is written only on success and ownership is
/// transferred to the caller, who frees it with `sluice_string_free`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn sluice_store_stats(store: *mut sluice_store, out_json: *mut *mut c_char) -> sluice_status {
    ffi_boundary! {
        let handle = try_ref!(store, "store");
        try_out!(out_json, "out_json");
        let json = CString::new(handle.store.stats_json()).unwrap_or_default();
        *out_json = json.into_raw();
        sluice_status::SLUICE_OK
    }
}

/// Called after every export attempt of every exporter: `data`/`len` are the batch bytes
/// (valid only during the call, ownership NOT transferred), `result` is `SLUICE_OK` or
/// `SLUICE_ERR_EXPORT` (the events will be retried). Runs on the thread that made the attempt: an
/// exporter's library thread, or the host thread that called `sluice_batch_complete`. It may run
/// concurrently for different exporters; it delays the exporter it reports on while it runs.
pub type sluice_dispatch_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        exporter_id: u64,
        data: *const u8,
        len: usize,
        event_count: usize,
        result: super::sluice_status,
    ),
>;

/// Dropping it releases the host's `userdata`.
struct DispatchCallback {
    dispatch_fn: unsafe extern "C" fn(*mut c_void, u64, *const u8, usize, usize, super::sluice_status),
    userdata: HostUserdata,
}

impl DispatchCallback {
    fn call(&self, attempt: &Dispatch<'_>) {
        let result = match attempt.outcome {
            Ok(()) => super::sluice_status::SLUICE_OK,
            Err(_) => super::sluice_status::SLUICE_ERR_EXPORT,
        };
        let (data, userdata) = (attempt.data, self.userdata.ptr());
        unsafe { (self.dispatch_fn)(userdata, attempt.exporter_id, data.as_ptr(), data.len(), attempt.event_count, result) }
    }
}

/// Adds a dispatch listener (Optimizely's `OnEventDispatch`): `dispatch_fn` is called after every
/// export attempt of every exporter of this store, retries included. `store`, `dispatch_fn` and
/// `out_id` must not be NULL; `release_fn` may be NULL. Ownership of `userdata` is transferred on
/// success: `release_fn` runs exactly once, after the last call, when the listener is removed or
/// the store closes. On failure (`SLUICE_ERR_CLOSED`) `release_fn` is not called and the caller
/// keeps `userdata`. `*out_id` is written only on success. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn sluice_store_add_listener(
    store: *mut sluice_store,
    dispatch_fn: sluice_dispatch_fn,
    userdata: *mut c_void,
    release_fn: sluice_release_fn,
    out_id: *mut u64,
) -> sluice_status {
    ffi_boundary! {
        let handle = try_ref!(store, "store");
        let Some(dispatch_fn) = dispatch_fn else {
            return null_argument("dispatch_fn");
        };
        try_out!(out_id, "out_id");
        let (userdata, disown) = HostUserdata::new(userdata, release_fn);
        let callback = DispatchCallback { dispatch_fn, userdata };
        let listener: Listener = Arc::new(move |attempt: &Dispatch<'_>| callback.call(attempt));
        // Held until the outcome is known, so a refused listener is disarmed before it drops.
        let held = listener.clone();
        let added = handle.store.add_listener(listener);
        if added.is_err() {
            disown.disown();
        }
        drop(held);
        *out_id = try_core!(added);
        sluice_status::SLUICE_OK
    }
}

/// Removes a dispatch listener; its `release_fn` runs once any call in progress has returned
/// (on that call's thread, or here). `SLUICE_ERR_NOT_FOUND` for an unknown id. `store` must not
/// be NULL. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn sluice_store_remove_listener(store: *mut sluice_store, listener_id: u64) -> sluice_status {
    ffi_boundary! {
        let handle = try_ref!(store, "store");
        status_of(handle.store.remove_listener(listener_id))
    }
}
