//! An event read back from one line of a `jsonl` batch, for the built-in exporters' templates and
//! Parquet columns: the known fields, borrowed from the line as raw JSON (no tree is built and
//! objects keep their text, key order included). Unknown fields are skipped.

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// The known fields: JSON name and Go-template name, in the order of the contract.
pub const FIELDS: [(&str, &str); 13] = [
    ("kind", "Kind"),
    ("contextKind", "ContextKind"),
    ("userKey", "UserKey"),
    ("creationDate", "CreationDate"),
    ("key", "Key"),
    ("variation", "Variation"),
    ("value", "Value"),
    ("default", "Default"),
    ("version", "Version"),
    ("source", "Source"),
    ("metadata", "Metadata"),
    ("evaluationContext", "EvaluationContext"),
    ("trackingEventDetails", "TrackingEventDetails"),
];
pub(crate) const CREATION_DATE: usize = 3;
/// `.FormattedDate`: `creationDate` in RFC 3339, the one template field that is not an event field.
pub(crate) const FORMATTED_DATE: usize = FIELDS.len();

/// The field names an event template may use (`FIELDS` in Go spelling, then `FormattedDate`).
pub const TEMPLATE_FIELDS: [&str; 14] = {
    let mut names = [""; 14];
    let mut i = 0;
    while i < FIELDS.len() {
        names[i] = FIELDS[i].1;
        i += 1;
    }
    names[FORMATTED_DATE] = "FormattedDate";
    names
};

/// How field values are written into a rendered template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    /// A value holding `;`, `,`, a quote or a line break is quoted as a CSV field (RFC 4180).
    Csv,
    /// Line breaks become `\n` and `\r`, so that one event stays one line.
    Line,
}

/// Reads every line of a `jsonl` batch, checking that it holds `event_count` events.
pub fn records(batch: &[u8], event_count: usize) -> Result<Vec<Record<'_>>, String> {
    let records = batch
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(Record::parse)
        .collect::<Result<Vec<_>, _>>()?;
    if records.len() != event_count {
        return Err(format!(
            "the batch holds {} lines for {event_count} events",
            records.len()
        ));
    }
    Ok(records)
}

/// One event's known fields; `None` when absent or `null`.
pub struct Record<'a> {
    fields: [Option<&'a RawValue>; FIELDS.len()],
}

impl<'a> Record<'a> {
    /// Reads one event line.
    pub fn parse(line: &'a [u8]) -> Result<Record<'a>, String> {
        serde_json::from_slice(line).map_err(|e| format!("an event of the batch could not be read back: {e}"))
    }

    /// The raw JSON text of field `index`.
    pub fn json(&self, index: usize) -> Option<&'a str> {
        self.fields[index].map(RawValue::get)
    }

    /// Field `index` as text: a string's contents, any other value's JSON text.
    pub fn text(&self, index: usize) -> Option<Cow<'a, str>> {
        let raw = self.json(index)?;
        match raw.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
            Some(inner) if !inner.contains('\\') => Some(Cow::Borrowed(inner)),
            Some(_) => serde_json::from_str::<String>(raw).ok().map(Cow::Owned),
            None => Some(Cow::Borrowed(raw)),
        }
    }

    pub fn integer(&self, index: usize) -> Option<i64> {
        self.json(index)?.parse().ok()
    }

    pub fn boolean(&self, index: usize) -> Option<bool> {
        self.json(index)?.parse().ok()
    }

    /// Appends template field `index` (see [`TEMPLATE_FIELDS`]); absent fields append nothing.
    pub fn write_field(&self, index: usize, out: &mut String) {
        if index == FORMATTED_DATE {
            if let Some(seconds) = self.integer(CREATION_DATE) {
                push_rfc3339(seconds, out);
            }
        } else if let Some(text) = self.text(index) {
            out.push_str(&text);
        }
    }

    /// Appends the event rendered by `template` (compiled against [`TEMPLATE_FIELDS`]), with
    /// field values escaped by `escape`. `scratch` is a reusable buffer.
    pub fn render(&self, template: &super::template::Template, escape: Escape, out: &mut String, scratch: &mut String) {
        template.render(out, |index, out| {
            scratch.clear();
            self.write_field(index, scratch);
            match escape {
                Escape::Csv => push_csv_field(scratch, out),
                Escape::Line => push_one_line(scratch, out),
            }
        });
    }
}

fn push_csv_field(value: &str, out: &mut String) {
    if !value.contains([';', ',', '"', '\n', '\r']) {
        out.push_str(value);
        return;
    }
    out.push('"');
    for (i, part) in value.split('"').enumerate() {
        if i > 0 {
            out.push_str("\"\"");
        }
        out.push_str(part);
    }
    out.push('"');
}

