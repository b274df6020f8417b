//! Built-in exporters, configured by one JSON object: `type` picks the sink (`"file"`, `"log"`,
//! `"webhook"`), the common exporter options drive the same worker as any callback exporter,
//! and the type's own keys configure the sink. Everything is checked at registration: an
//! unknown type or key, a wrong value or a template that does not parse is `InvalidArgument`
//! naming it; a directory that cannot be created or written, or a webhook `ca_file` that cannot
//! be read, is `Io`.
//!
//! The sinks always receive `jsonl` batches: for a file exporter, `format` is the file format.

use super::file::{self, FileFormat, FileSink, ParquetCompression};
use super::logline::{self, LogLineSink, LogTarget};
use super::record;
use super::template::Template;
use super::webhook::{self, WebhookConfig, WebhookSink};
use super::Sink;
use crate::config::{ExporterOptions, Format, JsonOptions};
use crate::error::{Error, Result};
use crate::store::Store;
use serde_json::Value;

/// Adds the built-in exporter that `config_json` describes to `store`; returns its id.
pub fn add_builtin_exporter(store: &Store, config_json: &str) -> Result<u64> {
    let (type_name, (options, sink)) = build_typed(config_json)?;
    store.add_exporter_of_type(type_name, options, sink).map_err(|(error, _sink)| error)
}

/// A built-in exporter ready to add: its options and sink.
pub type Built = (ExporterOptions, Box<dyn Sink>);

/// Reads `config_json` and builds the exporter's options and sink.
pub fn build(config_json: &str) -> Result<Built> {
    build_typed(config_json).map(|(_, built)| built)
}

/// As [`build`], with the exporter's type.
fn build_typed(config_json: &str) -> Result<(&'static str, Built)> {
    let mut config = JsonOptions::parse(config_json, "exporter config")?;
    match config.string("type")?.as_deref() {
        Some("file") => {
            config.what = "file exporter";
            Ok(("file", file_exporter(config)?))
        }
        Some("log") => {
            config.what = "log exporter";
            Ok(("log", log_exporter(config)?))
        }
        Some("webhook") => {
            config.what = "webhook exporter";
            Ok(("webhook", webhook_exporter(config)?))
        }
        Some(other) => Err(Error::InvalidArgument(format!(
            "exporter config: unknown `type` {other:?} (expected \"file\", \"log\" or \"webhook\")"
        ))),
        None => Err(Error::InvalidArgument(
            "exporter config: `type` is required (\"file\", \"log\" or \"webhook\")".into(),
        )),
    }
}

fn file_exporter(mut config: JsonOptions) -> Result<(ExporterOptions, Box<dyn Sink>)> {
    let format = config.string("format")?;
    let dir = config.string("dir")?;
    let filename = config.string("filename")?;
    let csv_template = config.string("csv_template")?;
    let compression = config.string("parquet_compression")?;
    let options = common_options(config, "file", true)?;
    let only_for = |key: &str, format: &str| {
        Error::InvalidArgument(format!("file exporter: `{key}` applies only to `format` \"{format}\""))
    };
    let format = match format.as_deref() {
        None | Some("json") => FileFormat::JsonLines,
        Some("csv") => FileFormat::Csv {
            template: template("file exporter", "csv_template", csv_template.as_deref().unwrap_or(file::DEFAULT_CSV_TEMPLATE), &record::TEMPLATE_FIELDS)?,
        },
        Some("parquet") => FileFormat::Parquet {
            compression: match compression.as_deref() {
                None | Some("snappy") => ParquetCompression::Snappy,
                Some("gzip") => ParquetCompression::Gzip,
                Some("zstd") => ParquetCompression::Zstd,
                Some("uncompressed") => ParquetCompression::Uncompressed,
                Some(other) => {
                    return Err(Error::InvalidArgument(format!(
                        "file exporter: `parquet_compression` must be \"snappy\", \"gzip\", \"zstd\" or \"uncompressed\", not {other:?}"
                    )))
                }
            },
        },
        Some(other) => {
            return Err(Error::InvalidArgument(format!(
                "file exporter: `format` must be \"json\", \"csv\" or \"parquet\", not {other:?}"
            )))
        }
    };
    if csv_template.is_some() && !matches!(format, FileFormat::Csv { .. }) {
        return Err(only_for("csv_template", "csv"));
    }
    if compression.is_some() && !matches!(format, FileFormat::Parquet { .. }) {
        return Err(only_for("parquet_compression", "parquet"));
    }
    let Some(dir) = dir else {
        return Err(Error::InvalidArgument("file exporter: `dir` is required".into()));
    };
    let filename = template(
        "file exporter",
        "filename",
        filename.as_deref().unwrap_or(file::DEFAULT_FILENAME),
        &file::FILENAME_FIELDS,
    )?;
    let sink = FileSink::open(&dir, filename, format)?;
    Ok((options, Box::new(sink)))
}

