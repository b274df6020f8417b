//! The `"type": "webhook"` sink: each batch is POSTed as one JSON document,
//! `{"meta":{"hostname":"<host>",...meta},"events":[<event>,...]}`.
//!
//! Guarantees:
//! - The events go into the body byte for byte as the store keeps them (never re-serialised).
//! - With a `secret`, `X-Hub-Signature-256: sha256=<hex>` is the HMAC-SHA256 of the body bytes
//!   exactly as sent: after compression when `gzip` is on, so a receiver checks the raw
//!   request body before it inflates it.
//! - No request lasts longer than `timeout_ms`, connection, TLS, upload and response included.
//! - Any 2xx is success. Any other status, a connection error or a timeout fails the export; the
//!   core retries the batch after backoff, and not before a `Retry-After` (in seconds) says.
//!   Redirects are not followed (a signed body goes only where `url` says).
//! - With `max_body_bytes`, a batch is sent as several POSTs, in order, none of whose JSON
//!   document (before compression) exceeds it. The batch is exported only when every POST
//!   succeeded; otherwise the whole batch is offered again, so the events of the POSTs that did
//!   succeed arrive again: delivery is at least once, and a receiver that must not count twice
//!   deduplicates. An event that cannot fit on its own fails the export without sending anything.

use crate::error::{Error, Result};
use flate2::write::GzEncoder;
use flate2::Compression;
use ring::hmac;
use serde_json::{Map, Value};
use std::io::{Read, Write};
use std::ops::Range;
use std::time::Duration;
use ureq::http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use ureq::http::{HeaderName, HeaderValue, Uri};
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The signature header (GitHub's spelling).
const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// Headers the sink sets itself, which `headers` may not replace.
const RESERVED_HEADERS: [&str; 6] =
    ["content-type", "content-encoding", "content-length", "transfer-encoding", "host", SIGNATURE_HEADER];

/// A longer `Retry-After` is shortened to this, so that one answer cannot park an exporter for days.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// How much of a failed response's body goes into the error message.
const ERROR_BODY_START: usize = 256;

/// A 2xx response's body is read (so that the connection can serve the next POST) up to this.
const DRAIN_LIMIT: u64 = 64 << 10;

const EVENTS_END: &[u8] = b"]}";

/// The webhook's settings, as the exporter config gives them.
#[derive(Debug, Clone, Default)]
pub struct WebhookConfig {
    pub url: String,
    /// Merged over `{"hostname": <this machine>}`.
    pub meta: Map<String, Value>,
    pub headers: Vec<(String, String)>,
    pub secret: Option<String>,
    pub timeout: Option<Duration>,
    pub gzip: bool,
    /// A PEM file of extra root certificates for https, trusted beside Mozilla's roots.
    pub ca_file: Option<String>,
    pub max_body_bytes: Option<usize>,
}

pub struct WebhookSink {
    agent: ureq::Agent,
    url: Uri,
    /// The URL as messages show it, without any user name or password.
    shown_url: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    secret: Option<hmac::Key>,
    gzip: bool,
    timeout: Duration,
    max_body_bytes: usize,
    /// `{"meta":{...},"events":[`, the same for every POST.
    envelope_start: Vec<u8>,
    body: Vec<u8>,
    compressed: Vec<u8>,
    /// What the last failed response's `Retry-After` asked for.
    retry_after: Option<Duration>,
}

impl WebhookSink {
    /// Checks every setting and reads `ca_file`. The messages name the key concerned:
    /// `InvalidArgument` for a bad value, `Io` for a `ca_file` that cannot be read.
    pub fn new(config: WebhookConfig) -> Result<WebhookSink> {
        let invalid = |message: String| Error::InvalidArgument(format!("webhook exporter: {message}"));
        let url: Uri = config
            .url
            .parse()
            .map_err(|e| invalid(format!("`url` {:?} is not a valid URL: {e}", config.url)))?;
        let https = match url.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(invalid(format!("`url` must start with http:// or https://, not {:?}", config.url))),
        };
        if url.host().is_none_or(str::is_empty) {
            return Err(invalid(format!("`url` {:?} has no host", config.url)));
        }
        let headers = config
            .headers
            .iter()
            .map(|(name, value)| {
                let header = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| invalid(format!("`headers`: {name:?} is not a valid header name")))?;
                if RESERVED_HEADERS.contains(&header.as_str()) {
                    return Err(invalid(format!("`headers`: {name:?} is set by the exporter itself")));
                }
                let value = HeaderValue::from_str(value)
                    .map_err(|_| invalid(format!("`headers`: the value of {name:?} is not a valid header value")))?;
                Ok((header, value))
            })
            .collect::<Result<Vec<_>>>()?;
        let secret = match config.secret.as_deref() {
            Some("") => return Err(invalid("`secret` must not be empty".into())),
            Some(secret) => Some(hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes())),
            None => None,
        };
        let timeout = config.timeout.unwrap_or(DEFAULT_TIMEOUT);
        if timeout.is_zero() {
            return Err(invalid("`timeout_ms` must be at least 1".into()));
        }
        let tls = match &config.ca_file {
            Some(_) if !https => return Err(invalid("`ca_file` applies only to an https `url`".into())),
            Some(path) => TlsConfig::builder().root_certs(roots_with(read_ca_file(path)?)).build(),
            None => TlsConfig::default(),
        };
        let mut meta = Map::new();
        meta.insert("hostname".into(), Value::String(super::hostname()));
        meta.extend(config.meta);
        let mut envelope_start = b"{\"meta\":".to_vec();
        serde_json::to_writer(&mut envelope_start, &meta).map_err(|e| invalid(format!("`meta`: {e}")))?;
        envelope_start.extend_from_slice(b",\"events\":[");
        let max_body_bytes = config.max_body_bytes.unwrap_or(usize::MAX);
        // The smallest event, `{}`, must fit.
        let smallest = envelope_start.len() + 2 + EVENTS_END.len();
        if max_body_bytes < smallest {
            return Err(invalid(format!(
                "`max_body_bytes` ({max_body_bytes}) is smaller than the smallest body ({smallest} bytes with this `meta`)"
            )));
        }
        let agent_config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("sluice/", env!("CARGO_PKG_VERSION")))
            .timeout_global(Some(timeout))
            .timeout_connect(Some(timeout))
            .timeout_per_read(Some(timeout))
            .timeout_per_write(Some(timeout))
            .tls_config(tls)
            .build();
        Ok(WebhookSink {
            agent: agent_config.into(),
            shown_url: shown_url(&url),
            url,
            headers,
            secret,
            gzip: config.gzip,
            timeout,
            max_body_bytes,
            envelope_start,
            body: Vec::new(),
            compressed: Vec::new(),
            retry_after: None,
        })
    }

    /// Splits `events` into runs whose bodies fit `max_body_bytes`.
    fn parts(&self, events: &[&[u8]]) -> std::result::Result<Vec<Range<usize>>, String> {
        let envelope = self.envelope_start.len() + EVENTS_END.len();
        let mut parts = Vec::new();
        let (mut start, mut size) = (0, envelope);
        for (i, event) in events.iter().enumerate() {
            if envelope + event.len() > self.max_body_bytes {
                return Err(format!(
                    "webhook exporter: event {} of the batch is {} bytes, and with the envelope ({envelope} bytes) exceeds `max_body_bytes` ({}); nothing was sent, and the batch fails until `max_body_bytes` grows or the event is dropped",
                    i + 1,
                    event.len(),
                    self.max_body_bytes
                ));
            }
            let comma = usize::from(i > start);
            if size + comma + event.len() > self.max_body_bytes {
                parts.push(start..i);
                (start, size) = (i, envelope + event.len());
            } else {
                size += comma + event.len();
            }
        }
        parts.push(start..events.len());
        Ok(parts)
    }

    /// POSTs one body; `Err` describes the failure.
    fn post(&mut self, events: &[&[u8]]) -> std::result::Result<(), String> {
        self.body.clear();
        self.body.extend_from_slice(&self.envelope_start);
        for (i, event) in events.iter().enumerate() {
            if i > 0 {
                self.body.push(b',');
            }
            self.body.extend_from_slice(event);
        }
        self.body.extend_from_slice(EVENTS_END);
        let wire = if self.gzip {
            self.compressed.clear();
            // Level 1: JSON events still shrink several times over, and the exporter delivers
            // about 2.4 times as many events/s as at the default level 6 (benches/webhook.rs).
            let mut encoder = GzEncoder::new(std::mem::take(&mut self.compressed), Compression::fast());
            self.compressed = encoder
                .write_all(&self.body)
                .and_then(|()| encoder.finish())
                .map_err(|e| format!("webhook exporter: gzip failed: {e}"))?;
            &self.compressed
        } else {
            &self.body
        };
        let mut request = self.agent.post(self.url.clone()).header(CONTENT_TYPE, "application/json");
        if self.gzip {
            request = request.header(CONTENT_ENCODING, "gzip");
        }
        if let Some(key) = &self.secret {
            request = request.header(SIGNATURE_HEADER, signature(key, wire));
        }
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let url = &self.shown_url;
        let mut response = match request.send(&wire[..]) {
            Ok(response) => response,
            Err(ureq::Error::Timeout(phase)) => {
                return Err(format!(
                    "webhook exporter: POST {url} timed out after {} ms ({phase})",
                    self.timeout.as_millis()
                ))
            }
            Err(e) => return Err(format!("webhook exporter: POST {url} failed: {e}")),
        };
        let status = response.status();
        if status.is_success() {
            // Read so that the connection serves the next POST; the answer itself does not matter.
            let _ = std::io::copy(&mut response.body_mut().as_reader().take(DRAIN_LIMIT), &mut std::io::sink());
            return Ok(());
        }
        self.retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|seconds| Duration::from_secs(seconds).min(MAX_RETRY_AFTER));
        let mut start = Vec::new();
        let _ = response.body_mut().as_reader().take(ERROR_BODY_START as u64).read_to_end(&mut start);
        let start = String::from_utf8_lossy(&start).replace(|c: char| c.is_control(), " ");
        Err(format!(
            "webhook exporter: POST {url} answered {} {}: {:?}",
            status.as_u16(),
            status.canonical_reason().unwrap_or(""),
            start.trim()
        ))
    }
}