fn push_one_line(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

/// Appends Unix time `seconds` as RFC 3339 in UTC, e.g. `2023-11-14T22:13:20Z`.
pub fn push_rfc3339(seconds: i64, out: &mut String) {
    use std::fmt::Write;
    let (days, of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    );
}

impl<'de: 'a, 'a> Deserialize<'de> for Record<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(RecordVisitor)
    }
}

struct RecordVisitor;

impl<'de> Visitor<'de> for RecordVisitor {
    type Value = Record<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Record<'de>, M::Error> {
        let mut fields = [None; FIELDS.len()];
        while let Some(FieldKey(index)) = map.next_key()? {
            match index {
                Some(i) => {
                    let raw: &'de RawValue = map.next_value()?;
                    fields[i] = (raw.get() != "null").then_some(raw);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Record { fields })
    }
}

/// A key of the event object: the index of a known field, or `None`. Reads escaped keys too,
/// without allocating for plain ones.
struct FieldKey(Option<usize>);

impl<'de> Deserialize<'de> for FieldKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = FieldKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<FieldKey, E> {
                Ok(FieldKey(FIELDS.iter().position(|(name, _)| *name == key)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exporter::template::Template;

    fn render(template: &str, escape: Escape, line: &str) -> String {
        let template = Template::parse(template, &TEMPLATE_FIELDS).unwrap();
        let (mut out, mut scratch) = (String::new(), String::new());
        Record::parse(line.as_bytes())
            .unwrap()
            .render(&template, escape, &mut out, &mut scratch);
        out
    }

    #[test]
    fn known_fields_are_read_and_unknown_ones_skipped() {
        let line = r#"{"kind":"feature","creationDate":1700000000,"x":{"userKey":"no"},"userKey":"u\"1","value":{"b":[1, 2],"a":null},"default":false,"variation":null}"#;
        let record = Record::parse(line.as_bytes()).unwrap();
        assert_eq!(record.text(0).as_deref(), Some("feature"));
        assert!(matches!(record.text(0), Some(Cow::Borrowed(_))));
        assert_eq!(record.text(2).as_deref(), Some("u\"1"));
        assert_eq!(record.integer(CREATION_DATE), Some(1_700_000_000));
        assert_eq!(record.json(6), Some(r#"{"b":[1, 2],"a":null}"#));
        assert_eq!(record.boolean(7), Some(false));
        assert_eq!(record.json(5), None, "null reads as absent");
        assert_eq!(record.json(4), None);
        assert_eq!(record.json(10), None);
        let escaped_key = Record::parse(br#"{"\u006bey":"k"}"#).unwrap();
        assert_eq!(escaped_key.text(4).as_deref(), Some("k"));
    }

    #[test]
    fn templates_render_strings_raw_and_other_values_as_json() {
        let line = r#"{"kind":"feature","creationDate":0,"userKey":"ü","key":"f","value":[1,"x"],"default":true,"metadata":{"m":1}}"#;
        assert_eq!(
            render(
                "{{.Kind}} {{.UserKey}} {{.Key}} {{.Value}} {{.Default}} {{.Metadata}} {{.CreationDate}} <{{.Source}}>",
                Escape::Line,
                line
            ),
            r#"feature ü f [1,"x"] true {"m":1} 0 <>"#
        );
    }

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        let line =
            r#"{"key":"a;b","userKey":"say \"hi\"","variation":"two\nlines","source":"plain é","value":{"a":1,"b":2}}"#;
        assert_eq!(
            render(
                "{{.Key}};{{.UserKey}};{{.Variation}};{{.Source}};{{.Value}}\n",
                Escape::Csv,
                line
            ),
            "\"a;b\";\"say \"\"hi\"\"\";\"two\nlines\";plain é;\"{\"\"a\"\":1,\"\"b\"\":2}\"\n"
        );
    }

    #[test]
    fn log_lines_escape_line_breaks() {
        let line = r#"{"userKey":"a\nb\r\nc","key":"k"}"#;
        assert_eq!(
            render("user={{.UserKey}} flag={{.Key}}", Escape::Line, line),
            r"user=a\nb\r\nc flag=k"
        );
    }

    #[test]
    fn formatted_date_is_rfc3339_in_utc() {
        let date = |s: i64| {
            let mut out = String::new();
            push_rfc3339(s, &mut out);
            out
        };
        assert_eq!(date(0), "1970-01-01T00:00:00Z");
        assert_eq!(date(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(date(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(date(4_107_542_399), "2100-02-28T23:59:59Z");
        assert_eq!(date(-1), "1969-12-31T23:59:59Z");
        assert_eq!(
            render("{{ .FormattedDate }}", Escape::Line, r#"{"creationDate":86399}"#),
            "1970-01-01T23:59:59Z"
        );
    }
}
