//! Event validation and normalisation.
//!
//! An event is one JSON object. [`normalize`] checks it in a single pass without building a tree
//! (no allocation but the output, no recursion, so a 100,000-deep input cannot overflow the
//! stack), checks the types of the known fields, and returns the bytes the store keeps:
//! the object exactly as given, with `kind` and `creationDate` added in front when absent and
//! line breaks between tokens turned into spaces (so `jsonl` output stays one event per line).

use std::fmt;
use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

/// Deepest nesting accepted. Matches serde_json's recursion limit, so every exporter that
/// re-reads an event (templates, Parquet, the bindings' JSON parsers) can parse what we accept.
pub const MAX_DEPTH: u32 = 128;

/// Why an event was refused. The message names the field or the byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventError(pub String);

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The type a known top-level field must have.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FieldType {
    String,
    Integer,
    Bool,
    Object,
    Any,
}

impl FieldType {
    fn describe(self) -> &'static str {
        match self {
            FieldType::String => "a string",
            FieldType::Integer => "an integer",
            FieldType::Bool => "a boolean",
            FieldType::Object => "an object",
            FieldType::Any => "a value",
        }
    }
}

/// The fields of go-feature-flag's feature and tracking events.
const KNOWN_FIELDS: [(&str, FieldType); 13] = [
    ("kind", FieldType::String),
    ("contextKind", FieldType::String),
    ("userKey", FieldType::String),
    ("creationDate", FieldType::Integer),
    ("key", FieldType::String),
    ("variation", FieldType::String),
    ("value", FieldType::Any),
    ("default", FieldType::Bool),
    ("version", FieldType::String),
    ("source", FieldType::String),
    ("metadata", FieldType::Object),
    ("evaluationContext", FieldType::Object),
    ("trackingEventDetails", FieldType::Object),
];
const KIND: usize = 0;
const CREATION_DATE: usize = 3;

/// Validates `input` as one event and returns the bytes to store.
///
/// `max_bytes` bounds the input length. Errors name the offending field or byte offset.
pub fn normalize(input: &[u8], max_bytes: usize) -> Result<Cow<'_, [u8]>, EventError> {
    if input.len() > max_bytes {
        return Err(EventError(format!(
            "event is {} bytes, larger than max_event_bytes ({})",
            input.len(),
            max_bytes
        )));
    }
    // UTF-8 is checked inside strings only: outside them the grammar allows ASCII alone.
    let scan = Scanner::new(input).scan().map_err(|fail| fail.describe(input))?;
    let body = &input[scan.start..scan.end];
    let needs_kind = scan.seen & (1 << KIND) == 0;
    let needs_date = scan.seen & (1 << CREATION_DATE) == 0;
    if !needs_kind && !needs_date && !scan.has_line_break {
        return Ok(Cow::Borrowed(body));
    }
    let mut out = Vec::with_capacity(body.len() + 48);
    out.push(b'{');
    if needs_kind {
        out.extend_from_slice(br#""kind":"feature""#);
    }
    if needs_date {
        if needs_kind {
            out.push(b',');
        }
        out.extend_from_slice(br#""creationDate":"#);
        out.extend_from_slice(unix_seconds_now().to_string().as_bytes());
    }
    if (needs_kind || needs_date) && !scan.empty_object {
        out.push(b',');
    }
    out.extend_from_slice(&body[1..]);
    if scan.has_line_break {
        for byte in out.iter_mut() {
            // Outside strings only: a raw line break inside a string was refused by the scanner.
            if *byte == b'\n' || *byte == b'\r' {
                *byte = b' ';
            }
        }
    }
    Ok(Cow::Owned(out))
}

/// Seconds since the Unix epoch, 0 if the clock is before it.
pub fn unix_seconds_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

struct ScanResult {
    start: usize,
    end: usize,
    seen: u32,
    empty_object: bool,
    has_line_break: bool,
}

struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
    has_line_break: bool,
}

