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

static LOGGER: RwLock<Option<Logger>> = RwLock::new(None);

/// Installs `sink` for every store of the process (replacing any earlier one), or removes it.
pub fn set_sink(sink: Option<LogSink>, max_level: Level) {
    *LOGGER.write() = sink.map(|sink| Logger { sink, max_level });
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
    let sink = match LOGGER.read().as_ref() {
        Some(logger) if level <= logger.max_level => Some(logger.sink.clone()),
        Some(_) => return,
        None => None,
    };
    match sink {
        Some(sink) => sink(level, message),
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
