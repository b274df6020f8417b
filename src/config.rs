//! Store configuration and exporter options, read from JSON objects with exact key checking:
//! an unknown key or a value of the wrong type or range is refused with a message naming it.

use crate::error::{Error, Result};
use serde_json::{Map, Value};
use std::time::Duration;

/// What `add` does when the buffer is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Accept the new event; each exporter that still needs the oldest event loses it.
    DropOldest,
    /// Reject the new event with `Error::Full`.
    DropNewest,
    /// Wait up to `block_timeout` for room, then behave as `DropNewest`.
    Block,
}

/// Store limits. Defaults suit a server-side SDK: 100,000 events, 64 MiB, 1 MiB per event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    pub capacity: usize,
    pub max_bytes: usize,
    pub overflow: Overflow,
    pub block_timeout: Duration,
    pub max_event_bytes: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            capacity: 100_000,
            max_bytes: 64 << 20,
            overflow: Overflow::DropOldest,
            block_timeout: Duration::from_millis(100),
            max_event_bytes: 1 << 20,
        }
    }
}

impl StoreConfig {
    /// Reads `{"capacity": .., "max_bytes": .., "overflow": .., "block_timeout_ms": ..,
    /// "max_event_bytes": ..}`; every key is optional and "" means all defaults.
    pub fn from_json(text: &str) -> Result<StoreConfig> {
        let mut options = JsonOptions::parse(text, "store config")?;
        let d = StoreConfig::default();
        let config = StoreConfig {
            capacity: options.integer("capacity", d.capacity as u64, 1, 1 << 32)? as usize,
            max_bytes: options.integer("max_bytes", d.max_bytes as u64, 1, 1 << 40)? as usize,
            overflow: match options.string("overflow")?.as_deref() {
                None | Some("drop_oldest") => Overflow::DropOldest,
                Some("drop_newest") => Overflow::DropNewest,
                Some("block") => Overflow::Block,
                Some(other) => {
                    return Err(Error::InvalidArgument(format!(
                        "store config: `overflow` must be \"drop_oldest\", \"drop_newest\" or \"block\", not {other:?}"
                    )))
                }
            },
            block_timeout: options.millis("block_timeout_ms", d.block_timeout)?,
            max_event_bytes: options.integer("max_event_bytes", d.max_event_bytes as u64, 2, 1 << 31)? as usize,
        };
        options.finish()?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<()> {
        if self.capacity == 0 || self.max_bytes == 0 {
            return Err(Error::InvalidArgument(
                "store config: `capacity` and `max_bytes` must be at least 1".into(),
            ));
        }
        if self.max_event_bytes > self.max_bytes {
            return Err(Error::InvalidArgument(format!(
                "store config: `max_event_bytes` ({}) must not exceed `max_bytes` ({})",
                self.max_event_bytes, self.max_bytes
            )));
        }
        Ok(())
    }
}

/// How a batch is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON array per batch.
    Json,
    /// One object per line, each line ending in `\n`.
    JsonLines,
}

/// The options every exporter shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExporterOptions {
    pub name: String,
    pub format: Format,
    pub max_batch_size: usize,
    pub flush_threshold: usize,
    pub flush_interval: Duration,
    pub bulk: bool,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for ExporterOptions {
    fn default() -> Self {
        ExporterOptions {
            name: String::new(),
            format: Format::Json,
            max_batch_size: 1000,
            flush_threshold: 1000,
            flush_interval: Duration::from_millis(5000),
            bulk: true,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(30_000),
        }
    }
}

impl ExporterOptions {
    /// Reads the common option keys from `options`, leaving other keys for the caller.
    pub fn read(options: &mut JsonOptions) -> Result<ExporterOptions> {
        let d = ExporterOptions::default();
        let max_batch_size = options.integer("max_batch_size", d.max_batch_size as u64, 1, 1 << 24)? as usize;
        let result = ExporterOptions {
            name: options.string("name")?.unwrap_or_default(),
            format: match options.string("format")?.as_deref() {
                None | Some("json") => Format::Json,
                Some("jsonl") => Format::JsonLines,
                Some(other) => {
                    return Err(Error::InvalidArgument(format!(
                        "{}: `format` must be \"json\" or \"jsonl\", not {other:?}",
                        options.what
                    )))
                }
            },
            max_batch_size,
            flush_threshold: options.integer("flush_threshold", max_batch_size as u64, 1, 1 << 32)? as usize,
            flush_interval: options.millis("flush_interval_ms", d.flush_interval)?,
            bulk: options.boolean("bulk", d.bulk)?,
            initial_backoff: options.millis("initial_backoff_ms", d.initial_backoff)?,
            max_backoff: options.millis("max_backoff_ms", d.max_backoff)?,
        };
        if result.initial_backoff > result.max_backoff {
            return Err(Error::InvalidArgument(format!(
                "{}: `initial_backoff_ms` must not exceed `max_backoff_ms`",
                options.what
            )));
        }
        if result.flush_interval.is_zero() {
            return Err(Error::InvalidArgument(format!(
                "{}: `flush_interval_ms` must be at least 1",
                options.what
            )));
        }
        Ok(result)
    }

    /// Reads an options object that holds only the common keys.
    pub fn from_json(text: &str) -> Result<ExporterOptions> {
        let mut options = JsonOptions::parse(text, "exporter options")?;
        let result = ExporterOptions::read(&mut options)?;
        options.finish()?;
        Ok(result)
    }
}

