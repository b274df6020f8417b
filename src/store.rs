//! The shared log: one append-only sequence of accepted events, read by every exporter at its
//! own offset.
//!
//! Guarantees:
//! - Events are numbered in acceptance order. An exporter sees every event accepted after it was
//!   added, in that order; the log keeps an event only while some exporter still needs it.
//! - Memory is bounded by `capacity` events and `max_bytes` (plus, per exporter, the one batch
//!   it is exporting).
//! - For every exporter, at every snapshot and after close:
//!   `accepted since it was added = exported + dropped + pending`. The counters live beside the
//!   offsets under one lock, so no snapshot can see them disagree.
//! - `add` never waits for an exporter (only `overflow: "block"` waits, up to its timeout).

use crate::config::{ExporterOptions, Overflow, StoreConfig};
use crate::error::{Error, Result};
use crate::event;
use crate::eventlog::EventLog;
use crate::exporter::{worker, Sink};
use crate::log::{log_at, Level};
use parking_lot::{Condvar, Mutex, MutexGuard, RwLock};
use serde::Serialize;
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long `Drop` (and `sluice_store_free`) lets an open store flush before closing it.
pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

static NEXT_STORE_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The store whose exporter callback this thread is running, 0 for none.
    static CALLBACK_STORE: Cell<u64> = const { Cell::new(0) };
}

/// Marks the current thread as one that runs the host's callbacks for `store_id`.
pub(crate) fn enter_callbacks(store_id: u64) {
    CALLBACK_STORE.with(|c| c.set(store_id));
}

/// An embedded event pipeline: accepts events and hands them, in batches, to its exporters.
/// Cheap to share across threads (`&Store` is enough for every call).
pub struct Store {
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    id: u64,
    config: StoreConfig,
    state: Mutex<State>,
    /// Signalled whenever an offset advances, a worker stops, or the store closes.
    progress: Condvar,
    /// Serialises `close` and `remove_exporter`.
    closing: Mutex<()>,
    invalid: AtomicU64,
    listeners: RwLock<Vec<(u64, Listener)>>,
    next_listener_id: AtomicU64,
}

/// One export attempt, as dispatch listeners see it.
#[derive(Debug, Clone, Copy)]
pub struct Dispatch<'a> {
    pub exporter_id: u64,
    /// The batch bytes, in the exporter's format.
    pub data: &'a [u8],
    pub event_count: usize,
    /// `Err` with the failure's message when the attempt failed (the events will be retried).
    pub outcome: std::result::Result<(), &'a str>,
}

