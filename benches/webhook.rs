//! Throughput of the webhook exporter: 500,000 events (50,000 with `SLUICE_BENCH_QUICK=1`) added
//! to a store and POSTed in batches of 1,000 to a local HTTP server (tests/support/http_server.rs)
//! that answers 200 at once, end to end (add, batch, envelope, sign, compress, send, answer).
//! Prints events/s and MB/s of request bodies; never asserts a speed.
//!
//! `cargo bench --bench webhook`

#[path = "../tests/support/http_server.rs"]
mod http_server;

use serde_json::json;
use sluice::exporter::builtin::add_builtin_exporter;
use sluice::{Overflow, Store, StoreConfig};
use std::time::{Duration, Instant};

/// A feature event of about 300 bytes.
fn event(i: usize) -> String {
    format!(
        r#"{{"kind":"feature","contextKind":"user","userKey":"user-{i:08}","creationDate":{},"key":"checkout-flow-{}","variation":"treatment-{}","value":{{"limit":{i},"tier":"gold"}},"default":false,"version":"2.3.0","source":"SERVER","metadata":{{"sdk":"sluice","region":"eu-west-1"}}}}"#,
        1_700_000_000 + i / 100,
        i % 40,
        i % 4,
    )
}

fn main() {
    let quick = std::env::var("SLUICE_BENCH_QUICK").is_ok_and(|v| v == "1");
    let count = if quick { 50_000 } else { 500_000 };
    let events: Vec<String> = (0..count).map(event).collect();
    let input: usize = events.iter().map(String::len).sum();
    println!(
        "webhook exporter: {count} events ({:.1} MB of JSON) in batches of 1000, to a local server answering 200",
        input as f64 / 1e6
    );
    for (label, options) in [
        ("plain", json!({})),
        ("signed", json!({"secret": "bench-secret"})),
        ("gzip + signed", json!({"gzip": true, "secret": "bench-secret"})),
    ] {
        let server = http_server::Server::start_counting();
        let store = Store::new(StoreConfig {
            overflow: Overflow::Block,
            block_timeout: Duration::from_secs(600),
            ..StoreConfig::default()
        })
        .unwrap();
        let mut config = options;
        config["type"] = json!("webhook");
        config["url"] = json!(server.url("/bench"));
        config["max_batch_size"] = json!(1000);
        add_builtin_exporter(&store, &config.to_string()).unwrap();
        let start = Instant::now();
        for e in &events {
            store.add(e.as_bytes()).unwrap();
        }
        store.close(Duration::from_secs(600)).unwrap();
        let seconds = start.elapsed().as_secs_f64();
        let exporter = &store.stats().exporters[0];
        assert_eq!(exporter.exported, count as u64, "every event is delivered");
        assert_eq!(exporter.failed_attempts, 0);
        println!(
            "  {label:<14} {:>10.0} events/s {:>8.1} MB/s of events  ({} POSTs, {seconds:.2} s)",
            count as f64 / seconds,
            input as f64 / 1e6 / seconds,
            server.count()
        );
    }
}