/// Why the scanner stopped: small and `Copy` so the hot path never builds a message.
#[derive(Clone, Copy, Debug)]
enum Fail {
    Syntax(&'static str, usize),
    Utf8(usize),
    TooDeep(usize),
    FieldType(usize, u8),
    NotInteger(usize, usize),
    Duplicate(usize),
    NotObject,
}

impl Fail {
    fn describe(self, bytes: &[u8]) -> EventError {
        EventError(match self {
            Fail::Syntax(what, at) if at >= bytes.len() => format!("invalid JSON: {what} (at end of input)"),
            Fail::Syntax(what, at) => format!("invalid JSON: {what} at byte {at}"),
            Fail::Utf8(at) => format!("event is not valid UTF-8 (at byte {at})"),
            Fail::TooDeep(at) => format!("event nests deeper than {MAX_DEPTH} levels (at byte {at})"),
            Fail::FieldType(field, first) => {
                let (name, expected) = KNOWN_FIELDS[field];
                format!("field `{name}` must be {}, found {}", expected.describe(), describe_token(first))
            }
            Fail::NotInteger(field, at) => {
                let rest = &bytes[at..];
                let len = rest
                    .iter()
                    .position(|b| !(b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E')))
                    .unwrap_or(rest.len());
                format!(
                    "field `{}` must be an integer (Unix seconds), found {}",
                    KNOWN_FIELDS[field].0,
                    String::from_utf8_lossy(&rest[..len])
                )
            }
            Fail::Duplicate(field) => format!("duplicate field `{}`", KNOWN_FIELDS[field].0),
            Fail::NotObject => "event must be one JSON object (it does not start with '{')".into(),
        })
    }
}

/// What the parser expects next inside a container.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Value,
    ValueOrClose,
    KeyOrClose,
    Key,
    CommaOrClose,
}

impl<'a> Scanner<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Scanner { bytes, pos: 0, has_line_break: false }
    }

    fn error(&self, what: &'static str) -> Fail {
        Fail::Syntax(what, self.pos)
    }

