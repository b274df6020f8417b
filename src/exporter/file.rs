//! The `"type": "file"` sink: each export writes one complete file in `dir`, named by the
//! `filename` template, holding the batch as JSON lines, CSV or Parquet.
//!
//! Guarantees:
//! - A reader never sees a partial file: the contents go to a hidden temporary file beside the
//!   target (`.<name>.<pid>-<n>.tmp`), are synced, then published under the final name by a
//!   hard link, which never replaces an existing file (a checked rename where the filesystem
//!   has no hard links).
//! - No export overwrites a file, whoever wrote it: a taken name gets a counter before its
//!   extension (`_000001`, `_000002`, ...), so two exports in one second both land, and the
//!   names of one exporter sort in export order.
//! - A failed export leaves no file behind and fails the batch, which the worker retries; a
//!   directory removed since registration is created again.

use super::record::{self, Escape, Record};
use super::template::Template;
use crate::error::{Error, Result};
use parquet::basic::{Compression, GzipLevel, LogicalType, Repetition, Type as PhysicalType, ZstdLevel};
use parquet::column::writer::ColumnWriter;
use parquet::data_type::ByteArray;
use parquet::errors::ParquetError;
use parquet::file::properties::{WriterProperties, WriterPropertiesPtr};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::{Type, TypePtr};
use std::borrow::Cow;
use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// The fields a `filename` template may use.
pub const FILENAME_FIELDS: [&str; 3] = ["Hostname", "Timestamp", "Format"];
const HOSTNAME: usize = 0;
const TIMESTAMP: usize = 1;
const FORMAT: usize = 2;
pub const DEFAULT_FILENAME: &str = "flag-variation-{{ .Hostname}}-{{ .Timestamp}}.{{ .Format}}";
pub const DEFAULT_CSV_TEMPLATE: &str = "{{ .Kind}};{{ .ContextKind}};{{ .UserKey}};{{ .CreationDate}};{{ .Key}};{{ .Variation}};{{ .Value}};{{ .Default}};{{ .Source}}\n";

/// Beyond this many files with one name in one exporter's run, exports fail rather than probe on.
const MAX_COUNTER: u64 = 999_999;

/// What goes into each file.
pub enum FileFormat {
    /// The events as the store holds them, one JSON object per line.
    JsonLines,
    /// One `template` rendering per event (compiled against [`record::TEMPLATE_FIELDS`]).
    Csv { template: Template },
    /// One row per event, one nullable column per known field (strings; `creationDate` INT64,
    /// `default` BOOLEAN; `value`, `metadata`, `evaluationContext`, `trackingEventDetails` as JSON).
    Parquet { compression: ParquetCompression },
}

