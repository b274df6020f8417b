//! sluice: the event pipeline that feature-flag, experimentation and analytics SDKs embed to
//! record what happened and deliver it, in batches, to wherever it must go.
//!
//! Data flows one way: [`Store::add`] validates an event ([`event`]) and appends it to the
//! shared log ([`store`]); each exporter reads the log at its own offset and hands batches to
//! its sink ([`exporter`]). The C ABI in [`ffi`] is a thin layer over this crate.
//!
//! ```
//! use sluice::{ExporterOptions, Store, StoreConfig};
//! use std::time::Duration;
//!
//! let store = Store::new(StoreConfig::default()).unwrap();
//! let sink = |batch: &[u8], count: usize| -> Result<(), String> {
//!     println!("{count} events: {}", String::from_utf8_lossy(batch));
//!     Ok(())
//! };
//! store.add_exporter(ExporterOptions::default(), Box::new(sink)).unwrap();
//! store.add(br#"{"key":"new-checkout","userKey":"u-42","variation":"on","value":true}"#).unwrap();
//! store.close(Duration::from_secs(5)).unwrap();
//! assert_eq!(store.stats().exporters[0].exported, 1);
//! ```

pub mod config;
pub mod error;
pub mod event;
mod eventlog;
pub mod exporter;
pub mod ffi;
pub mod log;
pub mod store;

pub use config::{ExporterOptions, Format, Overflow, StoreConfig};
pub use error::{Error, Result};
pub use exporter::Sink;
pub use store::{Batch, ExporterStats, Stats, Store};