impl super::Sink for WebhookSink {
    fn export(&mut self, batch: &[u8], event_count: usize) -> std::result::Result<(), String> {
        self.retry_after = None;
        let events: Vec<&[u8]> = batch.split(|&b| b == b'\n').filter(|line| !line.is_empty()).collect();
        if events.len() != event_count {
            return Err(format!("webhook exporter: the batch holds {} lines for {event_count} events", events.len()));
        }
        let parts = self.parts(&events)?;
        let count = parts.len();
        for (n, part) in parts.into_iter().enumerate() {
            let (first, end) = (part.start + 1, part.end);
            self.post(&events[part]).map_err(|e| {
                if count == 1 {
                    e
                } else {
                    format!("{e} (POST {} of {count}, events {first} to {end}; the whole batch is sent again)", n + 1)
                }
            })?;
        }
        Ok(())
    }

    fn retry_after(&mut self) -> Option<Duration> {
        self.retry_after.take()
    }
}

/// `sha256=` and the lowercase hex HMAC-SHA256 of `body`.
fn signature(key: &hmac::Key, body: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let tag = hmac::sign(key, body);
    let mut text = String::with_capacity(7 + 64);
    text.push_str("sha256=");
    for byte in tag.as_ref() {
        text.push(char::from(HEX[usize::from(byte >> 4)]));
        text.push(char::from(HEX[usize::from(byte & 15)]));
    }
    text
}

