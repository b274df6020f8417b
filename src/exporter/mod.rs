//! Exporters: what consumes the store. Every exporter reads the shared log at its own offset
//! through one mechanism (`Store::next_batch` / `Batch::complete`): a callback exporter is a
//! worker thread ([`worker`]) that runs that loop around a [`Sink`]; a pull exporter lets the
//! host run the same loop on its own thread or event loop.

pub mod builtin;
pub mod file;
pub mod logline;
pub mod record;
pub mod template;
pub mod webhook;
pub mod worker;

use std::time::Duration;

/// Where a callback exporter delivers its batches. Dropping the sink releases it: the store
/// drops it exactly once, on the exporter's worker thread, after its last `export` returned.
pub trait Sink: Send {
    /// Delivers one batch (`event_count` events laid out in the exporter's format).
    /// `Err` marks the batch failed: the same events are offered again after backoff.
    fn export(&mut self, batch: &[u8], event_count: usize) -> Result<(), String>;

    /// Asked after a failed `export`: the earliest the next attempt may come (an HTTP
    /// `Retry-After`, say). The core waits for the longer of this and its own backoff.
    fn retry_after(&mut self) -> Option<Duration> {
        None
    }
}

impl<F> Sink for F
where
    F: FnMut(&[u8], usize) -> Result<(), String> + Send,
{
    fn export(&mut self, batch: &[u8], event_count: usize) -> Result<(), String> {
        self(batch, event_count)
    }
}


/// This machine's name (`localhost` when it has none), for file names and webhook bodies.
pub(crate) fn hostname() -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: the buffer is writable for its length; gethostname NUL-terminates within it or
    // fails, and the last byte stays 0 either way.
    let status = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len() - 1) };
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(0);
    if status != 0 || end == 0 {
        return "localhost".into();
    }
    String::from_utf8_lossy(&buffer[..end]).into_owned()
}
