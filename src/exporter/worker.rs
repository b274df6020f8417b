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
        let outcome = catch_unwind(AssertUnwindSafe(|| sink.export(batch.data(), batch.event_count())))
            .unwrap_or_else(|_| Err("the exporter panicked".to_string()));
        if batch.finish(outcome.err()).is_err() {
            // Closed or removed while the callback ran: the outcome no longer counts.
            break;
        }
    }
    if catch_unwind(AssertUnwindSafe(move || drop(sink))).is_err() {
        log_at!(Level::Error, "releasing exporter {exporter_id} panicked");
    }
    shared.worker_exited(exporter_id);
}
