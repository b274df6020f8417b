//! The webhook exporter against a real HTTP server on loopback (tests/support/http_server.rs):
//! bodies and signatures, retries in order, Retry-After, timeouts, error messages, https with a
//! `ca_file` root, gzip, `max_body_bytes` splitting, and what dispatch listeners see.

mod support {
    pub mod http_server;
}

use flate2::read::GzDecoder;
use serde_json::{json, Value};
use sluice::exporter::builtin::{add_builtin_exporter, build};
use sluice::store::Dispatch;
use sluice::{Error, ExporterStats, Store, StoreConfig};
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::http_server::{self_signed_tls, Reply, Request, Server};

const LONG: Duration = Duration::from_secs(30);

/// Event `i`, with `kind` and `creationDate` given so that the store keeps it byte for byte.
fn event(i: usize) -> String {
    format!(
        r#"{{"kind":"feature","creationDate":{},"key":"flag-{}","userKey":"user-{i}","value":"été 🚀 \"{i}\"","default":false}}"#,
        1_700_000_000 + i,
        i % 3
    )
}

fn events(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(event).collect()
}

fn store() -> Store {
    Store::new(StoreConfig::default()).unwrap()
}

/// Adds a webhook exporter configured by `config` plus `url`.
fn add_webhook(store: &Store, server: &Server, mut config: Value) -> u64 {
    config["type"] = json!("webhook");
    config["url"] = json!(server.url("/hook"));
    add_builtin_exporter(store, &config.to_string()).unwrap()
}

fn add(store: &Store, events: &[String]) {
    for e in events {
        store.add(e.as_bytes()).unwrap();
    }
}

fn stats(store: &Store) -> ExporterStats {
    store.stats().exporters[0].clone()
}

/// The `userKey` of each event of each request, request by request.
fn users(requests: &[Request]) -> Vec<Vec<String>> {
    requests
        .iter()
        .map(|r| {
            let document: Value = serde_json::from_slice(&r.body).unwrap();
            document["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["userKey"].as_str().unwrap().to_string())
                .collect()
        })
        .collect()
}

fn user_keys(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("user-{i}")).collect()
}