/// `url` without its user info (`user:password@`).
fn shown_url(url: &Uri) -> String {
    let text = url.to_string();
    match url.authority() {
        Some(authority) if authority.as_str().contains('@') => {
            let host = authority.as_str().rsplit('@').next().unwrap_or("");
            text.replacen(authority.as_str(), host, 1)
        }
        _ => text,
    }
}

/// The certificates of a PEM file; each must be usable as a root.
fn read_ca_file(path: &str) -> Result<Vec<Certificate<'static>>> {
    let pem = std::fs::read(path)
        .map_err(|e| Error::Io(format!("webhook exporter: `ca_file` {path:?} cannot be read: {e}")))?;
    let invalid = |message: String| Error::InvalidArgument(format!("webhook exporter: `ca_file` {path:?} {message}"));
    let mut certificates = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(PemItem::Certificate(certificate)) => certificates.push(certificate),
            Ok(_) => {}
            Err(e) => return Err(invalid(format!("is not valid PEM: {e}"))),
        }
    }
    if certificates.is_empty() {
        return Err(invalid("holds no certificate (-----BEGIN CERTIFICATE-----)".into()));
    }
    let mut check = rustls::RootCertStore::empty();
    for (i, certificate) in certificates.iter().enumerate() {
        check
            .add(rustls::pki_types::CertificateDer::from(certificate.der()))
            .map_err(|e| invalid(format!("holds a certificate ({} of the file) that is not usable as a root: {e}", i + 1)))?;
    }
    Ok(certificates)
}