    #[inline(always)]
    fn skip_ws(&mut self) {
        // Compact JSON has no white space: one comparison settles it.
        if self.bytes.get(self.pos).is_some_and(|&b| b > b' ') {
            return;
        }
        while let Some(&b) = self.bytes.get(self.pos) {
            match b {
                b' ' | b'\t' => {}
                b'\n' | b'\r' => self.has_line_break = true,
                _ => return,
            }
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn scan(mut self) -> Result<ScanResult, Fail> {
        self.skip_ws();
        if self.peek() != Some(b'{') {
            return Err(Fail::NotObject);
        }
        let start = self.pos;
        // One bit per open container, 1 for an object: MAX_DEPTH fits in a u128.
        let mut stack: u128 = 1;
        let mut depth: u32 = 1;
        self.pos += 1;
        let mut state = State::KeyOrClose;
        let mut seen: u32 = 0;
        let mut empty_object = false;
        // The known field whose value comes next at the top level, if any.
        let mut pending_field: Option<usize> = None;
        loop {
            self.skip_ws();
            let Some(b) = self.peek() else {
                return Err(self.error("unexpected end of input"));
            };
            let in_object = stack & 1 == 1;
            match state {
                State::KeyOrClose | State::Key => {
                    if b == b'}' && state == State::KeyOrClose {
                        empty_object |= depth == 1;
                        if let Some(done) = self.close(&mut stack, &mut depth, &mut state) {
                            return done.map(|end| ScanResult {
                                start,
                                end,
                                seen,
                                empty_object,
                                has_line_break: self.has_line_break,
                            });
                        }
                        continue;
                    }
                    if b != b'"' {
                        return Err(self.error("expected a string key"));
                    }
                    let key_start = self.pos + 1;
                    let escaped = self.string()?;
                    if depth == 1 {
                        pending_field = known_field(&self.bytes[key_start..self.pos - 1], escaped);
                        if let Some(i) = pending_field {
                            if seen & (1 << i) != 0 {
                                return Err(Fail::Duplicate(i));
                            }
                            seen |= 1 << i;
                        }
                    }
                    self.skip_ws();
                    if self.peek() != Some(b':') {
                        return Err(self.error("expected ':' after a key"));
                    }
                    self.pos += 1;
                    state = State::Value;
                }
                State::ValueOrClose if b == b']' => {
                        // An empty array never closes the top level.
                        self.close(&mut stack, &mut depth, &mut state);
                    }
                    State::Value | State::ValueOrClose => {
                    if let Some(i) = pending_field.take() {
                        self.check_field_type(i, b)?;
                    }
                    match b {
                        b'{' | b'[' => {
                            if depth >= MAX_DEPTH {
                                return Err(Fail::TooDeep(self.pos));
                            }
                            depth += 1;
                            stack = (stack << 1) | u128::from(b == b'{');
                            self.pos += 1;
                            state = if b == b'{' { State::KeyOrClose } else { State::ValueOrClose };
                            continue;
                        }
                        b'"' => {
                            self.string()?;
                        }
                        b't' => self.literal(b"true")?,
                        b'f' => self.literal(b"false")?,
                        b'n' => self.literal(b"null")?,
                        b'-' | b'0'..=b'9' => self.number()?,
                        _ => return Err(self.error("expected a value")),
                    }
                    // Most values are followed by a comma: take it here, saving a round.
                    self.skip_ws();
                    if self.peek() == Some(b',') {
                        self.pos += 1;
                        state = if in_object { State::Key } else { State::Value };
                    } else {
                        state = State::CommaOrClose;
                    }
                }
                State::CommaOrClose => {
                    if b == b',' {
                        self.pos += 1;
                        state = if in_object { State::Key } else { State::Value };
                        continue;
                    }
                    let closer = if in_object { b'}' } else { b']' };
                    if b != closer {
                        return Err(self.error(if in_object {
                            "expected ',' or '}'"
                        } else {
                            "expected ',' or ']'"
                        }));
                    }
                    if let Some(done) = self.close(&mut stack, &mut depth, &mut state) {
                        return done.map(|end| ScanResult {
                            start,
                            end,
                            seen,
                            empty_object,
                            has_line_break: self.has_line_break,
                        });
                    }
                }
            }
        }
    }

    /// Consumes a closing bracket. Returns `Some` when it closed the top-level object: the end
    /// offset, or an error if anything but white space follows.
    fn close(
        &mut self,
        stack: &mut u128,
        depth: &mut u32,
        state: &mut State,
    ) -> Option<Result<usize, Fail>> {
        self.pos += 1;
        *depth -= 1;
        *stack >>= 1;
        *state = State::CommaOrClose;
        if *depth > 0 {
            return None;
        }
        let end = self.pos;
        self.skip_ws();
        if self.pos != self.bytes.len() {
            return Some(Err(self.error("trailing characters after the event object")));
        }
        Some(Ok(end))
    }

    fn check_field_type(&self, field: usize, first: u8) -> Result<(), Fail> {
        let expected = KNOWN_FIELDS[field].1;
        let ok = match expected {
            FieldType::String => first == b'"',
            FieldType::Integer => first == b'-' || first.is_ascii_digit(),
            FieldType::Bool => first == b't' || first == b'f',
            FieldType::Object => first == b'{',
            FieldType::Any => true,
        };
        if !ok {
            return Err(Fail::FieldType(field, first));
        }
        if expected == FieldType::Integer {
            let rest = &self.bytes[self.pos..];
            let sign = usize::from(rest.first() == Some(&b'-'));
            let digits = rest[sign..].iter().take_while(|b| b.is_ascii_digit()).count();
            let after = rest.get(sign + digits).copied();
            // 18 digits always fit an i64.
            if digits == 0 || digits > 18 || matches!(after, Some(b'.' | b'e' | b'E')) {
                return Err(Fail::NotInteger(field, self.pos));
            }
        }
        Ok(())
    }

    /// Consumes a string starting at the opening quote. Returns whether it held an escape.
    #[inline(always)]
    fn string(&mut self) -> Result<bool, Fail> {
        self.pos += 1;
        let start = self.pos;
        let mut escaped = false;
        let mut high_bits = 0u64;
        loop {
            // Eight bytes at a time: the lowest flagged byte of a word is always a real quote,
            // backslash or control byte (false positives can only sit above a real one).
            let b = match self.word_at(self.pos) {
                Some(word) => {
                    let special = has_zero_byte(word ^ (ONES * u64::from(b'"')))
                        | has_zero_byte(word ^ (ONES * u64::from(b'\\')))
                        | has_byte_below(word, 0x20);
                    if special == 0 {
                        high_bits |= word;
                        self.pos += 8;
                        continue;
                    }
                    let skip = special.trailing_zeros() / 8;
                    high_bits |= word & ((1u64 << (skip * 8)) - 1);
                    self.pos += skip as usize;
                    self.bytes[self.pos]
                }
                None => match self.bytes.get(self.pos) {
                    Some(&b) => b,
                    None => return Err(self.error("unterminated string")),
                },
            };
            match b {
                b'"' => {
                    if high_bits & (ONES << 7) != 0 {
                        if let Err(e) = std::str::from_utf8(&self.bytes[start..self.pos]) {
                            return Err(Fail::Utf8(start + e.valid_up_to()));
                        }
                    }
                    self.pos += 1;
                    return Ok(escaped);
                }
                b'\\' => {
                    escaped = true;
                    self.pos += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.pos += 1,
                        Some(b'u') => {
                            let hex = self.bytes.get(self.pos + 1..self.pos + 5);
                            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                                return Err(self.error("invalid \\u escape"));
                            }
                            self.pos += 5;
                        }
                        _ => return Err(self.error("invalid escape in string")),
                    }
                }
                0..=0x1f => return Err(self.error("control character in string")),
                _ => {
                    high_bits |= u64::from(b);
                    self.pos += 1;
                }
            }
        }
    }

