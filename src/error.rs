//! The error type of the core. Each variant maps to one status code of the C API.

use std::fmt;

/// What went wrong, with a message that names the key, field or exporter concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Bad configuration or options, a bad value, or a call made in the wrong order or place.
    InvalidArgument(String),
    /// The event is not one JSON object, a known field has the wrong type, or it is too large.
    InvalidEvent(String),
    /// The overflow policy rejected the event; it is counted in `rejected`.
    Full(String),
    /// The store is closed.
    Closed,
    /// The deadline passed before the work was done.
    Timeout(String),
    /// An exporter failed; its events stay pending and are retried.
    Export(String),
    /// Unknown exporter or listener id.
    NotFound(String),
    /// File or network error.
    Io(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidArgument(m)
            | Error::InvalidEvent(m)
            | Error::Full(m)
            | Error::Timeout(m)
            | Error::Export(m)
            | Error::NotFound(m)
            | Error::Io(m) => f.write_str(m),
            Error::Closed => f.write_str("the store is closed"),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;
