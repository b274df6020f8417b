//! The C boundary: status codes, the thread-local last error, the panic guard and the argument
//! helpers every exported function uses, plus the process-wide calls (version, errors, logging).
//! No business logic lives here: each export checks its arguments, converts them, and makes one
//! call into the core.

#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)]

pub mod builtin;
pub mod exporter;
pub mod store;

use crate::error::Error;
use crate::log::{self, Level};
use std::any::Any;
use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The outcome of every call that can fail. Values are fixed by the contract.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sluice_status {
    /// Success.
    SLUICE_OK = 0,
    /// A required pointer was NULL.
    SLUICE_ERR_NULL_ARGUMENT = 1,
    /// Bad config or options JSON, unknown key, bad value, bad UTF-8, wrong call order, or a
    /// call from inside a callback that would wait for itself.
    SLUICE_ERR_INVALID_ARGUMENT = 2,
    /// The event is not one JSON object, a known field has the wrong type, or it is too large.
    SLUICE_ERR_INVALID_EVENT = 3,
    /// The event was rejected by the overflow policy; it is counted, never silently lost.
    SLUICE_ERR_FULL = 4,
    /// The store is closed.
    SLUICE_ERR_CLOSED = 5,
    /// The deadline passed before the work was done.
    SLUICE_ERR_TIMEOUT = 6,
    /// An exporter failed; its events stay pending and are retried.
    SLUICE_ERR_EXPORT = 7,
    /// Unknown exporter or listener id.
    SLUICE_ERR_NOT_FOUND = 8,
    /// File or network error (built-in exporters), or a thread could not be started.
    SLUICE_ERR_IO = 9,
    /// An internal bug was caught at the boundary.
    SLUICE_ERR_PANIC = 10,
}

use sluice_status::*;

/// Log severities, most severe first.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sluice_log_level {
    SLUICE_LOG_ERROR = 1,
    SLUICE_LOG_WARN = 2,
    SLUICE_LOG_INFO = 3,
    SLUICE_LOG_DEBUG = 4,
}

/// Receives one log line. `message` is a NUL-terminated UTF-8 string valid only during the
/// call. May be called from any thread, including the library's exporter threads, but never
/// while a store lock is held: it may call back into the library.
pub type sluice_log_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, level: sluice_log_level, message: *const c_char)>;

/// A host's `userdata` with its release callback: released exactly once when dropped, unless
/// the registration that would have taken ownership failed (then the caller keeps it).
pub(crate) struct HostUserdata {
    ptr: *mut c_void,
    release_fn: exporter::sluice_release_fn,
    owned: Arc<AtomicBool>,
}

// SAFETY: the host hands `userdata` to callbacks it registers to run on any thread.
unsafe impl Send for HostUserdata {}
unsafe impl Sync for HostUserdata {}

/// Hands ownership of a [`HostUserdata`] back to the caller after a failed registration.
pub(crate) struct Disown(Arc<AtomicBool>);