    /// The eight bytes at `at`, if the input holds that many.
    #[inline(always)]
    fn word_at(&self, at: usize) -> Option<u64> {
        if at.checked_add(8)? > self.bytes.len() {
            return None;
        }
        // SAFETY: `at + 8 <= len` was checked just above; the read may be unaligned.
        Some(u64::from_le(unsafe { std::ptr::read_unaligned(self.bytes.as_ptr().add(at) as *const u64) }))
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), Fail> {
        if self.bytes.get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.error("invalid literal"))
        }
    }

    fn number(&mut self) -> Result<(), Fail> {
        let digits = |s: &mut Self| {
            let from = s.pos;
            while s.peek().is_some_and(|b| b.is_ascii_digit()) {
                s.pos += 1;
            }
            s.pos - from
        };
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(self.error("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if digits(self) == 0 {
                return Err(self.error("invalid number"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return Err(self.error("invalid number"));
            }
        }
        Ok(())
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;

/// Non-zero when some byte of `word` is zero (the classic SWAR test).
fn has_zero_byte(word: u64) -> u64 {
    word.wrapping_sub(ONES) & !word & (ONES << 7)
}

/// Non-zero when some byte of `word` is below `n` (n <= 128); bytes of 0x80 and above never match.
fn has_byte_below(word: u64, n: u8) -> u64 {
    word.wrapping_sub(ONES * u64::from(n)) & !word & (ONES << 7)
}

fn field_index(name: &[u8]) -> Option<usize> {
    // One jump on the length, then comparisons with fixed-size literals (inlined, no memcmp
    // call): this runs for every top-level key. A test checks it against KNOWN_FIELDS.
    Some(match name.len() {
        3 if name == b"key" => 4,
        4 if name == b"kind" => 0,
        5 if name == b"value" => 6,
        6 if name == b"source" => 9,
        7 if name == b"userKey" => 2,
        7 if name == b"default" => 7,
        7 if name == b"version" => 8,
        8 if name == b"metadata" => 10,
        9 if name == b"variation" => 5,
        11 if name == b"contextKind" => 1,
        12 if name == b"creationDate" => 3,
        17 if name == b"evaluationContext" => 11,
        20 if name == b"trackingEventDetails" => 12,
        _ => return None,
    })
}

fn known_field(raw: &[u8], escaped: bool) -> Option<usize> {
    if escaped {
        let mut quoted = Vec::with_capacity(raw.len() + 2);
        quoted.push(b'"');
        quoted.extend_from_slice(raw);
        quoted.push(b'"');
        let decoded: String = serde_json::from_slice(&quoted).ok()?;
        return field_index(decoded.as_bytes());
    }
    field_index(raw)
}

fn describe_token(first: u8) -> &'static str {
    match first {
        b'"' => "a string",
        b'{' => "an object",
        b'[' => "an array",
        b't' | b'f' => "a boolean",
        b'n' => "null",
        b'-' | b'0'..=b'9' => "a number",
        _ => "an invalid token",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> String {
        String::from_utf8(normalize(s.as_bytes(), 1 << 20).unwrap().to_vec()).unwrap()
    }

    fn err(s: &[u8]) -> String {
        normalize(s, 1 << 20).unwrap_err().0
    }

    #[test]
    fn complete_event_is_kept_byte_for_byte() {
        let e = r#"{"kind":"tracking","creationDate":17, "key" : "k","x":[1,{"y":null}],"value":-1.5e3}"#;
        assert_eq!(ok(e), e);
    }

    #[test]
    fn kind_and_creation_date_are_added_in_front() {
        let out = ok(r#"{"key":"k"}"#);
        assert!(out.starts_with(r#"{"kind":"feature","creationDate":"#), "{out}");
        assert!(out.ends_with(r#","key":"k"}"#), "{out}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert!(v["creationDate"].as_i64().unwrap() > 1_600_000_000);
        assert_eq!(ok(r#"{"creationDate":5}"#), r#"{"kind":"feature","creationDate":5}"#);
        assert!(ok("{ }").starts_with(r#"{"kind":"feature","creationDate":"#));
        assert!(serde_json::from_str::<serde_json::Value>(&ok("{ }")).is_ok());
        assert_eq!(ok(r#"{"kind":"x"}"#).matches("kind").count(), 1);
    }

    #[test]
    fn surrounding_white_space_and_line_breaks_are_removed() {
        assert_eq!(
            ok("  {\"kind\":\"a\",\n\"creationDate\":1}\r\n"),
            "{\"kind\":\"a\", \"creationDate\":1}"
        );
    }

    #[test]
    fn malformed_json_is_refused_with_its_offset() {
        assert_eq!(err(b"[]"), "event must be one JSON object (it does not start with '{')");
        assert_eq!(err(b""), "event must be one JSON object (it does not start with '{')");
        assert_eq!(err(br#"{"a":1} x"#), "invalid JSON: trailing characters after the event object at byte 8");
        assert_eq!(err(br#"{"a":1}{}"#), "invalid JSON: trailing characters after the event object at byte 7");
        assert_eq!(err(br#"{"a":}"#), "invalid JSON: expected a value at byte 5");
        assert_eq!(err(br#"{"a":1,}"#), "invalid JSON: expected a string key at byte 7");
        assert_eq!(err(br#"{"a" 1}"#), "invalid JSON: expected ':' after a key at byte 5");
        assert_eq!(err(br#"{"a":[1,]}"#), "invalid JSON: expected a value at byte 8");
        assert_eq!(err(br#"{"a":[1}"#), "invalid JSON: expected ',' or ']' at byte 7");
        assert_eq!(err(br#"{"a":tru}"#), "invalid JSON: invalid literal at byte 5");
        assert_eq!(err(br#"{"a":01}"#), "invalid JSON: expected ',' or '}' at byte 6");
        assert_eq!(err(br#"{"a":1.}"#), "invalid JSON: invalid number at byte 7");
        assert_eq!(err(br#"{"a":"\x"}"#), "invalid JSON: invalid escape in string at byte 7");
        assert_eq!(err(b"{\"a\":\"\x01\"}"), "invalid JSON: control character in string at byte 6");
        assert_eq!(err(br#"{"a":"x"#), "invalid JSON: unterminated string (at end of input)");
        assert_eq!(err(br#"{"a":1"#), "invalid JSON: unexpected end of input (at end of input)");
        assert_eq!(err(b"{\"a\":\"\xff\"}"), "event is not valid UTF-8 (at byte 6)");
    }

    #[test]
    fn nested_values_and_escapes_are_accepted() {
        let e = r#"{"kind":"k","creationDate":0,"a":[[],{},[{"b":"\u00e9\n\"\\"}]],"c":"é"}"#;
        assert_eq!(ok(e), e);
    }

    #[test]
    fn deep_nesting_is_refused_without_recursion() {
        let mut deep = String::from(r#"{"a":"#);
        deep.push_str(&"[".repeat(100_000));
        deep.push_str(&"]".repeat(100_000));
        deep.push('}');
        assert_eq!(err(deep.as_bytes()), "event nests deeper than 128 levels (at byte 132)");
        let mut fits = String::from(r#"{"a":"#);
        fits.push_str(&"[".repeat(126));
        fits.push_str(&"]".repeat(126));
        fits.push('}');
        ok(&fits);
    }

    #[test]
    fn known_fields_must_have_their_types() {
        assert_eq!(err(br#"{"userKey":5}"#), "field `userKey` must be a string, found a number");
        assert_eq!(err(br#"{"kind":null}"#), "field `kind` must be a string, found null");
        assert_eq!(err(br#"{"creationDate":1.5}"#), "field `creationDate` must be an integer (Unix seconds), found 1.5");
        assert_eq!(err(br#"{"creationDate":"now"}"#), "field `creationDate` must be an integer, found a string");
        assert_eq!(err(br#"{"default":"yes"}"#), "field `default` must be a boolean, found a string");
        assert_eq!(err(br#"{"metadata":[]}"#), "field `metadata` must be an object, found an array");
        assert_eq!(err(br#"{"key":"a","key":"b"}"#), "duplicate field `key`");
        assert_eq!(err(br#"{"\u006bey":1}"#), "field `key` must be a string, found a number");
        // Nested fields with known names are not top-level fields.
        ok(r#"{"metadata":{"userKey":5,"kind":1}}"#);
        ok(r#"{"value":{"a":1},"default":false,"trackingEventDetails":{"total":99.5}}"#);
    }

    #[test]
    fn field_index_agrees_with_the_field_table() {
        for (i, (name, _)) in KNOWN_FIELDS.iter().enumerate() {
            assert_eq!(field_index(name.as_bytes()), Some(i), "{name}");
        }
        assert_eq!(field_index(b"Kind"), None);
    }

    #[test]
    fn non_ascii_text_is_accepted_and_bad_utf8_is_located() {
        let e = r#"{"kind":"k","creationDate":0,"a":"déjà vu, 日本語 ünïcödé text longer than eight bytes","b":"ñ"}"#;
        assert_eq!(ok(e), e);
        assert_eq!(err(b"{\"a\":\"0123456789\xc3\x28\"}"), "event is not valid UTF-8 (at byte 16)");
        assert_eq!(err(b"{\"a\":1}\xff"), "invalid JSON: trailing characters after the event object at byte 7");
        assert_eq!(err(b"{\xff:1}"), "invalid JSON: expected a string key at byte 1");
    }

    #[test]
    fn size_limit_is_checked_first() {
        let e = normalize(br#"{"a":1}"#, 3).unwrap_err();
        assert_eq!(e.0, "event is 7 bytes, larger than max_event_bytes (3)");
    }
}