/// Called after every export attempt of every exporter (Optimizely's `OnEventDispatch`).
/// Dropping it releases it: after the last call, when it is removed or the store closes.
pub type Listener = Arc<dyn Fn(&Dispatch<'_>) + Send + Sync>;

pub(crate) struct State {
    log: EventLog,
    accepted: u64,
    rejected: u64,
    exporters: Vec<Slot>,
    workers: Vec<Worker>,
    next_exporter_id: u64,
    /// Intake stopped.
    closed: bool,
    /// Exporters stopped; counters final.
    shut_down: bool,
}

impl State {
    fn tail(&self) -> u64 {
        self.log.tail()
    }

    fn slot(&mut self, id: u64) -> Result<&mut Slot> {
        self.exporters
            .iter_mut()
            .find(|s| s.id == id)
            .ok_or_else(|| Error::NotFound(format!("no exporter with id {id}")))
    }

    fn is_full(&self, config: &StoreConfig, len: usize) -> bool {
        self.log.len() >= config.capacity || self.log.bytes() + len > config.max_bytes
    }

    /// Drops the oldest buffered event, charging it to each exporter that still needed it.
    fn drop_oldest(&mut self) {
        let head = self.log.head();
        for slot in &mut self.exporters {
            if slot.cursor == head {
                slot.cursor += 1;
                slot.dropped_overflow += 1;
                if let Some(inflight) = &mut slot.inflight {
                    if head < inflight.end {
                        inflight.dropped += 1;
                    }
                }
            }
        }
        self.log.pop_front();
    }

    /// Releases the events every exporter is done with.
    fn trim(&mut self) {
        let needed = self.exporters.iter().map(|s| s.cursor).min().unwrap_or_else(|| self.tail());
        while self.log.head() < needed && self.log.pop_front() {}
    }

    fn worker(&mut self, id: u64) -> Option<&mut Worker> {
        self.workers.iter_mut().find(|w| w.exporter_id == id)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// A sink on a worker thread, with the type stats show ("callback", "file", "webhook", ...).
    Callback(&'static str),
    Pull,
}

struct Inflight {
    first: u64,
    end: u64,
    /// Events of this batch that overflow dropped while it was out.
    dropped: u64,
}

/// One exporter's position in the log and its counters.
struct Slot {
    id: u64,
    options: ExporterOptions,
    kind: Kind,
    /// First sequence number this exporter sees.
    start: u64,
    /// First event neither exported nor dropped.
    cursor: u64,
    inflight: Option<Inflight>,
    exported: u64,
    dropped_overflow: u64,
    dropped_shutdown: u64,
    failed_attempts: u64,
    batches: u64,
    last_error: Option<String>,
    /// Delay before the next attempt after a failure; zero after a success.
    backoff: Duration,
    retry_at: Option<Instant>,
    /// When the oldest event not yet taken started waiting (drives `flush_interval`).
    pending_since: Option<Instant>,
    /// Export everything before this sequence number now (flush, close, remove).
    flush_to: u64,
    wake: Arc<Condvar>,
    waiters: usize,
}

/// When an exporter should next export.
enum Due {
    Now,
    At(Instant),
    Idle,
}

impl Slot {
    /// First event not handed out yet.
    fn taken_end(&self) -> u64 {
        match &self.inflight {
            Some(inflight) => inflight.end.max(self.cursor),
            None => self.cursor,
        }
    }

    fn due(&self, tail: u64, now: Instant, closing: bool) -> Due {
        let available = tail - self.taken_end();
        if available == 0 || self.inflight.is_some() {
            return Due::Idle;
        }
        if let Some(at) = self.retry_at {
            if now < at {
                return Due::At(at);
            }
        }
        if !self.options.bulk
            || available >= self.options.flush_threshold as u64
            || self.flush_to > self.cursor
            || closing
        {
            return Due::Now;
        }
        match self.pending_since {
            Some(since) if now < since + self.options.flush_interval => Due::At(since + self.options.flush_interval),
            _ => Due::Now,
        }
    }

    fn batch_limit(&self) -> usize {
        if self.options.bulk {
            self.options.max_batch_size
        } else {
            1
        }
    }

    fn dropped(&self) -> u64 {
        self.dropped_overflow + self.dropped_shutdown
    }
}

struct Worker {
    exporter_id: u64,
    handle: Option<JoinHandle<()>>,
    /// Running host code (the export callback, a listener, the log callback, the release
    /// callback): cannot be interrupted, only waited for until the deadline.
    in_host_code: bool,
    exited: bool,
}

/// One batch handed to an exporter: the events `[first, first + event_count)` laid out in the
/// exporter's format. A pull exporter's host must `complete` it; dropping it uncompleted counts
/// as a failed export.
pub struct Batch {
    shared: Arc<Shared>,
    exporter_id: u64,
    first: u64,
    event_count: usize,
    data: Vec<u8>,
    completed: bool,
}

impl Batch {
    /// The batch bytes.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// How many events the batch holds.
    pub fn event_count(&self) -> usize {
        self.event_count
    }

    /// The exporter this batch belongs to.
    pub fn exporter_id(&self) -> u64 {
        self.exporter_id
    }

    /// Reports the outcome: `exported` advances the exporter past these events; otherwise they
    /// are offered again, in order, after backoff. After close or removal the outcome no longer
    /// counts (the events were already counted as dropped) and `Err(Closed)`/`Err(NotFound)`
    /// says so.
    pub fn complete(self, exported: bool) -> Result<()> {
        let error = if exported { None } else { Some("the pull exporter reported a failure".to_string()) };
        self.finish(error, None)
    }

    /// Reports the outcome, with the failure's message and, after a failure, the earliest the
    /// next attempt may come (on top of the backoff).
    pub(crate) fn finish(mut self, error: Option<String>, retry_after: Option<Duration>) -> Result<()> {
        self.completed = true;
        // Listeners hear of the attempt before it is counted, so a flush that sees it counted
        // also sees them called.
        if !self.shared.lock_state().shut_down {
            self.shared.dispatch(&Dispatch {
                exporter_id: self.exporter_id,
                data: &self.data,
                event_count: self.event_count,
                outcome: error.as_deref().map_or(Ok(()), Err),
            });
        }
        self.shared.complete(self.exporter_id, self.first, self.event_count, error, retry_after)
    }

    /// Forgets the batch without an outcome (the exporter has stopped).
    pub(crate) fn abandon(mut self) {
        self.completed = true;
    }
}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("exporter_id", &self.exporter_id)
            .field("first", &self.first)
            .field("event_count", &self.event_count)
            .field("bytes", &self.data.len())
            .finish()
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        if !self.completed {
            let _ = self.shared.complete(
                self.exporter_id,
                self.first,
                self.event_count,
                Some("the batch was dropped without being completed".into()),
                None,
            );
        }
    }
}

/// A snapshot of the counters.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Stats {
    pub accepted: u64,
    pub rejected: u64,
    pub invalid: u64,
    pub buffered: u64,
    pub buffered_bytes: u64,
    pub capacity: u64,
    pub max_bytes: u64,
    pub closed: bool,
    pub exporters: Vec<ExporterStats>,
}