/// A JSON object of options being read key by key; `finish` refuses the keys nobody took.
pub struct JsonOptions {
    map: Map<String, Value>,
    pub what: &'static str,
}

impl JsonOptions {
    /// Parses `text` (empty or white space means `{}`), naming it `what` in messages.
    pub fn parse(text: &str, what: &'static str) -> Result<JsonOptions> {
        if text.trim().is_empty() {
            return Ok(JsonOptions { map: Map::new(), what });
        }
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(JsonOptions { map, what }),
            Ok(_) => Err(Error::InvalidArgument(format!("{what} must be a JSON object"))),
            Err(e) => Err(Error::InvalidArgument(format!("{what} is not valid JSON: {e}"))),
        }
    }

    fn bad(&self, key: &str, expected: &str, found: &Value) -> Error {
        Error::InvalidArgument(format!("{}: `{key}` must be {expected}, not {found}", self.what))
    }

    /// Removes and returns a key's raw value.
    pub fn take(&mut self, key: &str) -> Option<Value> {
        self.map.remove(key)
    }

    pub fn integer(&mut self, key: &str, default: u64, min: u64, max: u64) -> Result<u64> {
        match self.take(key) {
            None => Ok(default),
            Some(v) => match v.as_u64() {
                Some(n) if (min..=max).contains(&n) => Ok(n),
                _ => Err(self.bad(key, &format!("an integer from {min} to {max}"), &v)),
            },
        }
    }

    pub fn millis(&mut self, key: &str, default: Duration) -> Result<Duration> {
        let ms = self.integer(key, default.as_millis() as u64, 0, u32::MAX as u64)?;
        Ok(Duration::from_millis(ms))
    }

    pub fn boolean(&mut self, key: &str, default: bool) -> Result<bool> {
        match self.take(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(b),
            Some(v) => Err(self.bad(key, "true or false", &v)),
        }
    }

    pub fn string(&mut self, key: &str) -> Result<Option<String>> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(self.bad(key, "a string", &v)),
        }
    }

    pub fn object(&mut self, key: &str) -> Result<Option<Map<String, Value>>> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map)),
            Some(v) => Err(self.bad(key, "an object", &v)),
        }
    }

    /// Fails on the first key that no reader took.
    pub fn finish(self) -> Result<()> {
        match self.map.keys().next() {
            None => Ok(()),
            Some(key) => Err(Error::InvalidArgument(format!("{}: unknown key `{key}`", self.what))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_text_gives_defaults() {
        assert_eq!(StoreConfig::from_json("").unwrap(), StoreConfig::default());
        assert_eq!(StoreConfig::from_json(" {} ").unwrap(), StoreConfig::default());
        assert_eq!(ExporterOptions::from_json("").unwrap(), ExporterOptions::default());
    }

    #[test]
    fn every_key_is_read() {
        let c = StoreConfig::from_json(
            r#"{"capacity":10,"max_bytes":1000,"overflow":"block","block_timeout_ms":7,"max_event_bytes":100}"#,
        )
        .unwrap();
        assert_eq!(
            c,
            StoreConfig {
                capacity: 10,
                max_bytes: 1000,
                overflow: Overflow::Block,
                block_timeout: Duration::from_millis(7),
                max_event_bytes: 100
            }
        );
        let o = ExporterOptions::from_json(
            r#"{"name":"n","format":"jsonl","max_batch_size":5,"flush_interval_ms":9,"bulk":false,"initial_backoff_ms":1,"max_backoff_ms":2}"#,
        )
        .unwrap();
        assert_eq!(o.flush_threshold, 5, "the threshold defaults to the batch size");
        assert_eq!((o.format, o.bulk, o.name.as_str()), (Format::JsonLines, false, "n"));
    }

    #[test]
    fn bad_keys_and_values_are_named() {
        let msg = |r: Result<StoreConfig>| r.unwrap_err().to_string();
        assert_eq!(msg(StoreConfig::from_json(r#"{"capacty":1}"#)), "store config: unknown key `capacty`");
        assert_eq!(
            msg(StoreConfig::from_json(r#"{"capacity":"1"}"#)),
            "store config: `capacity` must be an integer from 1 to 4294967296, not \"1\""
        );
        assert_eq!(
            msg(StoreConfig::from_json(r#"{"capacity":0}"#)),
            "store config: `capacity` must be an integer from 1 to 4294967296, not 0"
        );
        assert_eq!(
            msg(StoreConfig::from_json(r#"{"overflow":"drop"}"#)),
            "store config: `overflow` must be \"drop_oldest\", \"drop_newest\" or \"block\", not \"drop\""
        );
        assert_eq!(msg(StoreConfig::from_json("[1]")), "store config must be a JSON object");
        assert!(msg(StoreConfig::from_json("{")).starts_with("store config is not valid JSON"));
        assert_eq!(
            msg(StoreConfig::from_json(r#"{"max_bytes":10,"max_event_bytes":11}"#)),
            "store config: `max_event_bytes` (11) must not exceed `max_bytes` (10)"
        );
        let e = ExporterOptions::from_json(r#"{"format":"xml"}"#).unwrap_err().to_string();
        assert_eq!(e, "exporter options: `format` must be \"json\" or \"jsonl\", not \"xml\"");
        let e = ExporterOptions::from_json(r#"{"bulk":1}"#).unwrap_err().to_string();
        assert_eq!(e, "exporter options: `bulk` must be true or false, not 1");
    }
}