impl FileFormat {
    /// The `{{ .Format}}` of file names.
    fn name(&self) -> &'static str {
        match self {
            FileFormat::JsonLines => "json",
            FileFormat::Csv { .. } => "csv",
            FileFormat::Parquet { .. } => "parquet",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParquetCompression {
    Snappy,
    Gzip,
    Zstd,
    Uncompressed,
}

impl ParquetCompression {
    fn codec(self) -> Compression {
        match self {
            ParquetCompression::Snappy => Compression::SNAPPY,
            ParquetCompression::Gzip => Compression::GZIP(GzipLevel::default()),
            ParquetCompression::Zstd => Compression::ZSTD(ZstdLevel::default()),
            ParquetCompression::Uncompressed => Compression::UNCOMPRESSED,
        }
    }
}

/// Writes each batch to a file of its own.
pub struct FileSink {
    dir: PathBuf,
    filename: Template,
    hostname: String,
    /// The `{{ .Format}}` of file names.
    format_name: &'static str,
    encoder: Encoder,
    /// The last name published and the counter to try next with it.
    last_name: String,
    next_counter: u64,
}

/// Numbers temporary files across the process, so that sinks sharing a directory never share one.
static TEMP_FILES: AtomicU64 = AtomicU64::new(0);

enum Encoder {
    JsonLines,
    Csv(Template),
    Parquet {
        schema: TypePtr,
        properties: WriterPropertiesPtr,
    },
}

impl FileSink {
    /// Creates `dir` (0755) when missing, checks that a file can be created in it, and checks
    /// that `filename` renders a plain file name. The messages name the key concerned.
    pub fn open(dir: &str, filename: Template, format: FileFormat) -> Result<FileSink> {
        if dir.is_empty() {
            return Err(Error::InvalidArgument("file exporter: `dir` must not be empty".into()));
        }
        let dir = std::path::absolute(dir)
            .map_err(|e| Error::InvalidArgument(format!("file exporter: `dir` {dir:?} is not a usable path: {e}")))?;
        let format_name = format.name();
        let encoder = match format {
            FileFormat::JsonLines => Encoder::JsonLines,
            FileFormat::Csv { template } => Encoder::Csv(template),
            FileFormat::Parquet { compression } => Encoder::Parquet {
                schema: parquet_schema().map_err(|e| Error::InvalidArgument(format!("file exporter: {e}")))?,
                properties: Arc::new(WriterProperties::builder().set_compression(compression.codec()).build()),
            },
        };
        let sink = FileSink {
            dir,
            filename,
            hostname: hostname(),
            format_name,
            encoder,
            last_name: String::new(),
            next_counter: 0,
        };
        let sample = sink.file_name(unix_now());
        if sample.is_empty() || sample == "." || sample == ".." || sample.contains(['/', '\0']) {
            return Err(Error::InvalidArgument(format!(
                "file exporter: `filename` must render a file name without `/`, not {sample:?}"
            )));
        }
        sink.create_dir().map_err(Error::Io)?;
        let probe = sink.temp_path(&sample);
        write_synced(&probe, b"").map_err(|e| {
            Error::Io(format!(
                "file exporter: directory {} is not writable: {e}",
                sink.dir.display()
            ))
        })?;
        let _ = fs::remove_file(&probe);
        Ok(sink)
    }

    fn file_name(&self, timestamp: u64) -> String {
        let mut name = String::new();
        self.filename.render(&mut name, |field, out| match field {
            HOSTNAME => out.push_str(&self.hostname),
            TIMESTAMP => out.push_str(&timestamp.to_string()),
            FORMAT => out.push_str(self.format_name),
            _ => {}
        });
        name
    }

    fn temp_path(&self, name: &str) -> PathBuf {
        let n = TEMP_FILES.fetch_add(1, Ordering::Relaxed);
        self.dir.join(format!(".{name}.{}-{n}.tmp", std::process::id()))
    }

    fn create_dir(&self) -> std::result::Result<(), String> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&self.dir)
            .map_err(|e| format!("file exporter: cannot create directory {}: {e}", self.dir.display()))
    }

    /// The file contents for one batch of `jsonl` lines.
    fn encode<'b>(&self, batch: &'b [u8], event_count: usize) -> std::result::Result<Cow<'b, [u8]>, String> {
        match &self.encoder {
            Encoder::JsonLines => Ok(Cow::Borrowed(batch)),
            Encoder::Csv(template) => {
                let mut out = String::with_capacity(batch.len());
                let mut scratch = String::new();
                for record in record::records(batch, event_count)? {
                    record.render(template, Escape::Csv, &mut out, &mut scratch);
                }
                Ok(Cow::Owned(out.into_bytes()))
            }
            Encoder::Parquet { schema, properties } => {
                let records = record::records(batch, event_count)?;
                encode_parquet(&records, schema, properties)
                    .map(Cow::Owned)
                    .map_err(|e| format!("file exporter: cannot encode Parquet: {e}"))
            }
        }
    }

    /// Writes `contents` to a new file.
    fn publish(&mut self, contents: &[u8]) -> std::result::Result<(), String> {
        self.create_dir()?;
        let name = self.file_name(unix_now());
        let temp = self.temp_path(&name);
        if let Err(e) = write_synced(&temp, contents) {
            let _ = fs::remove_file(&temp);
            return Err(format!("file exporter: cannot write {}: {e}", temp.display()));
        }
        let published = self.link_unused_name(&temp, &name);
        // After a successful link the temporary name is a second link; after a rename, gone.
        let _ = fs::remove_file(&temp);
        published
    }

    /// Links `temp` under `name`, or under `name` with the first free counter.
    fn link_unused_name(&mut self, temp: &Path, name: &str) -> std::result::Result<(), String> {
        let mut counter = if name == self.last_name { self.next_counter } else { 0 };
        loop {
            if counter > MAX_COUNTER {
                return Err(format!(
                    "file exporter: {MAX_COUNTER} files named after {name:?} already exist"
                ));
            }
            let path = self.dir.join(with_counter(name, counter));
            let outcome = match fs::hard_link(temp, &path) {
                Err(e) if e.kind() == ErrorKind::AlreadyExists => None,
                // No hard links on this filesystem: a rename, checked first (it would replace).
                Err(_) if !path.exists() => Some(fs::rename(temp, &path)),
                Err(_) => None,
                Ok(()) => Some(Ok(())),
            };
            match outcome {
                None => counter += 1,
                Some(Ok(())) => {
                    self.last_name = name.to_string();
                    self.next_counter = counter + 1;
                    return Ok(());
                }
                Some(Err(e)) => return Err(format!("file exporter: cannot publish {}: {e}", path.display())),
            }
        }
    }
}