/// One exporter's counters: `accepted = exported + dropped + pending`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ExporterStats {
    pub id: u64,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Events accepted since this exporter was added.
    pub accepted: u64,
    pub exported: u64,
    pub pending: u64,
    pub dropped: u64,
    pub dropped_reasons: DroppedReasons,
    pub in_flight: u64,
    pub failed_attempts: u64,
    pub batches: u64,
    pub last_error: Option<String>,
}

/// Why events were dropped.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DroppedReasons {
    /// The buffer was full (`drop_oldest`).
    pub overflow: u64,
    /// Still unexported when `close` reached its deadline.
    pub shutdown: u64,
}

fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout).unwrap_or(now + Duration::from_secs(86_400 * 365))
}

impl Store {
    /// Creates a store. It accepts events at once; add exporters before the events they must see.
    pub fn new(config: StoreConfig) -> Result<Store> {
        config.validate()?;
        Ok(Store {
            shared: Arc::new(Shared {
                id: NEXT_STORE_ID.fetch_add(1, Ordering::Relaxed),
                config,
                state: Mutex::new(State {
                    log: EventLog::new(),
                    accepted: 0,
                    rejected: 0,
                    exporters: Vec::new(),
                    workers: Vec::new(),
                    next_exporter_id: 1,
                    closed: false,
                    shut_down: false,
                }),
                progress: Condvar::new(),
                closing: Mutex::new(()),
                invalid: AtomicU64::new(0),
                listeners: RwLock::new(Vec::new()),
                next_listener_id: AtomicU64::new(1),
            }),
        })
    }

    /// Creates a store from a JSON config (see [`StoreConfig::from_json`]).
    pub fn from_json(config: &str) -> Result<Store> {
        Store::new(StoreConfig::from_json(config)?)
    }

    pub fn config(&self) -> &StoreConfig {
        &self.shared.config
    }

    /// Validates, normalises and appends one event (see [`crate::event`]).
    pub fn add(&self, event: &[u8]) -> Result<()> {
        let shared = &*self.shared;
        let event = match event::normalize(event, shared.config.max_event_bytes) {
            Ok(event) => event,
            Err(e) => {
                if !shared.state.lock().closed {
                    shared.invalid.fetch_add(1, Ordering::Relaxed);
                    return Err(Error::InvalidEvent(e.0));
                }
                return Err(Error::Closed);
            }
        };
        shared.append(&event)
    }

    /// Adds an exporter that delivers to `sink` on a worker thread of its own.
    pub fn add_exporter(&self, options: ExporterOptions, sink: Box<dyn Sink>) -> Result<u64> {
        self.add_exporter_or_return(options, sink).map_err(|(error, _sink)| error)
    }

    /// As [`Store::add_exporter`], but a failed registration hands the sink back unreleased.
    pub fn add_exporter_or_return(
        &self,
        options: ExporterOptions,
        sink: Box<dyn Sink>,
    ) -> std::result::Result<u64, (Error, Box<dyn Sink>)> {
        self.add_exporter_of_type("callback", options, sink)
    }