impl Disown {
    pub(crate) fn disown(self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

impl HostUserdata {
    pub(crate) fn new(ptr: *mut c_void, release_fn: exporter::sluice_release_fn) -> (HostUserdata, Disown) {
        let owned = Arc::new(AtomicBool::new(true));
        (HostUserdata { ptr, release_fn, owned: owned.clone() }, Disown(owned))
    }

    pub(crate) fn ptr(&self) -> *mut c_void {
        self.ptr
    }
}

impl Drop for HostUserdata {
    fn drop(&mut self) {
        if let Some(release) = self.release_fn.filter(|_| self.owned.load(Ordering::SeqCst)) {
            unsafe { release(self.ptr) }
        }
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

pub(crate) fn set_last_error(message: &str) {
    let message = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = message);
}

/// Records `error` as this thread's last error and returns its status.
pub(crate) fn fail(error: Error) -> sluice_status {
    let status = match &error {
        Error::InvalidArgument(_) => SLUICE_ERR_INVALID_ARGUMENT,
        Error::InvalidEvent(_) => SLUICE_ERR_INVALID_EVENT,
        Error::Full(_) => SLUICE_ERR_FULL,
        Error::Closed => SLUICE_ERR_CLOSED,
        Error::Timeout(_) => SLUICE_ERR_TIMEOUT,
        Error::Export(_) => SLUICE_ERR_EXPORT,
        Error::NotFound(_) => SLUICE_ERR_NOT_FOUND,
        Error::Io(_) => SLUICE_ERR_IO,
    };
    set_last_error(&error.to_string());
    status
}

/// `SLUICE_OK`, or the error's status with its message recorded.
pub(crate) fn status_of(result: crate::Result<()>) -> sluice_status {
    match result {
        Ok(()) => SLUICE_OK,
        Err(e) => fail(e),
    }
}

pub(crate) fn panic_status(payload: Box<dyn Any + Send>) -> sluice_status {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    let message = format!("internal error (please report it): {what}");
    log::log(Level::Error, &message);
    set_last_error(&message);
    SLUICE_ERR_PANIC
}

/// The panic guard of every export that returns a status: a panic becomes `SLUICE_ERR_PANIC`.
macro_rules! ffi_boundary {
    ($($body:tt)*) => {
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| -> $crate::ffi::sluice_status {
            $($body)*
        })) {
            Ok(status) => status,
            Err(payload) => $crate::ffi::panic_status(payload),
        }
    };
}
pub(crate) use ffi_boundary;

/// `let x = try_ref!(ptr, "name");`: a reference, or `SLUICE_ERR_NULL_ARGUMENT` naming it.
macro_rules! try_ref {
    ($ptr:expr, $name:literal) => {
        match unsafe { $ptr.as_ref() } {
            Some(r) => r,
            None => return $crate::ffi::null_argument($name),
        }
    };
}
pub(crate) use try_ref;

/// `try_out!(ptr, "name")`: checks that an out-pointer is not NULL.
macro_rules! try_out {
    ($ptr:expr, $name:literal) => {
        if $ptr.is_null() {
            return $crate::ffi::null_argument($name);
        }
    };
}
pub(crate) use try_out;

/// Unwraps a `crate::Result`, or records the error and returns its status.
macro_rules! try_core {
    ($result:expr) => {
        match $result {
            Ok(value) => value,
            Err(e) => return $crate::ffi::fail(e),
        }
    };
}
pub(crate) use try_core;

pub(crate) fn null_argument(name: &str) -> sluice_status {
    set_last_error(&format!("`{name}` must not be NULL"));
    SLUICE_ERR_NULL_ARGUMENT
}

/// Reads an optional NUL-terminated UTF-8 string: NULL reads as "".
pub(crate) unsafe fn optional_str<'a>(ptr: *const c_char, name: &str) -> crate::Result<&'a str> {
    if ptr.is_null() {
        return Ok("");
    }
    CStr::from_ptr(ptr)
        .to_str()
        .map_err(|e| Error::InvalidArgument(format!("`{name}` is not valid UTF-8 (at byte {})", e.valid_up_to())))
}

/// A `(ptr, len)` pair as a slice; NULL is allowed only with `len == 0`.
pub(crate) unsafe fn bytes<'a>(ptr: *const u8, len: usize) -> Option<&'a [u8]> {
    if ptr.is_null() {
        return if len == 0 { Some(&[]) } else { None };
    }
    Some(std::slice::from_raw_parts(ptr, len))
}

/// The library version, e.g. "0.1.0". Static: never freed, never NULL. Thread-safe.
#[no_mangle]
pub extern "C" fn sluice_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The name of a status, e.g. "SLUICE_ERR_FULL", or "SLUICE_UNKNOWN" for any other value.
/// Takes an `int` so that any value a C enum may hold is safe to pass. The string is static:
/// never freed, never NULL. Thread-safe.
#[no_mangle]
pub extern "C" fn sluice_status_name(status: c_int) -> *const c_char {
    let name: &'static str = match status {
        0 => "SLUICE_OK\0",
        1 => "SLUICE_ERR_NULL_ARGUMENT\0",
        2 => "SLUICE_ERR_INVALID_ARGUMENT\0",
        3 => "SLUICE_ERR_INVALID_EVENT\0",
        4 => "SLUICE_ERR_FULL\0",
        5 => "SLUICE_ERR_CLOSED\0",
        6 => "SLUICE_ERR_TIMEOUT\0",
        7 => "SLUICE_ERR_EXPORT\0",
        8 => "SLUICE_ERR_NOT_FOUND\0",
        9 => "SLUICE_ERR_IO\0",
        10 => "SLUICE_ERR_PANIC\0",
        _ => "SLUICE_UNKNOWN\0",
    };
    name.as_ptr().cast()
}

/// The message of the most recent failed call on this thread, "" if none. Never NULL.
/// Ownership is NOT transferred: the string belongs to the library and stays valid until the
/// next failing call on this thread. Successful calls leave it as it is.
#[no_mangle]
pub extern "C" fn sluice_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// Frees a string returned by the library (`sluice_store_stats`). NULL is a no-op.
/// Ownership of `s` is transferred back to the library; do not use it afterwards.
#[no_mangle]
pub unsafe extern "C" fn sluice_string_free(s: *mut c_char) {
    if !s.is_null() {
        let _ = std::panic::catch_unwind(|| drop(CString::from_raw(s)));
    }
}

struct LogCallback {
    log_fn: unsafe extern "C" fn(*mut c_void, sluice_log_level, *const c_char),
    userdata: *mut c_void,
}
// SAFETY: the host promises, by registering it, that the callback may run on any thread.
unsafe impl Send for LogCallback {}
unsafe impl Sync for LogCallback {}

impl LogCallback {
    fn call(&self, level: Level, message: &str) {
        let c_level = match level {
            Level::Error => sluice_log_level::SLUICE_LOG_ERROR,
            Level::Warn => sluice_log_level::SLUICE_LOG_WARN,
            Level::Info => sluice_log_level::SLUICE_LOG_INFO,
            Level::Debug => sluice_log_level::SLUICE_LOG_DEBUG,
        };
        let text = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
        unsafe { (self.log_fn)(self.userdata, c_level, text.as_ptr()) }
    }
}

/// Sets the process-wide log callback, replacing any earlier one; lines up to `max_level`
/// (1 = error .. 4 = debug) reach it. `log_fn` NULL removes the callback (the library then
/// prints nothing unless `SLUICE_LOG` is set). Ownership of `userdata` is NOT transferred: it
/// must stay valid until the callback is replaced or removed and no call is in progress.
/// `max_level` is taken as an `int`: a value outside 1..4 is `SLUICE_ERR_INVALID_ARGUMENT`.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn sluice_set_log_callback(
    log_fn: sluice_log_fn,
    userdata: *mut c_void,
    max_level: c_int,
) -> sluice_status {
    ffi_boundary! {
        let Some(level) = Level::from_i32(max_level) else {
            return fail(Error::InvalidArgument(format!("`max_level` must be 1 (error) to 4 (debug), not {max_level}")));
        };
        let sink = log_fn.map(|log_fn| {
            let callback = LogCallback { log_fn, userdata };
            Arc::new(move |level: Level, message: &str| callback.call(level, message)) as log::LogSink
        });
        log::set_sink(sink, level);
        SLUICE_OK
    }
}
