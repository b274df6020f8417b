//! Process-wide logging: one optional sink chosen by the host, or standard error when the
//! `SLUICE_LOG` environment variable asks for it. Never called while a store lock is held, so a
//! log sink may call back into the library.

use parking_lot::RwLock;
use std::sync::{Arc, OnceLock};

/// Severity, most severe first; the numbers are those of the C API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
}

impl Level {
    pub fn from_i32(value: i32) -> Option<Level> {
        match value {
            1 => Some(Level::Error),
            2 => Some(Level::Warn),
            3 => Some(Level::Info),
            4 => Some(Level::Debug),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }
}

/// A host-supplied log sink.
pub type LogSink = Arc<dyn Fn(Level, &str) + Send + Sync>;

struct Logger {
    sink: LogSink,
    max_level: Level,
}

/// Each call holds a clone of the `Arc`, so its strong count says how many calls are running.
static LOGGER: RwLock<Option<Arc<Logger>>> = RwLock::new(None);

thread_local! {
    static IN_SINK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Installs `sink` for every store of the process (replacing any earlier one), or removes it.
/// Returns once no call to the previous sink is running on another thread, so its owner may
/// free what it uses (a sink that replaces itself from inside a call is not waited for).
pub fn set_sink(sink: Option<LogSink>, max_level: Level) {
    let previous = std::mem::replace(&mut *LOGGER.write(), sink.map(|sink| Arc::new(Logger { sink, max_level })));
    if let Some(previous) = previous {
        let own_call = usize::from(IN_SINK.with(|c| c.get()));
        while Arc::strong_count(&previous) > 1 + own_call {
            std::thread::sleep(std::time::Duration::from_micros(50));
        }
    }
}

fn env_level() -> Option<Level> {
    static ENV: OnceLock<Option<Level>> = OnceLock::new();
    *ENV.get_or_init(|| {
        let value = std::env::var("SLUICE_LOG").ok()?;
        [Level::Error, Level::Warn, Level::Info, Level::Debug]
            .into_iter()
            .find(|l| l.name().eq_ignore_ascii_case(value.trim()))
    })
}

/// Whether a line at `level` would go anywhere (to skip formatting it when not).
pub fn enabled(level: Level) -> bool {
    if let Some(logger) = LOGGER.read().as_ref() {
        return level <= logger.max_level;
    }
    env_level().is_some_and(|max| level <= max)
}

/// Emits one line.
pub fn log(level: Level, message: &str) {
    let logger = match LOGGER.read().as_ref() {
        Some(logger) if level <= logger.max_level => Some(logger.clone()),
        Some(_) => return,
        None => None,
    };
    match logger {
        Some(logger) => {
            let nested = IN_SINK.with(|c| c.replace(true));
            let call = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (logger.sink)(level, message)));
            IN_SINK.with(|c| c.set(nested));
            drop(logger);
            if call.is_err() {
                eprintln!("sluice: the log callback panicked");
            }
        }
        None => {
            if env_level().is_some_and(|max| level <= max) {
                eprintln!("sluice {}: {}", level.name(), message);
            }
        }
    }
}

macro_rules! log_at {
    ($level:expr, $($arg:tt)*) => {
        if $crate::log::enabled($level) {
            $crate::log::log($level, &format!($($arg)*));
        }
    };
}
pub(crate) use log_at;
