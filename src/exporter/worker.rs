//! The worker thread of a callback exporter: the same loop a pull exporter's host runs
//! (wait for a due batch, export it, report the outcome), around a [`Sink`].

use crate::exporter::Sink;
use crate::log::{log_at, Level};
use crate::store::{enter_callbacks, Shared};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// Runs until the exporter is removed or the store shuts down, then releases the sink.
pub(crate) fn run(shared: Arc<Shared>, exporter_id: u64, mut sink: Box<dyn Sink>) {
    // Everything this thread runs of the host's is inside a callback of this store.
    enter_callbacks(shared.id());
    loop {
        let state = shared.lock_state();
        let batch = match shared.next_batch(state, exporter_id, None) {
            Ok(batch) => batch,
            Err(_) => break,
        };
        if !shared.begin_callback(exporter_id) {
            batch.abandon();
            break;
        }
        // A failure comes with the sink's earliest time for the next attempt, if it has one.
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            sink.export(batch.data(), batch.event_count()).map_err(|e| (e, sink.retry_after()))
        }))
        .unwrap_or_else(|_| Err(("the exporter panicked".to_string(), None)));
        let (error, retry_after) = match outcome {
            Ok(()) => (None, None),
            Err((message, retry_after)) => (Some(message), retry_after),
        };
        // Counting the outcome may call listeners and the log callback: still host code.
        let counted = batch.finish(error, retry_after);
        shared.set_in_host_code(exporter_id, false);
        if counted.is_err() {
            // Closed or removed while the callback ran: the outcome no longer counts.
            break;
        }
    }
    // Releasing the sink may call the host's release callback.
    shared.set_in_host_code(exporter_id, true);
    if catch_unwind(AssertUnwindSafe(move || drop(sink))).is_err() {
        log_at!(Level::Error, "releasing exporter {exporter_id} panicked");
    }
    shared.worker_exited(exporter_id);
}

#[cfg(test)]
mod tests {
    use crate::exporter::Sink;
    use crate::{ExporterOptions, Store, StoreConfig};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    /// Fails its first export and asks for `after` before the next one; records each call.
    struct Throttled {
        calls: Arc<Mutex<Vec<Instant>>>,
        after: Option<Duration>,
    }

    impl Sink for Throttled {
        fn export(&mut self, _: &[u8], _: usize) -> Result<(), String> {
            let mut calls = self.calls.lock().unwrap();
            calls.push(Instant::now());
            if calls.len() == 1 {
                return Err("throttled".into());
            }
            Ok(())
        }

        fn retry_after(&mut self) -> Option<Duration> {
            self.after
        }
    }

    #[test]
    fn a_sink_s_retry_after_outlasts_a_shorter_backoff() {
        let store = Store::new(StoreConfig::default()).unwrap();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let options = ExporterOptions { bulk: false, initial_backoff: Duration::from_millis(1), ..Default::default() };
        let sink = Throttled { calls: calls.clone(), after: Some(Duration::from_millis(400)) };
        store.add_exporter(options, Box::new(sink)).unwrap();
        store.add(br#"{"key":"k"}"#).unwrap();
        store.flush(Duration::from_secs(30)).unwrap();
        let calls = calls.lock().unwrap();
        assert_eq!(calls.len(), 2);
        assert!(calls[1] - calls[0] >= Duration::from_millis(400), "{:?}", calls[1] - calls[0]);
        let stats = &store.stats().exporters[0];
        assert_eq!((stats.exported, stats.failed_attempts), (1, 1));
    }
}