/// The exact body for `events` under `meta` (which must list `hostname` first, then the
/// user's keys in order).
fn body(meta: &Value, events: &[String]) -> Vec<u8> {
    format!(r#"{{"meta":{meta},"events":[{}]}}"#, events.join(",")).into_bytes()
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_string()
}

fn hmac_hex(secret: &str, bytes: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = ring::hmac::sign(&key, bytes);
    tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Polls the first exporter's stats until `done` holds.
fn wait_until(store: &Store, done: impl Fn(&ExporterStats) -> bool) -> ExporterStats {
    let deadline = Instant::now() + LONG;
    loop {
        let s = stats(store);
        if done(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "never reached: {s:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn the_body_holds_meta_and_the_events_byte_for_byte_and_is_signed() {
    let server = Server::start(Vec::new(), Reply::status(204));
    let store = store();
    add_webhook(
        &store,
        &server,
        json!({"secret": "It's a secret", "meta": {"service": "checkout", "region": "eu"},
               "headers": {"Authorization": "Bearer t0k3n", "X-Team": "growth"}, "flush_threshold": 3}),
    );
    let sent = events(0..3);
    add(&store, &sent);
    store.flush(LONG).unwrap();

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/hook"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.header("authorization"), Some("Bearer t0k3n"));
    assert_eq!(r.header("x-team"), Some("growth"));
    assert_eq!(r.header("user-agent"), Some(concat!("sluice/", env!("CARGO_PKG_VERSION"))));
    // serde_json's maps sort their keys: hostname, region, service.
    let meta = json!({"hostname": hostname(), "region": "eu", "service": "checkout"});
    assert_eq!(String::from_utf8(r.body.clone()).unwrap(), String::from_utf8(body(&meta, &sent)).unwrap());
    let expected = format!("sha256={}", hmac_hex("It's a secret", &r.body));
    assert_eq!(r.header("x-hub-signature-256"), Some(expected.as_str()));

    let s = stats(&store);
    assert_eq!((s.exported, s.failed_attempts, s.batches, s.pending), (3, 0, 1, 0));
    store.close(LONG).unwrap();
}

#[test]
fn a_hostname_in_meta_replaces_the_machine_s_and_no_secret_means_no_signature() {
    let server = Server::start(Vec::new(), Reply::status(200));
    let store = store();
    add_webhook(&store, &server, json!({"meta": {"hostname": "pod-7"}, "bulk": false}));
    add(&store, &events(0..1));
    store.flush(LONG).unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].body, body(&json!({"hostname": "pod-7"}), &events(0..1)));
    assert_eq!(requests[0].header("x-hub-signature-256"), None);
    store.close(LONG).unwrap();
}

#[test]
fn server_errors_are_retried_in_order_until_every_event_arrives() {
    let server = Server::start(vec![Reply::status(500), Reply::status(500)], Reply::status(200));
    let store = store();
    add_webhook(&store, &server, json!({"max_batch_size": 5, "initial_backoff_ms": 10}));
    add(&store, &events(0..12));
    store.flush(LONG).unwrap();

    let batches = users(&server.requests());
    assert_eq!(
        batches,
        vec![user_keys(0..5), user_keys(0..5), user_keys(0..5), user_keys(5..10), user_keys(10..12)]
    );
    let s = stats(&store);
    assert_eq!((s.exported, s.failed_attempts, s.batches, s.pending, s.dropped), (12, 2, 3, 0, 0));
    let url = server.url("/hook");
    assert_eq!(s.last_error.as_deref(), Some(format!("webhook exporter: POST {url} answered 500 Internal Server Error: \"\"").as_str()));
    store.close(LONG).unwrap();
}

#[test]
fn retry_after_holds_back_the_next_attempt() {
    let throttled = Reply::status(429).with_header("Retry-After", "1").with_body("slow down");
    let server = Server::start(vec![throttled], Reply::status(200));
    let store = store();
    add_webhook(&store, &server, json!({"bulk": false, "initial_backoff_ms": 10}));
    add(&store, &events(0..1));
    store.flush(LONG).unwrap();

    let requests = server.requests();
    assert_eq!(users(&requests), vec![user_keys(0..1), user_keys(0..1)]);
    let waited = requests[1].at - requests[0].at;
    assert!(waited >= Duration::from_millis(900), "the retry came {waited:?} after the 429, not after Retry-After: 1");
    let s = stats(&store);
    assert_eq!((s.exported, s.failed_attempts), (1, 1));
    let url = server.url("/hook");
    assert_eq!(s.last_error.unwrap(), format!("webhook exporter: POST {url} answered 429 Too Many Requests: \"slow down\""));
    store.close(LONG).unwrap();
}

#[test]
fn a_server_that_never_answers_times_out_and_close_keeps_its_deadline() {
    let server = Server::start(Vec::new(), Reply::Silence);
    let store = store();
    add_webhook(&store, &server, json!({"bulk": false, "timeout_ms": 200, "initial_backoff_ms": 10}));
    add(&store, &events(0..1));
    // Each attempt gives up on its own: without the timeout the first one would hang for ever.
    let s = wait_until(&store, |s| s.failed_attempts >= 2);
    let url = server.url("/hook");
    let message = s.last_error.unwrap();
    assert!(message.starts_with(&format!("webhook exporter: POST {url} timed out after 200 ms")), "{message}");
    assert!(server.count() >= 2);

    let closed = store.close(Duration::from_millis(500));
    assert!(matches!(closed, Err(Error::Timeout(_))), "{closed:?}");
    let s = stats(&store);
    assert_eq!((s.exported, s.dropped_reasons.shutdown, s.pending), (0, 1, 0));
}

#[test]
fn a_client_error_puts_status_url_and_the_start_of_the_body_in_last_error() {
    let long_reason = format!("invalid payload:\nfield `events` {}", "x".repeat(400));
    let server = Server::start(vec![Reply::status(400).with_body(&long_reason)], Reply::status(200));
    let store = store();
    add_webhook(&store, &server, json!({"bulk": false, "initial_backoff_ms": 10}));
    add(&store, &events(0..1));
    store.flush(LONG).unwrap();

    assert_eq!(server.requests().len(), 2, "a 400 is retried like any failure");
    let s = stats(&store);
    assert_eq!((s.exported, s.failed_attempts), (1, 1));
    // The first 256 bytes of the body, control characters as spaces.
    let start = long_reason[..256].replace('\n', " ");
    let url = server.url("/hook");
    assert_eq!(s.last_error.unwrap(), format!("webhook exporter: POST {url} answered 400 Bad Request: {start:?}"));
    store.close(LONG).unwrap();
}

#[test]
fn https_is_verified_against_the_ca_file_root() {
    let (pem, tls) = self_signed_tls();
    let ca_file = std::env::temp_dir().join(format!("sluice-webhook-{}-ca.pem", std::process::id()));
    std::fs::write(&ca_file, pem).unwrap();
    let server = Server::start_tls(tls, Vec::new(), Reply::status(200));

    // Without the root, the certificate is refused and nothing is delivered.
    let untrusting = store();
    add_webhook(&untrusting, &server, json!({"bulk": false, "initial_backoff_ms": 10}));
    add(&untrusting, &events(0..1));
    let s = wait_until(&untrusting, |s| s.failed_attempts >= 1);
    let message = s.last_error.unwrap();
    assert!(message.contains("UnknownIssuer"), "{message}");
    assert!(untrusting.close(Duration::from_millis(100)).is_err());
    assert_eq!(server.requests().len(), 0);

    let store = store();
    add_webhook(&store, &server, json!({"bulk": false, "ca_file": ca_file, "secret": "k"}));
    add(&store, &events(0..2));
    store.flush(LONG).unwrap();
    let requests = server.requests();
    assert_eq!(users(&requests), vec![user_keys(0..1), user_keys(1..2)]);
    let expected = format!("sha256={}", hmac_hex("k", &requests[1].body));
    assert_eq!(requests[1].header("x-hub-signature-256"), Some(expected.as_str()));
    let s = stats(&store);
    assert_eq!((s.exported, s.failed_attempts), (2, 0));
    store.close(LONG).unwrap();
    std::fs::remove_file(ca_file).unwrap();
}

#[test]
fn gzip_bodies_inflate_to_the_document_and_are_signed_as_sent() {
    let server = Server::start(Vec::new(), Reply::status(200));
    let store = store();
    add_webhook(&store, &server, json!({"gzip": true, "secret": "s", "flush_threshold": 50, "meta": {"v": 1}}));
    let sent = events(0..50);
    add(&store, &sent);
    store.flush(LONG).unwrap();

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    let expected = format!("sha256={}", hmac_hex("s", &r.body));
    assert_eq!(r.header("x-hub-signature-256"), Some(expected.as_str()), "signed over the compressed bytes");
    let mut inflated = Vec::new();
    GzDecoder::new(&r.body[..]).read_to_end(&mut inflated).unwrap();
    let document = body(&json!({"hostname": hostname(), "v": 1}), &sent);
    assert_eq!(inflated, document);
    assert!(r.body.len() < document.len() / 3, "{} compressed bytes for {}", r.body.len(), document.len());
    store.close(LONG).unwrap();
}

#[test]
fn max_body_bytes_splits_a_batch_into_posts_and_a_failed_post_resends_the_whole_batch() {
    let meta = json!({"hostname": "h"});
    let sent = events(0..5);
    // Room for two events (and their comma) per body, not three.
    let limit = body(&meta, &sent[0..2]).len().max(body(&meta, &sent[2..4]).len());
    assert!(body(&meta, &sent[0..3]).len() > limit);
    let server = Server::start(vec![Reply::status(200), Reply::status(503)], Reply::status(200));
    let store = store();
    add_webhook(
        &store,
        &server,
        json!({"meta": meta, "max_body_bytes": limit, "flush_threshold": 5, "initial_backoff_ms": 10}),
    );
    add(&store, &sent);
    store.flush(LONG).unwrap();

    let requests = server.requests();
    // The second POST fails: the batch is offered again whole, so events 0 and 1 arrive twice.
    assert_eq!(
        users(&requests),
        vec![user_keys(0..2), user_keys(2..4), user_keys(0..2), user_keys(2..4), user_keys(4..5)]
    );
    assert!(requests.iter().all(|r| r.body.len() <= limit));
    assert_eq!(requests[4].body, body(&meta, &sent[4..5]));
    let s = stats(&store);
    assert_eq!((s.exported, s.failed_attempts, s.batches), (5, 1, 1));
    let url = server.url("/hook");
    assert_eq!(
        s.last_error.unwrap(),
        format!("webhook exporter: POST {url} answered 503 Service Unavailable: \"\" (POST 2 of 3, events 3 to 4; the whole batch is sent again)")
    );
    store.close(LONG).unwrap();
}

#[test]
fn an_event_larger_than_max_body_bytes_fails_without_sending_anything() {
    let server = Server::start(Vec::new(), Reply::status(200));
    let store = store();
    add_webhook(&store, &server, json!({"meta": {"hostname": "h"}, "max_body_bytes": 100, "bulk": false}));
    let big = event(0);
    add(&store, std::slice::from_ref(&big));
    let s = wait_until(&store, |s| s.failed_attempts >= 1);
    let expected = format!(
        "webhook exporter: event 1 of the batch is {} bytes, and with the envelope (37 bytes) exceeds `max_body_bytes` (100); nothing was sent, and the batch fails until `max_body_bytes` grows or the event is dropped",
        big.len()
    );
    assert_eq!(s.last_error.unwrap(), expected);
    assert!(store.close(Duration::from_millis(100)).is_err());
    assert_eq!(server.count(), 0);
    assert_eq!(stats(&store).dropped_reasons.shutdown, 1);
}

#[test]
fn listeners_see_every_attempt_with_its_outcome() {
    let server = Server::start(
        vec![Reply::status(503), Reply::status(404).with_body("no such hook")],
        Reply::status(202),
    );
    let store = store();
    // (event count, batch bytes, outcome) of each attempt.
    type Attempt = (usize, String, Result<(), String>);
    let seen: Arc<Mutex<Vec<Attempt>>> = Arc::default();
    let record = seen.clone();
    store
        .add_listener(Arc::new(move |d: &Dispatch<'_>| {
            let data = String::from_utf8(d.data.to_vec()).unwrap();
            record.lock().unwrap().push((d.event_count, data, d.outcome.map_err(str::to_string)));
        }))
        .unwrap();
    add_webhook(&store, &server, json!({"max_batch_size": 2, "initial_backoff_ms": 10}));
    let sent = events(0..4);
    add(&store, &sent);
    store.flush(LONG).unwrap();
    store.close(LONG).unwrap();

    let url = server.url("/hook");
    // Listeners see the batch as the sink got it: JSON lines.
    let first = format!("{}\n{}\n", sent[0], sent[1]);
    let second = format!("{}\n{}\n", sent[2], sent[3]);
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            (2, first.clone(), Err(format!("webhook exporter: POST {url} answered 503 Service Unavailable: \"\""))),
            (2, first.clone(), Err(format!("webhook exporter: POST {url} answered 404 Not Found: \"no such hook\""))),
            (2, first, Ok(())),
            (2, second, Ok(())),
        ]
    );
    assert_eq!(server.requests().len(), 4);
}