    /// As [`Store::add_exporter_or_return`], with the `type` its stats show (built-in exporters).
    pub fn add_exporter_of_type(
        &self,
        type_name: &'static str,
        options: ExporterOptions,
        sink: Box<dyn Sink>,
    ) -> std::result::Result<u64, (Error, Box<dyn Sink>)> {
        let shared = &self.shared;
        let mut state = shared.state.lock();
        let id = match shared.register(&mut state, options, Kind::Callback(type_name)) {
            Ok(id) => id,
            Err(e) => return Err((e, sink)),
        };
        // The thread takes the sink out of this cell, so a failed spawn leaves it to us.
        let cell = Arc::new(Mutex::new(Some(sink)));
        let thread_cell = cell.clone();
        let worker_shared = shared.clone();
        let spawned = std::thread::Builder::new().name(format!("sluice-exporter-{id}")).spawn(move || {
            if let Some(sink) = thread_cell.lock().take() {
                worker::run(worker_shared, id, sink);
            }
        });
        match spawned {
            Ok(handle) => {
                state.workers.push(Worker { exporter_id: id, handle: Some(handle), in_host_code: false, exited: false });
                Ok(id)
            }
            Err(e) => {
                state.exporters.retain(|s| s.id != id);
                let error = Error::Io(format!("could not start the exporter thread: {e}"));
                match cell.lock().take() {
                    Some(sink) => Err((error, sink)),
                    None => unreachable!("the sink is taken only by a thread that started"),
                }
            }
        }
    }

    /// Adds an exporter that the host drives with [`Store::poll`] and [`Batch::complete`].
    pub fn add_pull_exporter(&self, options: ExporterOptions) -> Result<u64> {
        let mut state = self.shared.state.lock();
        self.shared.register(&mut state, options, Kind::Pull)
    }

    /// Waits up to `timeout` for a batch of a pull exporter to be due (threshold, interval,
    /// flush or close). `Err(Timeout)` when none is; `Err(Closed)` once the store has shut down.
    pub fn poll(&self, exporter_id: u64, timeout: Duration) -> Result<Batch> {
        let mut state = self.shared.state.lock();
        if state.slot(exporter_id)?.kind != Kind::Pull {
            return Err(Error::InvalidArgument(format!(
                "exporter {exporter_id} is a callback exporter; only pull exporters can be polled"
            )));
        }
        self.shared.next_batch(state, exporter_id, Some(deadline_after(timeout)))
    }

    /// Stops an exporter after flushing it for up to `timeout`, and releases it. The exporter is
    /// removed in every case; `Err(Timeout)` says some of its events were not exported.
    pub fn remove_exporter(&self, exporter_id: u64, timeout: Duration) -> Result<()> {
        self.shared.refuse_inside_callback("remove_exporter")?;
        self.shared.remove_exporter(exporter_id, deadline_after(timeout))
    }