fn log_exporter(mut config: JsonOptions) -> Result<(ExporterOptions, Box<dyn Sink>)> {
    if config.take("format").is_some() {
        return Err(Error::InvalidArgument(
            "log exporter: unknown key `format` (each line comes from `template`)".into(),
        ));
    }
    let text = config.string("template")?;
    let target = match config.string("target")?.as_deref() {
        None | Some("log") => LogTarget::Callback,
        Some("stderr") => LogTarget::Stderr,
        Some(other) => {
            return Err(Error::InvalidArgument(format!(
                "log exporter: `target` must be \"log\" or \"stderr\", not {other:?}"
            )))
        }
    };
    let options = common_options(config, "log", false)?;
    let template = template(
        "log exporter",
        "template",
        text.as_deref().unwrap_or(logline::DEFAULT_TEMPLATE),
        &record::TEMPLATE_FIELDS,
    )?;
    Ok((options, Box::new(LogLineSink::new(template, target))))
}

fn webhook_exporter(mut config: JsonOptions) -> Result<(ExporterOptions, Box<dyn Sink>)> {
    if config.take("format").is_some() {
        return Err(Error::InvalidArgument(
            "webhook exporter: unknown key `format` (the body is always one JSON document)".into(),
        ));
    }
    let Some(url) = config.string("url")? else {
        return Err(Error::InvalidArgument("webhook exporter: `url` is required".into()));
    };
    let headers = config
        .object("headers")?
        .unwrap_or_default()
        .into_iter()
        .map(|(name, value)| match value {
            Value::String(value) => Ok((name, value)),
            other => Err(Error::InvalidArgument(format!(
                "webhook exporter: `headers`: the value of {name:?} must be a string, not {other}"
            ))),
        })
        .collect::<Result<Vec<_>>>()?;
    let settings = WebhookConfig {
        url,
        meta: config.object("meta")?.unwrap_or_default(),
        headers,
        secret: config.string("secret")?,
        timeout: Some(config.millis("timeout_ms", webhook::DEFAULT_TIMEOUT)?),
        gzip: config.boolean("gzip", false)?,
        ca_file: config.string("ca_file")?,
        // Absent: 1 TiB, which no batch reaches.
        max_body_bytes: Some(config.integer("max_body_bytes", 1 << 40, 1, 1 << 40)? as usize),
    };
    let options = common_options(config, "webhook", true)?;
    Ok((options, Box::new(WebhookSink::new(settings)?)))
}

/// Reads the common options (all but `format`, which the caller took) and refuses any key left.
/// The sink always gets `jsonl` batches; `bulk` defaults to `default_bulk`, the name to `kind`.
fn common_options(mut config: JsonOptions, kind: &str, default_bulk: bool) -> Result<ExporterOptions> {
    let bulk = config.boolean("bulk", default_bulk)?;
    let mut options = ExporterOptions::read(&mut config)?;
    config.finish()?;
    options.bulk = bulk;
    options.format = Format::JsonLines;
    if options.name.is_empty() {
        options.name = kind.to_string();
    }
    Ok(options)
}

fn template(what: &str, key: &str, text: &str, fields: &[&str]) -> Result<Template> {
    Template::parse(text, fields).map_err(|e| Error::InvalidArgument(format!("{what}: `{key}` is refused: {e}")))
}
