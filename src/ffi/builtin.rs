//! Built-in exporters at the boundary: files, log lines and webhooks, configured by JSON.

use super::store::sluice_store;
use super::{ffi_boundary, optional_str, sluice_status, try_core, try_out, try_ref};
use crate::exporter::builtin::add_builtin_exporter;
use std::ffi::c_char;

/// Adds a built-in exporter, driven by a library thread of its own like a callback exporter
/// (same triggers, batching, retry with backoff, and counters in `sluice_store_stats`). It sees
/// every event accepted from now on.
///
/// `config_json` is a JSON object: `type` ("file", "log" or "webhook"), the common exporter
/// options of `sluice_store_add_callback_exporter` except `format` (`name` defaults to the
/// type), and the type's own keys:
/// - "file": every export writes one complete file (written beside it, synced, then linked
///   under its name, so a reader never sees a partial file; a taken name gets `_000001`,
///   `_000002`, ... before its extension, so nothing is overwritten). `dir` (required; created
///   0755 when missing), `filename` (template of `.Hostname`, `.Timestamp` in Unix seconds and
///   `.Format`; default `flag-variation-{{ .Hostname}}-{{ .Timestamp}}.{{ .Format}}`), `format`
///   ("json": one JSON object per line, the default; "csv"; "parquet"), `csv_template` (one
///   rendering per event; default
///   `{{ .Kind}};{{ .ContextKind}};{{ .UserKey}};{{ .CreationDate}};{{ .Key}};{{ .Variation}};{{ .Value}};{{ .Default}};{{ .Source}}`
///   and a newline; a value holding `;`, `,`, a quote or a line break is quoted as a CSV
///   field), `parquet_compression` ("snappy" default, "gzip", "zstd", "uncompressed"; one row
///   per event, one nullable column per known field: `value`, `metadata`, `evaluationContext`
///   and `trackingEventDetails` as JSON text, `creationDate` INT64, `default` BOOLEAN, the
///   others strings).
/// - "log": each event becomes one line rendered from `template` (default
///   `[{{ .FormattedDate}}] user="{{ .UserKey}}", flag="{{ .Key}}", value="{{ .Value}}"`; line
///   breaks in values are escaped) and goes to the log callback at `SLUICE_LOG_INFO` (`target`
///   "log", the default: nowhere when no callback takes INFO lines and `SLUICE_LOG` is unset)
///   or to standard error (`target` "stderr"). `bulk` defaults to false.
/// - "webhook": every export POSTs the batch as one JSON document
///   `{"meta":{"hostname":"<this machine>",...meta},"events":[...]}` (the events byte for byte
///   as the store keeps them; a `hostname` in `meta` replaces the machine's) with
///   `Content-Type: application/json`. `url` (required; http:// or https://, Mozilla's roots;
///   redirects are not followed; `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` are honoured), `meta`
///   (object), `headers` (object of strings; not `Content-Type`, `Content-Encoding`,
///   `Content-Length`, `Transfer-Encoding`, `Host` nor the signature), `secret` (adds
///   `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body bytes as sent>`, that is after
///   compression when `gzip` is on), `timeout_ms` (default 10000: the most one request may
///   take, connection, TLS, upload and answer included), `gzip` (false by default; compresses the
///   body, `Content-Encoding: gzip`), `ca_file` (PEM file of root certificates trusted for https
///   besides Mozilla's, read at registration), `max_body_bytes` (a batch whose document would
///   exceed it is sent as several POSTs, in order, each document within it before compression).
///   Any 2xx is success; any other status (408, 429, 5xx and all others), a connection error or
///   a timeout fails the export, which is retried after backoff, and not before the answer's
///   `Retry-After` (in seconds, at most an hour); the status, the URL (without user and
///   password) and the start of the answer's body go to `last_error` and the log. A batch
///   counts as exported only when all its POSTs succeeded; otherwise it is sent again whole, so
///   the events of its earlier POSTs arrive twice (delivery is at least once). An event too
///   large for `max_body_bytes` on its own fails the export without sending anything, until
///   it is dropped (overflow or close): keep `max_body_bytes` above the store's
///   `max_event_bytes` plus the envelope.
///
/// Templates take `{{ .Field }}` actions (spaces optional): the event's fields in Go spelling
/// (`.Kind`, `.ContextKind`, `.UserKey`, `.CreationDate`, `.Key`, `.Variation`, `.Value`,
/// `.Default`, `.Version`, `.Source`, `.Metadata`, `.EvaluationContext`,
/// `.TrackingEventDetails`) and `.FormattedDate` (RFC 3339, UTC). Strings render as their
/// text, other values as JSON, absent fields and null as nothing.
///
/// `SLUICE_ERR_INVALID_ARGUMENT` for a missing or unknown `type`, an unknown key, a wrong value,
/// a template that does not parse or names an unknown field (the message names the key and
/// the line and column), or a `ca_file` without a usable certificate; `SLUICE_ERR_IO` when `dir`
/// cannot be created or written, or `ca_file` cannot be read;
/// `SLUICE_ERR_CLOSED` after close. A failed write later (full disk, directory gone) fails the
/// export: the events stay pending, are retried after backoff, and count in `failed_attempts`.
///
/// `store`, `config_json` and `out_id` must not be NULL. `config_json` is NUL-terminated UTF-8;
/// ownership NOT transferred (it is read during the call only). `*out_id` is written only on
/// success; the exporter belongs to the store, which releases it on
/// `sluice_store_remove_exporter` or close. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn sluice_store_add_exporter(
    store: *mut sluice_store,
    config_json: *const c_char,
    out_id: *mut u64,
) -> sluice_status {
    ffi_boundary! {
        let handle = try_ref!(store, "store");
        try_out!(config_json, "config_json");
        try_out!(out_id, "out_id");
        let config = try_core!(optional_str(config_json, "config_json"));
        *out_id = try_core!(add_builtin_exporter(&handle.store, config));
        sluice_status::SLUICE_OK
    }
}