impl super::Sink for FileSink {
    fn export(&mut self, batch: &[u8], event_count: usize) -> std::result::Result<(), String> {
        let contents = self.encode(batch, event_count)?;
        self.publish(&contents)
    }
}

/// `name` with `_NNNNNN` before its extension (nothing for counter 0).
fn with_counter(name: &str, counter: u64) -> String {
    if counter == 0 {
        return name.to_string();
    }
    match name.rfind('.').filter(|&dot| dot > 0) {
        Some(dot) => format!("{}_{counter:06}{}", &name[..dot], &name[dot..]),
        None => format!("{name}_{counter:06}"),
    }
}

fn write_synced(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).mode(0o644).open(path)?;
    file.write_all(contents)?;
    file.sync_data()
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// This machine's name, made safe for a file name.
fn hostname() -> String {
    super::hostname().replace('/', "_")
}

/// A Parquet column: which event field, and how it is stored.
#[derive(Debug, Clone, Copy)]
enum Column {
    /// A string field, as its text.
    Text(usize),
    /// Any value, as its JSON text.
    Json(usize),
    Int64(usize),
    Bool(usize),
}

/// One column per known field, in the order of [`record::FIELDS`], every one nullable.
const PARQUET_COLUMNS: [Column; 13] = [
    Column::Text(0),
    Column::Text(1),
    Column::Text(2),
    Column::Int64(3),
    Column::Text(4),
    Column::Text(5),
    Column::Json(6),
    Column::Bool(7),
    Column::Text(8),
    Column::Text(9),
    Column::Json(10),
    Column::Json(11),
    Column::Json(12),
];

fn parquet_schema() -> parquet::errors::Result<TypePtr> {
    let fields = PARQUET_COLUMNS
        .iter()
        .map(|column| {
            let (index, physical, logical) = match *column {
                Column::Text(i) | Column::Json(i) => (i, PhysicalType::BYTE_ARRAY, Some(LogicalType::String)),
                Column::Int64(i) => (i, PhysicalType::INT64, None),
                Column::Bool(i) => (i, PhysicalType::BOOLEAN, None),
            };
            Type::primitive_type_builder(record::FIELDS[index].0, physical)
                .with_repetition(Repetition::OPTIONAL)
                .with_logical_type(logical)
                .build()
                .map(Arc::new)
        })
        .collect::<parquet::errors::Result<Vec<_>>>()?;
    Ok(Arc::new(Type::group_type_builder("event").with_fields(fields).build()?))
}