    /// Waits until every event accepted before the call is exported by every exporter or
    /// dropped by policy.
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        self.shared.refuse_inside_callback("flush")?;
        self.shared.flush(deadline_after(timeout))
    }

    /// Stops intake, flushes within `timeout`, stops every exporter and releases it.
    /// Idempotent. The store is closed whatever the result; `Err(Timeout)` says events were
    /// dropped (reason `shutdown`) or a callback was still running at the deadline.
    pub fn close(&self, timeout: Duration) -> Result<()> {
        self.shared.refuse_inside_callback("close")?;
        self.shared.close(deadline_after(timeout))
    }

    /// Adds a listener called after every export attempt of every exporter, on the thread that
    /// made the attempt (an exporter's worker, or the host thread completing a pull batch).
    /// A panicking listener is logged and never breaks exporting.
    pub fn add_listener(&self, listener: Listener) -> Result<u64> {
        // Checked under the listeners lock: close takes the list only after it set `closed`.
        let mut listeners = self.shared.listeners.write();
        if self.is_closed() {
            return Err(Error::Closed);
        }
        let id = self.shared.next_listener_id.fetch_add(1, Ordering::Relaxed);
        listeners.push((id, listener));
        Ok(id)
    }

    /// Removes a listener; it is released after any call in progress returns.
    pub fn remove_listener(&self, listener_id: u64) -> Result<()> {
        let removed = {
            let mut listeners = self.shared.listeners.write();
            let index = listeners.iter().position(|(id, _)| *id == listener_id);
            index.map(|i| listeners.remove(i))
        };
        match removed {
            // Dropped here, or by the call in progress when it returns.
            Some(_) => Ok(()),
            None => Err(Error::NotFound(format!("no listener with id {listener_id}"))),
        }
    }

    pub fn is_closed(&self) -> bool {
        self.shared.state.lock().closed
    }

    /// A consistent snapshot of every counter.
    pub fn stats(&self) -> Stats {
        let state = self.shared.state.lock();
        let tail = state.tail();
        Stats {
            accepted: state.accepted,
            rejected: state.rejected,
            invalid: self.shared.invalid.load(Ordering::Relaxed),
            buffered: state.log.len() as u64,
            buffered_bytes: state.log.bytes() as u64,
            capacity: self.shared.config.capacity as u64,
            max_bytes: self.shared.config.max_bytes as u64,
            closed: state.closed,
            exporters: state
                .exporters
                .iter()
                .map(|s| ExporterStats {
                    id: s.id,
                    name: s.options.name.clone(),
                    kind: match s.kind {
                        Kind::Callback(type_name) => type_name,
                        Kind::Pull => "pull",
                    },
                    accepted: tail - s.start,
                    exported: s.exported,
                    pending: tail - s.cursor,
                    dropped: s.dropped(),
                    dropped_reasons: DroppedReasons { overflow: s.dropped_overflow, shutdown: s.dropped_shutdown },
                    in_flight: s.inflight.as_ref().map_or(0, |i| i.end.saturating_sub(s.cursor)),
                    failed_attempts: s.failed_attempts,
                    batches: s.batches,
                    last_error: s.last_error.clone(),
                })
                .collect(),
        }
    }

    /// The stats as a JSON object.
    pub fn stats_json(&self) -> String {
        serde_json::to_string(&self.stats()).unwrap_or_else(|_| "{}".into())
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        match self.close(DEFAULT_CLOSE_TIMEOUT) {
            Ok(()) => {}
            Err(Error::InvalidArgument(m)) => log_at!(Level::Error, "store dropped without closing: {m}"),
            Err(e) => log_at!(Level::Warn, "store closed on drop: {e}"),
        }
    }
}