#[test]
fn configuration_errors_name_the_key() {
    let error = |config: Value| match build(&config.to_string()) {
        Ok(_) => panic!("accepted: {config}"),
        Err(e) => e,
    };
    let invalid = |config: Value| match error(config) {
        Error::InvalidArgument(m) => m,
        other => panic!("{other:?}"),
    };
    let url = "http://127.0.0.1:9/hook";
    let smallest = 38 + hostname().len();
    let refused = [
        (json!({}), "webhook exporter: `url` is required".to_string()),
        (json!({"url": url, "secrett": "x"}), "webhook exporter: unknown key `secrett`".into()),
        (
            json!({"url": "ftp://example.com/x"}),
            "webhook exporter: `url` must start with http:// or https://, not \"ftp://example.com/x\"".into(),
        ),
        (
            json!({"url": "/relative"}),
            "webhook exporter: `url` must start with http:// or https://, not \"/relative\"".into(),
        ),
        (json!({"url": url, "meta": ["x"]}), "webhook exporter: `meta` must be an object, not [\"x\"]".into()),
        (
            json!({"url": url, "headers": {"X-N": 1}}),
            "webhook exporter: `headers`: the value of \"X-N\" must be a string, not 1".into(),
        ),
        (
            json!({"url": url, "headers": {"Content-Type": "text/plain"}}),
            "webhook exporter: `headers`: \"Content-Type\" is set by the exporter itself".into(),
        ),
        (
            json!({"url": url, "headers": {"bad name": "x"}}),
            "webhook exporter: `headers`: \"bad name\" is not a valid header name".into(),
        ),
        (json!({"url": url, "secret": ""}), "webhook exporter: `secret` must not be empty".into()),
        (json!({"url": url, "timeout_ms": 0}), "webhook exporter: `timeout_ms` must be at least 1".into()),
        (json!({"url": url, "gzip": "yes"}), "webhook exporter: `gzip` must be true or false, not \"yes\"".into()),
        (
            json!({"url": url, "max_body_bytes": 20}),
            format!("webhook exporter: `max_body_bytes` (20) is smaller than the smallest body ({smallest} bytes with this `meta`)"),
        ),
        (
            json!({"url": url, "format": "json"}),
            "webhook exporter: unknown key `format` (the body is always one JSON document)".into(),
        ),
        (
            json!({"url": url, "ca_file": "/x.pem"}),
            "webhook exporter: `ca_file` applies only to an https `url`".into(),
        ),
    ];
    for (mut config, message) in refused {
        config["type"] = json!("webhook");
        assert_eq!(invalid(config), message);
    }

    let https = "https://127.0.0.1:9/hook";
    let missing = "/nonexistent/sluice-ca.pem";
    match error(json!({"type": "webhook", "url": https, "ca_file": missing})) {
        Error::Io(m) => assert!(m.starts_with(&format!("webhook exporter: `ca_file` {missing:?} cannot be read: ")), "{m}"),
        other => panic!("{other:?}"),
    }
    let dir = std::env::temp_dir();
    let not_pem = dir.join(format!("sluice-webhook-{}-not.pem", std::process::id()));
    std::fs::write(&not_pem, "just text\n").unwrap();
    let bad_cert = dir.join(format!("sluice-webhook-{}-bad.pem", std::process::id()));
    std::fs::write(&bad_cert, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").unwrap();
    let path = |p: &std::path::Path| p.to_str().unwrap().to_string();
    assert_eq!(
        invalid(json!({"type": "webhook", "url": https, "ca_file": path(&not_pem)})),
        format!("webhook exporter: `ca_file` {:?} holds no certificate (-----BEGIN CERTIFICATE-----)", path(&not_pem))
    );
    let m = invalid(json!({"type": "webhook", "url": https, "ca_file": path(&bad_cert)}));
    assert!(
        m.starts_with(&format!("webhook exporter: `ca_file` {:?} holds a certificate (1 of the file) that is not usable as a root: ", path(&bad_cert))),
        "{m}"
    );
    std::fs::remove_file(not_pem).unwrap();
    std::fs::remove_file(bad_cert).unwrap();
}
