"""The library's webhook exporter against a real HTTP server on loopback, and what listeners see."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import logging
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Iterator, List, Optional

import pytest

import sluice
from sluice import _native

pytestmark = pytest.mark.skipif(
    not hasattr(_native.lib, "sluice_store_add_listener"),
    reason="this libsluice has no webhook exporter or dispatch listeners yet",
)

SECRET = "s3cr3t"
EVENTS = [
    {"kind": "feature", "creationDate": 1700000000, "key": "a", "userKey": "u-1", "value": True},
    {"kind": "feature", "creationDate": 1700000001, "key": "b", "userKey": "u-2", "value": "é"},
    {"kind": "tracking", "creationDate": 1700000002, "key": "c", "userKey": "u-3"},
]


@dataclass
class Request:
    """One POST as the server received it."""

    path: str
    headers: Dict[str, str]  # names in lower case
    body: bytes  # the exact bytes received
    signed: bool  # X-Hub-Signature-256 matches the HMAC-SHA256 of `body` with SECRET
    document: Any  # the JSON document, decompressed when gzip
    status: int  # what the server answered


class Webhook:
    """An HTTP server on 127.0.0.1 (a free port) that records every POST and answers with the
    next status of `statuses`, then 200; 401 for a bad signature."""

    def __init__(self, statuses: List[int], answer: bytes = b"") -> None:
        self.statuses = list(statuses)
        self.answer = answer
        self.requests: List[Request] = []
        self._changed = threading.Condition()
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                signed = hmac.compare_digest(self.headers.get("X-Hub-Signature-256", ""), expected)
                text = gzip.decompress(body) if self.headers.get("Content-Encoding") == "gzip" else body
                with webhook._changed:
                    status = webhook.statuses.pop(0) if webhook.statuses else 200
                    status = status if signed else 401
                    webhook.requests.append(
                        Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body, signed, json.loads(text), status)
                    )
                    webhook._changed.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", str(len(webhook.answer)))
                self.end_headers()
                self.wfile.write(webhook.answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="webhook-server")
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/events"

    def wait_for_requests(self, count: int, timeout: float = 30.0) -> List[Request]:
        with self._changed:
            arrived = self._changed.wait_for(lambda: len(self.requests) >= count, timeout)
            assert arrived, f"expected {count} requests, got {len(self.requests)}"
            return list(self.requests)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def webhook() -> Iterator[Any]:
    servers: List[Webhook] = []

    def start(statuses: Optional[List[int]] = None, answer: bytes = b"") -> Webhook:
        servers.append(Webhook(statuses or [], answer))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def test_webhook_retries_two_500s_then_delivers_signed_documents_in_order_and_listeners_see_each_attempt(
    store, webhook
):
    server = webhook([500, 500])
    dispatches: List[sluice.Dispatch] = []
    store.on_dispatch(dispatches.append)
    exporter_id = store.add_webhook_exporter(
        server.url,
        secret=SECRET,
        headers={"X-Source": "pytest"},
        meta={"app": "tests"},
        flush_threshold=len(EVENTS),  # the three events make one batch, exported once all are in
        flush_interval=60,
        initial_backoff=0.01,
        max_backoff=0.01,
    )
    for event in EVENTS:
        store.add(event)
    server.wait_for_requests(3)
    store.flush()

    requests = server.wait_for_requests(3)
    assert [(r.path, r.status, r.signed) for r in requests] == [("/events", s, True) for s in (500, 500, 200)]
    document = {"meta": {"hostname": socket.gethostname(), "app": "tests"}, "events": EVENTS}
    assert [r.document for r in requests] == [document] * 3
    assert all(r.headers["content-type"] == "application/json" for r in requests)
    assert all(r.headers["x-source"] == "pytest" and "content-encoding" not in r.headers for r in requests)

    exporter = store.stats()["exporters"][0]
    assert (exporter["id"], exporter["type"], exporter["name"]) == (exporter_id, "webhook", "webhook")
    assert (exporter["exported"], exporter["pending"], exporter["dropped"]) == (3, 0, 0)
    assert (exporter["failed_attempts"], exporter["batches"]) == (2, 1)

    assert [(d.exporter_id, d.event_count, d.ok) for d in dispatches] == [
        (exporter_id, 3, False),
        (exporter_id, 3, False),
        (exporter_id, 3, True),
    ]
    assert [d.events for d in dispatches] == [EVENTS] * 3


def test_webhook_gzip_compresses_the_body_and_signs_the_compressed_bytes(store, webhook):
    server = webhook()
    store.add_webhook_exporter(server.url, secret=SECRET, gzip=True, meta={"hostname": "web-1"})
    for event in EVENTS[:2]:
        store.add(event)
    store.flush()
    [request] = server.wait_for_requests(1)
    assert (request.status, request.signed, request.headers["content-encoding"]) == (200, True, "gzip")
    assert request.body[:2] == b"\x1f\x8b"  # the signature covered the gzip stream itself
    assert request.document == {"meta": {"hostname": "web-1"}, "events": EVENTS[:2]}


def test_webhook_4xx_answer_reaches_last_error_and_the_log_then_the_batch_is_retried(store, webhook, caplog):
    caplog.set_level(logging.WARNING, logger="sluice")
    server = webhook([400], answer=b"bad token")
    outcomes: List[bool] = []
    store.on_dispatch(lambda dispatch: outcomes.append(dispatch.ok))
    store.add_webhook_exporter(server.url, secret=SECRET, flush_threshold=1, initial_backoff=0.01)
    store.add(EVENTS[0])
    server.wait_for_requests(2)
    store.flush()
    assert [r.status for r in server.requests] == [400, 200]
    assert outcomes == [False, True]
    exporter = store.stats()["exporters"][0]
    assert (exporter["exported"], exporter["failed_attempts"]) == (1, 1)
    for text in ("400", server.url, "bad token"):
        assert text in exporter["last_error"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "400" in warnings[0] and "bad token" in warnings[0]


@pytest.mark.parametrize(
    "url, options, message",
    [
        ("ftp://127.0.0.1/", {}, "`url` must start with http:// or https://"),
        ("http://", {}, "`url`"),
        ("http://127.0.0.1/", {"headers": {"Content-Type": "text/plain"}}, "set by the exporter itself"),
        ("http://127.0.0.1/", {"headers": {"bad name": "x"}}, "not a valid header name"),
        ("http://127.0.0.1/", {"secret": ""}, "`secret` must not be empty"),
        ("http://127.0.0.1/", {"timeout": 0}, "`timeout_ms` must be at least 1"),
        ("http://127.0.0.1/", {"timeout": None}, "`timeout` must be a number of seconds"),
        ("http://127.0.0.1/", {"timeout": -1.0}, "`timeout` must be a number of seconds"),
        ("http://127.0.0.1/", {"ca_file": "/nonexistent.pem"}, "`ca_file` applies only to an https `url`"),
        ("http://127.0.0.1/", {"max_body_bytes": 10}, "`max_body_bytes` \\(10\\) is smaller"),
        ("http://127.0.0.1/", {"gzip": "yes"}, "gzip"),
        ("http://127.0.0.1/", {"format": "json"}, "unknown key `format`"),
        ("http://127.0.0.1/", {"colour": "blue"}, "colour"),
        ("http://127.0.0.1/", {"flush_interval": "often"}, "`flush_interval` must be a number of seconds"),
    ],
)
def test_webhook_exporter_refuses_bad_options(store, url, options, message):
    with pytest.raises(sluice.InvalidArgument, match=message):
        store.add_webhook_exporter(url, **options)
    assert store.stats()["exporters"] == []