/// One Parquet file with one row group holding `records`.
fn encode_parquet(
    records: &[Record<'_>],
    schema: &TypePtr,
    properties: &WriterPropertiesPtr,
) -> parquet::errors::Result<Vec<u8>> {
    let mut writer = SerializedFileWriter::new(Vec::new(), schema.clone(), properties.clone())?;
    let mut group = writer.next_row_group()?;
    let mut levels = Vec::with_capacity(records.len());
    for column in PARQUET_COLUMNS {
        let Some(mut column_writer) = group.next_column()? else {
            return Err(ParquetError::General(
                "the schema has fewer columns than the layout".into(),
            ));
        };
        levels.clear();
        match (column, column_writer.untyped()) {
            (Column::Text(i), ColumnWriter::ByteArrayColumnWriter(w)) => {
                let values = present(records, &mut levels, |r| {
                    r.text(i).map(|text| match text {
                        Cow::Borrowed(s) => ByteArray::from(s),
                        Cow::Owned(s) => ByteArray::from(s.into_bytes()),
                    })
                });
                w.write_batch(&values, Some(&levels), None)?;
            }
            (Column::Json(i), ColumnWriter::ByteArrayColumnWriter(w)) => {
                let values = present(records, &mut levels, |r| r.json(i).map(ByteArray::from));
                w.write_batch(&values, Some(&levels), None)?;
            }
            (Column::Int64(i), ColumnWriter::Int64ColumnWriter(w)) => {
                let values = present(records, &mut levels, |r| r.integer(i));
                w.write_batch(&values, Some(&levels), None)?;
            }
            (Column::Bool(i), ColumnWriter::BoolColumnWriter(w)) => {
                let values = present(records, &mut levels, |r| r.boolean(i));
                w.write_batch(&values, Some(&levels), None)?;
            }
            (column, _) => {
                return Err(ParquetError::General(format!(
                    "column {column:?} does not match the schema"
                )))
            }
        }
        column_writer.close()?;
    }
    group.close()?;
    writer.into_inner()
}

/// The present values of one column, with their definition levels (1 present, 0 null).
fn present<T>(records: &[Record<'_>], levels: &mut Vec<i16>, value: impl Fn(&Record<'_>) -> Option<T>) -> Vec<T> {
    let mut values = Vec::with_capacity(records.len());
    for record in records {
        match value(record) {
            Some(v) => {
                values.push(v);
                levels.push(1);
            }
            None => levels.push(0),
        }
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exporter::Sink;
    use std::os::unix::fs::PermissionsExt;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sluice-file-unit-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn sink(dir: &Path, filename: &str, format: FileFormat) -> Result<FileSink> {
        let filename =
            Template::parse(filename, &FILENAME_FIELDS).map_err(|e| Error::InvalidArgument(e.to_string()))?;
        FileSink::open(dir.to_str().unwrap(), filename, format)
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn counter_goes_before_the_extension() {
        assert_eq!(with_counter("a-1.json", 0), "a-1.json");
        assert_eq!(with_counter("a-1.json", 1), "a-1_000001.json");
        assert_eq!(with_counter("a.b.csv", 12), "a.b_000012.csv");
        assert_eq!(with_counter("events", 2), "events_000002");
        assert_eq!(with_counter(".hidden", 3), ".hidden_000003");
    }

    #[test]
    fn same_name_exports_get_counters_and_sort_in_export_order() {
        let dir = temp_dir("counter");
        let mut sink = sink(&dir, "events.{{ .Format}}", FileFormat::JsonLines).unwrap();
        assert_eq!(fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o755);
        for i in 0..3 {
            sink.export(format!("{{\"n\":{i}}}\n").as_bytes(), 1).unwrap();
        }
        // Another writer took the next name: it is skipped, not replaced.
        fs::write(dir.join("events_000003.json"), "theirs").unwrap();
        sink.export(b"{\"n\":3}\n", 1).unwrap();
        assert_eq!(
            files(&dir),
            [
                "events.json",
                "events_000001.json",
                "events_000002.json",
                "events_000003.json",
                "events_000004.json"
            ]
        );
        assert_eq!(fs::read_to_string(dir.join("events_000003.json")).unwrap(), "theirs");
        assert_eq!(
            fs::read_to_string(dir.join("events_000004.json")).unwrap(),
            "{\"n\":3}\n"
        );
        // A new sink (a restart) probes from the plain name again and skips every taken one.
        let mut again = self::sink(&dir, "events.{{ .Format}}", FileFormat::JsonLines).unwrap();
        again.export(b"{\"n\":4}\n", 1).unwrap();
        assert_eq!(
            fs::read_to_string(dir.join("events_000005.json")).unwrap(),
            "{\"n\":4}\n"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn two_sinks_writing_the_same_names_at_once_both_succeed() {
        let dir = temp_dir("two-sinks");
        let sinks = [(); 2].map(|_| sink(&dir, "shared.{{ .Format}}", FileFormat::JsonLines).unwrap());
        std::thread::scope(|scope| {
            for (n, mut sink) in sinks.into_iter().enumerate() {
                scope.spawn(move || {
                    for i in 0..200 {
                        sink.export(format!("{{\"sink\":{n},\"i\":{i}}}\n").as_bytes(), 1)
                            .unwrap();
                    }
                });
            }
        });
        let names = files(&dir);
        assert_eq!(names.len(), 400);
        let mut lines: Vec<String> = names.iter().map(|n| fs::read_to_string(dir.join(n)).unwrap()).collect();
        lines.sort();
        lines.dedup();
        assert_eq!(lines.len(), 400, "every export kept its own file");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn default_name_holds_host_timestamp_and_format() {
        let dir = temp_dir("default-name");
        let filename = Template::parse(DEFAULT_FILENAME, &FILENAME_FIELDS).unwrap();
        let sink = FileSink::open(dir.to_str().unwrap(), filename, FileFormat::JsonLines).unwrap();
        assert_eq!(
            sink.file_name(1_700_000_000),
            format!("flag-variation-{}-1700000000.json", hostname())
        );
        assert!(!hostname().is_empty() && !hostname().contains('/'));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_export_leaves_no_file_and_the_directory_comes_back() {
        let dir = temp_dir("fault");
        let mut sink = sink(&dir, "e.{{ .Format}}", FileFormat::JsonLines).unwrap();
        fs::remove_dir_all(&dir).unwrap();
        fs::write(&dir, "a regular file where the directory was").unwrap();
        let error = sink.export(b"{}\n", 1).unwrap_err();
        assert!(error.starts_with("file exporter: cannot create directory"), "{error}");
        fs::remove_file(&dir).unwrap();
        sink.export(b"{}\n", 1).unwrap();
        assert_eq!(files(&dir), ["e.json"], "no temporary file is left behind");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn registration_refuses_bad_directories_and_names() {
        let file = temp_dir("not-a-dir");
        fs::write(&file, "x").unwrap();
        let under_file = file.join("sub");
        let error = sink(&under_file, DEFAULT_FILENAME, FileFormat::JsonLines)
            .err()
            .unwrap();
        assert!(
            matches!(&error, Error::Io(m) if m.starts_with("file exporter: cannot create directory")),
            "{error:?}"
        );
        let error = sink(&std::env::temp_dir(), "a/{{ .Timestamp}}", FileFormat::JsonLines)
            .err()
            .unwrap();
        assert!(
            error
                .to_string()
                .starts_with("file exporter: `filename` must render a file name without `/`, not \"a/"),
            "{error}"
        );
        let error = sink(&std::env::temp_dir(), "", FileFormat::JsonLines).err().unwrap();
        assert_eq!(
            error.to_string(),
            "file exporter: `filename` must render a file name without `/`, not \"\""
        );
        fs::remove_file(&file).unwrap();
    }

    #[test]
    fn csv_rows_come_from_the_template() {
        let dir = temp_dir("csv");
        let template = Template::parse(DEFAULT_CSV_TEMPLATE, &record::TEMPLATE_FIELDS).unwrap();
        let mut sink = sink(&dir, "e.{{ .Format}}", FileFormat::Csv { template }).unwrap();
        let batch = concat!(
            r#"{"kind":"feature","creationDate":7,"contextKind":"user","userKey":"u;1","key":"f","variation":"v","value":"a\"b","default":false,"source":"SERVER"}"#,
            "\n",
            r#"{"kind":"tracking","creationDate":8,"userKey":"u2","key":"t","trackingEventDetails":{"x":1}}"#,
            "\n"
        );
        sink.export(batch.as_bytes(), 2).unwrap();
        assert_eq!(
            fs::read_to_string(dir.join("e.csv")).unwrap(),
            "feature;user;\"u;1\";7;f;v;\"a\"\"b\";false;SERVER\ntracking;;u2;8;t;;;;\n"
        );
        assert!(
            sink.export(batch.as_bytes(), 3).unwrap_err().contains("3 events"),
            "the count is checked"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn parquet_files_hold_one_row_group_in_the_chosen_codec() {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let dir = temp_dir("parquet");
        let codecs = [
            (ParquetCompression::Snappy, "SNAPPY"),
            (ParquetCompression::Gzip, "GZIP"),
            (ParquetCompression::Zstd, "ZSTD"),
            (ParquetCompression::Uncompressed, "UNCOMPRESSED"),
        ];
        for (compression, name) in codecs {
            let _ = fs::remove_dir_all(&dir);
            let mut sink = sink(&dir, "e.{{ .Format}}", FileFormat::Parquet { compression }).unwrap();
            let batch = b"{\"kind\":\"feature\",\"creationDate\":1,\"value\":{\"a\":[1]}}\n{\"kind\":\"tracking\",\"creationDate\":2}\n";
            sink.export(batch, 2).unwrap();
            assert_eq!(files(&dir), ["e.parquet"]);
            let reader = SerializedFileReader::try_from(fs::File::open(dir.join("e.parquet")).unwrap()).unwrap();
            let metadata = reader.metadata();
            assert_eq!((metadata.num_row_groups(), metadata.file_metadata().num_rows()), (1, 2));
            let group = metadata.row_group(0);
            assert_eq!(group.num_columns(), 13);
            assert!(
                (0..13).all(|c| group.column(c).compression().to_string().starts_with(name)),
                "{name}"
            );
        }
        fs::remove_dir_all(&dir).unwrap();
    }
}