/// Mozilla's roots and `extra`: `ca_file` adds to the usual roots rather than replacing them.
fn roots_with(extra: Vec<Certificate<'static>>) -> RootCerts {
    let mozilla = webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().map(|der| Certificate::from_der(der.as_ref()));
    RootCerts::from(mozilla.chain(extra))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink(max_body_bytes: Option<usize>) -> WebhookSink {
        let config = WebhookConfig {
            url: "http://user:pw@127.0.0.1:9/hook?x=1".into(),
            meta: Map::from_iter([("hostname".to_string(), Value::from("h"))]),
            max_body_bytes,
            ..WebhookConfig::default()
        };
        WebhookSink::new(config).unwrap()
    }

    #[test]
    fn batches_split_greedily_in_order_under_the_limit() {
        // The envelope, `{"meta":{"hostname":"h"},"events":[` and `]}`, is 37 bytes: room for 8
        // more, so `{"a":1}` alone, or `{},{},{}`.
        let s = sink(Some(37 + 8));
        assert_eq!(s.envelope_start, br#"{"meta":{"hostname":"h"},"events":["#);
        let events: Vec<&[u8]> = vec![b"{}", b"{}", b"{\"a\":1}", b"{}", b"{}", b"{}", b"{}"];
        assert_eq!(s.parts(&events).unwrap(), vec![0..2, 2..3, 3..6, 6..7]);
        let too_big: Vec<&[u8]> = vec![b"{}", b"{\"abc\":1}"];
        let e = s.parts(&too_big).unwrap_err();
        assert!(e.starts_with("webhook exporter: event 2 of the batch is 9 bytes"), "{e}");
        assert_eq!(sink(None).parts(&events).unwrap(), vec![0..7]);
    }

    #[test]
    fn messages_hide_the_password_of_the_url() {
        assert_eq!(sink(None).shown_url, "http://127.0.0.1:9/hook?x=1");
    }

    #[test]
    fn the_signature_is_github_s() {
        // GitHub's documented example: secret "It's a Secret to Everybody", payload "Hello, World!".
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"It's a Secret to Everybody");
        assert_eq!(
            signature(&key, b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }
}