impl Shared {
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn lock_state(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// Calls every listener with one attempt. No lock is held while they run.
    fn dispatch(&self, attempt: &Dispatch<'_>) {
        let listeners: Vec<Listener> = {
            let listeners = self.listeners.read();
            if listeners.is_empty() {
                return;
            }
            listeners.iter().map(|(_, l)| l.clone()).collect()
        };
        for listener in listeners {
            let call = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| listener(attempt)));
            if call.is_err() {
                log_at!(Level::Error, "a dispatch listener panicked; exporting goes on");
            }
        }
    }

    fn refuse_inside_callback(&self, call: &str) -> Result<()> {
        if CALLBACK_STORE.with(|c| c.get()) == self.id {
            return Err(Error::InvalidArgument(format!(
                "{call} was called from inside an exporter callback of the same store, which would wait for itself"
            )));
        }
        Ok(())
    }

    fn register(&self, state: &mut MutexGuard<'_, State>, options: ExporterOptions, kind: Kind) -> Result<u64> {
        if state.closed {
            return Err(Error::Closed);
        }
        let id = state.next_exporter_id;
        state.next_exporter_id += 1;
        let tail = state.tail();
        state.exporters.push(Slot {
            id,
            options,
            kind,
            start: tail,
            cursor: tail,
            inflight: None,
            exported: 0,
            dropped_overflow: 0,
            dropped_shutdown: 0,
            failed_attempts: 0,
            batches: 0,
            last_error: None,
            backoff: Duration::ZERO,
            retry_at: None,
            pending_since: None,
            flush_to: 0,
            wake: Arc::new(Condvar::new()),
            waiters: 0,
        });
        Ok(id)
    }

    fn append(&self, event: &[u8]) -> Result<()> {
        let config = &self.config;
        let len = event.len();
        let mut state = self.state.lock();
        if state.closed {
            return Err(Error::Closed);
        }
        if state.is_full(config, len) {
            match config.overflow {
                Overflow::DropOldest => {
                    while state.is_full(config, len) {
                        state.drop_oldest();
                    }
                }
                Overflow::DropNewest => return Err(self.reject(&mut state)),
                Overflow::Block => {
                    let deadline = deadline_after(config.block_timeout);
                    while state.is_full(config, len) && !state.closed {
                        if self.progress.wait_until(&mut state, deadline).timed_out() {
                            break;
                        }
                    }
                    if state.closed {
                        return Err(Error::Closed);
                    }
                    if state.is_full(config, len) {
                        return Err(self.reject(&mut state));
                    }
                }
            }
        }
        state.log.push(event);
        state.accepted += 1;
        let tail = state.tail();
        if state.exporters.is_empty() {
            state.trim();
            return Ok(());
        }
        let mut now = None;
        for slot in &mut state.exporters {
            let available = tail - slot.taken_end();
            if available == 1 {
                slot.pending_since = Some(*now.get_or_insert_with(Instant::now));
            }
            if slot.waiters > 0
                && (available == 1 || !slot.options.bulk || available == slot.options.flush_threshold as u64)
            {
                slot.wake.notify_all();
            }
        }
        Ok(())
    }

    fn reject(&self, state: &mut State) -> Error {
        state.rejected += 1;
        Error::Full(format!(
            "the buffer is full ({} events, {} bytes) and the overflow policy rejects new events",
            state.log.len(),
            state.log.bytes()
        ))
    }

    /// Waits until `exporter_id` has a batch due (or `deadline` passes) and hands it out.
    /// With no deadline, waits until one is due or the exporter stops.
    pub(crate) fn next_batch(
        self: &Arc<Self>,
        mut state: MutexGuard<'_, State>,
        exporter_id: u64,
        deadline: Option<Instant>,
    ) -> Result<Batch> {
        loop {
            if state.shut_down {
                return Err(Error::Closed);
            }
            let closing = state.closed;
            let tail = state.tail();
            let slot = state.slot(exporter_id)?;
            if slot.inflight.is_some() {
                return Err(Error::InvalidArgument(format!(
                    "exporter {exporter_id} already has a batch outstanding; complete it first"
                )));
            }
            let wake_at = match slot.due(tail, Instant::now(), closing) {
                Due::Now => break,
                Due::At(at) => Some(deadline.map_or(at, |d| d.min(at))),
                Due::Idle => deadline,
            };
            if let Some(d) = deadline {
                if Instant::now() >= d {
                    return Err(Error::Timeout(format!("no batch was due for exporter {exporter_id}")));
                }
            }
            let wake = slot.wake.clone();
            slot.waiters += 1;
            match wake_at {
                Some(at) => {
                    wake.wait_until(&mut state, at);
                }
                None => wake.wait(&mut state),
            }
            if let Ok(slot) = state.slot(exporter_id) {
                slot.waiters -= 1;
            }
        }
        let tail = state.tail();
        let slot = state.slot(exporter_id)?;
        let first = slot.cursor;
        let count = ((tail - first) as usize).min(slot.batch_limit());
        let format = slot.options.format;
        slot.inflight = Some(Inflight { first, end: first + count as u64, dropped: 0 });
        // One copy, under the lock: a batch is at most `max_batch_size` events.
        let data = state.log.batch(first, count, format);
        drop(state);
        Ok(Batch { shared: self.clone(), exporter_id, first, event_count: count, data, completed: false })
    }

    /// Marks a worker as inside its callback; false once the store has shut down.
    pub(crate) fn begin_callback(&self, exporter_id: u64) -> bool {
        let mut state = self.state.lock();
        if state.shut_down || state.slot(exporter_id).is_err() {
            return false;
        }
        if let Some(worker) = state.worker(exporter_id) {
            worker.in_host_code = true;
        }
        true
    }

    /// Marks a worker as running host code (`true`) or back in the library's own (`false`).
    pub(crate) fn set_in_host_code(&self, exporter_id: u64, in_host_code: bool) {
        let mut state = self.state.lock();
        if let Some(worker) = state.worker(exporter_id) {
            worker.in_host_code = in_host_code;
        }
    }

    /// Records the outcome of a batch (`error` is `None` on success). After a failure the next
    /// attempt waits for the backoff, or for `retry_after` when the exporter asked for longer.
    pub(crate) fn complete(
        &self,
        exporter_id: u64,
        first: u64,
        count: usize,
        error: Option<String>,
        retry_after: Option<Duration>,
    ) -> Result<()> {
        let mut state = self.state.lock();
        if state.shut_down {
            return Err(Error::Closed);
        }
        let tail = state.tail();
        let slot = match state.slot(exporter_id) {
            Ok(slot) => slot,
            Err(_) => return Err(Error::NotFound(format!("exporter {exporter_id} was removed"))),
        };
        let Some(inflight) = slot.inflight.take() else {
            return Err(Error::InvalidArgument(format!("exporter {exporter_id} has no batch outstanding")));
        };
        debug_assert_eq!(inflight.first, first);
        let end = first + count as u64;
        let now = Instant::now();
        let outcome = match error {
            None => {
                slot.exported += count as u64;
                slot.dropped_overflow -= inflight.dropped;
                slot.cursor = slot.cursor.max(end);
                slot.batches += 1;
                slot.backoff = Duration::ZERO;
                slot.retry_at = None;
                None
            }
            Some(message) => {
                slot.failed_attempts += 1;
                slot.backoff = if slot.backoff.is_zero() {
                    slot.options.initial_backoff
                } else {
                    (slot.backoff * 2).min(slot.options.max_backoff)
                };
                let delay = slot.backoff.max(retry_after.unwrap_or_default());
                slot.retry_at = Some(now + delay);
                let retry = format!(
                    "exporter {} ({}) failed to export {} events, retrying in {} ms: {}",
                    slot.id,
                    slot.options.name,
                    count,
                    delay.as_millis(),
                    message
                );
                slot.last_error = Some(message);
                Some(retry)
            }
        };
        slot.pending_since = if tail > slot.cursor { Some(now) } else { None };
        state.trim();
        drop(state);
        self.progress.notify_all();
        if let Some(message) = outcome {
            log_at!(Level::Warn, "{message}");
        }
        Ok(())
    }

    pub(crate) fn worker_exited(&self, exporter_id: u64) {
        let mut state = self.state.lock();
        if let Some(worker) = state.worker(exporter_id) {
            worker.exited = true;
            worker.in_host_code = false;
        }
        drop(state);
        self.progress.notify_all();
    }

    /// Asks the exporters in `ids` (all when `None`) to export everything before `target`.
    fn request_flush(state: &mut State, target: u64, only: Option<u64>) {
        for slot in state.exporters.iter_mut().filter(|s| only.is_none_or(|id| s.id == id)) {
            slot.flush_to = slot.flush_to.max(target);
            slot.wake.notify_all();
        }
    }

    /// Waits until every exporter (or `only`) has resolved every event before `target`.
    fn wait_resolved(&self, state: &mut MutexGuard<'_, State>, target: u64, only: Option<u64>, deadline: Instant) -> Result<()> {
        let failures_before: Vec<(u64, u64)> = state.exporters.iter().map(|s| (s.id, s.failed_attempts)).collect();
        loop {
            let unresolved: Vec<&Slot> = state
                .exporters
                .iter()
                .filter(|s| only.is_none_or(|id| s.id == id) && s.cursor < target)
                .collect();
            if unresolved.is_empty() {
                return Ok(());
            }
            let failed: Vec<&&Slot> = unresolved
                .iter()
                .filter(|s| failures_before.iter().any(|&(id, n)| id == s.id && s.failed_attempts > n))
                .collect();
            let now = Instant::now();
            // An exporter whose next retry falls after the deadline cannot finish in time.
            let hopeless = unresolved.iter().find(|s| s.retry_at.is_some_and(|at| at >= deadline));
            if now >= deadline || hopeless.is_some() {
                let names: Vec<String> = unresolved.iter().map(|s| format!("{} ({})", s.id, s.options.name)).collect();
                if let Some(s) = failed.first().copied().or(hopeless) {
                    return Err(Error::Export(format!(
                        "exporter {} ({}) failed during the flush; its events stay pending and are retried: {}",
                        s.id,
                        s.options.name,
                        s.last_error.as_deref().unwrap_or("")
                    )));
                }
                let pending: u64 = unresolved.iter().map(|s| target - s.cursor).sum();
                return Err(Error::Timeout(format!(
                    "the deadline passed with {pending} events not yet exported by exporter(s) {}",
                    names.join(", ")
                )));
            }
            if state.shut_down {
                return Err(Error::Closed);
            }
            self.progress.wait_until(state, deadline);
        }
    }

    fn flush(&self, deadline: Instant) -> Result<()> {
        let mut state = self.state.lock();
        if state.closed {
            return Err(Error::Closed);
        }
        let target = state.tail();
        Self::request_flush(&mut state, target, None);
        self.wait_resolved(&mut state, target, None, deadline)
    }

    fn remove_exporter(&self, exporter_id: u64, deadline: Instant) -> Result<()> {
        let _closing = self.closing.lock();
        let mut state = self.state.lock();
        if state.shut_down {
            return Err(Error::Closed);
        }
        state.slot(exporter_id)?;
        let target = state.tail();
        Self::request_flush(&mut state, target, Some(exporter_id));
        let flushed = self.wait_resolved(&mut state, target, Some(exporter_id), deadline);
        let Some(index) = state.exporters.iter().position(|s| s.id == exporter_id) else {
            return Err(Error::NotFound(format!("exporter {exporter_id} was removed meanwhile")));
        };
        let slot = state.exporters.remove(index);
        slot.wake.notify_all();
        state.trim();
        let joined = self.join_workers(state, Some(exporter_id), deadline);
        drop(slot);
        match flushed {
            Err(Error::Closed) => Ok(()),
            Err(e) => Err(e),
            Ok(()) => joined,
        }
    }

    fn close(&self, deadline: Instant) -> Result<()> {
        let _closing = self.closing.lock();
        let mut state = self.state.lock();
        if state.shut_down {
            return Ok(());
        }
        state.closed = true;
        let target = state.tail();
        for slot in &mut state.exporters {
            // One immediate attempt, whatever the backoff of an earlier failure.
            slot.retry_at = None;
            slot.backoff = Duration::ZERO;
        }
        Self::request_flush(&mut state, target, None);
        self.progress.notify_all();
        let flushed = self.wait_resolved(&mut state, target, None, deadline);
        state.shut_down = true;
        let tail = state.tail();
        let mut dropped = 0;
        for slot in &mut state.exporters {
            let unexported = tail - slot.cursor;
            slot.dropped_shutdown += unexported;
            slot.cursor = tail;
            slot.inflight = None;
            dropped += unexported;
            slot.wake.notify_all();
        }
        state.trim();
        self.progress.notify_all();
        let joined = self.join_workers(state, None, deadline);
        // No export attempt can be reported any more (workers stopped, completions refused).
        let listeners = std::mem::take(&mut *self.listeners.write());
        drop(listeners);
        if dropped > 0 {
            log_at!(Level::Warn, "close: {dropped} events were not exported by the deadline (dropped, reason shutdown)");
            return Err(Error::Timeout(format!(
                "the store is closed; {dropped} events were not exported by the deadline and were dropped (reason shutdown): {}",
                flushed.err().map(|e| e.to_string()).unwrap_or_default()
            )));
        }
        joined
    }

    /// Waits for the worker threads (of `only`, or all) to stop, and joins them. A worker still
    /// inside the host's callback at the deadline is detached: it makes no further call and
    /// releases its sink when that callback returns.
    fn join_workers(&self, mut state: MutexGuard<'_, State>, only: Option<u64>, deadline: Instant) -> Result<()> {
        let mine = |w: &Worker| only.is_none_or(|id| w.exporter_id == id);
        loop {
            let busy = state.workers.iter().filter(|w| mine(w) && !w.exited);
            let (mut any, mut outside_callback) = (false, false);
            for w in busy {
                any = true;
                outside_callback |= !w.in_host_code;
            }
            if !any || (!outside_callback && Instant::now() >= deadline) {
                break;
            }
            if outside_callback {
                // Not running host code: it stops within microseconds.
                self.progress.wait_for(&mut state, Duration::from_millis(10));
            } else {
                self.progress.wait_until(&mut state, deadline);
            }
        }
        let mut finished = Vec::new();
        let mut detached = Vec::new();
        state.workers.retain_mut(|w| {
            if !mine(w) {
                return true;
            }
            if w.exited {
                finished.extend(w.handle.take());
            } else {
                detached.push(w.exporter_id);
            }
            false
        });
        drop(state);
        for handle in finished {
            let _ = handle.join();
        }
        if detached.is_empty() {
            return Ok(());
        }
        log_at!(Level::Error, "exporter(s) {detached:?} still inside their callback at the deadline; detached");
        Err(Error::Timeout(format!(
            "exporter(s) {detached:?} were still inside their callback at the deadline; they make no further call and are released when it returns"
        )))
    }
}
