'use strict';
// The library's webhook exporter (addWebhookExporter), against a real HTTP server on
// 127.0.0.1 started by each test: signed JSON documents, retries after 500 answers, gzip bodies,
// dispatch listeners on its library thread, and option checks (the life of a process using it is
// tried in process.test.js). Skipped, with the reason, when the loaded library predates it.

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');
const { Store, SluiceError, setLogger } = require('sluice');
const { skipUnless } = require('./support');

const skip = skipUnless('webhook exporter or dispatch listeners', 'addExporter', 'addListener');

const SECRET = 'webhook-secret';
const RETRY = { initialBackoffMs: 10, maxBackoffMs: 20 };

/**
 * An HTTP server on 127.0.0.1 (a free port) that records every request and answers with the
 * next status of `statuses` (200 once they run out).
 */
async function startServer(t, statuses = []) {
  const requests = [];
  const server = http.createServer((request, response) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks);
      const status = statuses.shift() ?? 200;
      const expected = `sha256=${crypto.createHmac('sha256', SECRET).update(raw).digest('hex')}`;
      const gzip = request.headers['content-encoding'] === 'gzip';
      requests.push({
        status,
        method: request.method,
        url: request.url,
        headers: request.headers,
        signed: request.headers['x-hub-signature-256'] === expected,
        body: JSON.parse((gzip ? zlib.gunzipSync(raw) : raw).toString('utf8')),
      });
      response.statusCode = status;
      response.end(status === 200 ? 'ok' : 'collector unavailable');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  return { url: `http://127.0.0.1:${server.address().port}/events`, requests };
}

/** `count` events with fixed dates, so that their bytes are known. */
function events(count, prefix = 'flag') {
  return Array.from({ length: count }, (_, n) => ({
    kind: 'feature',
    creationDate: 1700000000 + n,
    key: `${prefix}-${n}`,
    userKey: `u-${n}`,
  }));
}

/** What a listener saw of one attempt. */
function seen(dispatch) {
  return {
    exporterId: dispatch.exporterId,
    ok: dispatch.ok,
    eventCount: dispatch.eventCount,
    keys: dispatch.events.map((e) => e.key),
  };
}

test(
  'the webhook POSTs signed JSON documents; after 500 twice then 200 every event arrives, in order',
  { skip },
  async (t) => {
    const server = await startServer(t, [500, 500]);
    const store = new Store();
    const id = store.addWebhookExporter(server.url, {
      name: 'hook',
      secret: SECRET,
      headers: { 'X-Api-Key': 'key-1' },
      meta: { service: 'checkout' },
      maxBatchSize: 4,
      ...RETRY,
    });
    const attempts = [];
    store.onDispatch((dispatch) => attempts.push(dispatch));
    const sent = events(10);
    for (const event of sent) store.add(event);
    await store.flush(10000);

    assert.deepEqual(
      server.requests.map((r) => [r.status, r.method, r.url, r.signed]),
      [
        [500, 'POST', '/events', true],
        [500, 'POST', '/events', true],
        [200, 'POST', '/events', true],
        [200, 'POST', '/events', true],
        [200, 'POST', '/events', true],
      ],
    );
    for (const request of server.requests) {
      assert.equal(request.headers['content-type'], 'application/json');
      assert.equal(request.headers['x-api-key'], 'key-1');
      assert.equal(request.headers['content-encoding'], undefined);
      assert.deepEqual(request.body.meta, { hostname: os.hostname(), service: 'checkout' });
    }
    const batches = [sent.slice(0, 4), sent.slice(0, 4), sent.slice(0, 4), sent.slice(4, 8), sent.slice(8)];
    assert.deepEqual(
      server.requests.map((r) => r.body.events),
      batches,
    );
    assert.deepEqual(
      server.requests.filter((r) => r.status === 200).flatMap((r) => r.body.events),
      sent,
    );

    assert.deepEqual(
      attempts.map(seen),
      batches.map((batch, n) => ({
        exporterId: id,
        ok: n >= 2,
        eventCount: batch.length,
        keys: batch.map((e) => e.key),
      })),
    );
    // The batch as the library's own exporters get it: JSON lines, byte for byte.
    const jsonl = sent.slice(0, 4).map((e) => `${JSON.stringify(e)}\n`).join('');
    assert.equal(attempts[0].format, 'jsonl');
    assert.equal(attempts[0].text, jsonl);
    assert.ok(Buffer.isBuffer(attempts[0].data));
    assert.deepEqual(attempts[0].data, Buffer.from(jsonl));

    const stats = store.stats().exporters.find((e) => e.id === id);
    assert.deepEqual(
      [stats.name, stats.type, stats.exported, stats.failedAttempts, stats.batches, stats.pending],
      ['hook', 'webhook', 10, 2, 3, 0],
    );
    assert.match(stats.lastError, /POST http:\/\/127\.0\.0\.1:\d+\/events answered 500/);
    await store.close();
  },
);

test('gzip: the body arrives compressed, and the signature covers the bytes as sent', { skip }, async (t) => {
  const server = await startServer(t);
  const store = new Store();
  store.addWebhookExporter(new URL(server.url), { secret: SECRET, gzip: true, meta: { hostname: 'edge-1' } });
  const sent = events(3);
  for (const event of sent) store.add(event);
  await store.flush(10000);
  assert.equal(server.requests.length, 1);
  const [request] = server.requests;
  assert.equal(request.headers['content-encoding'], 'gzip');
  assert.equal(request.signed, true);
  assert.deepEqual(request.body, { meta: { hostname: 'edge-1' }, events: sent });
  await store.close();
});

test(
  'one listener hears the webhook and a JS exporter apart, each attempt once, with its outcome',
  { skip },
  async (t) => {
    const server = await startServer(t, [500]);
    const store = new Store();
    const hook = store.addWebhookExporter(server.url, { secret: SECRET, ...RETRY });
    let calls = 0;
    const js = store.addExporter(() => ++calls > 1, RETRY);
    const attempts = [];
    store.onDispatch((dispatch) => attempts.push(seen(dispatch)));
    for (const event of events(3)) store.add(event);
    await store.flush(10000);
    const keys = ['flag-0', 'flag-1', 'flag-2'];
    const attempt = (exporterId, ok) => ({ exporterId, ok, eventCount: 3, keys });
    assert.deepEqual(
      attempts.filter((a) => a.exporterId === hook),
      [attempt(hook, false), attempt(hook, true)],
    );
    assert.deepEqual(
      attempts.filter((a) => a.exporterId === js),
      [attempt(js, false), attempt(js, true)],
    );
    assert.equal(attempts.length, 4);
    assert.equal(calls, 2);
    assert.equal(server.requests.length, 2);
    await store.close();
  },
);

test(
  "a listener that throws or rejects breaks nothing, and each failure reaches the package's logger",
  { skip },
  async (t) => {
    t.after(() => setLogger(null));
    const errors = [];
    setLogger((level, message) => {
      if (level === 'error') errors.push(message);
    });
    const server = await startServer(t, [500, 500]);
    const store = new Store();
    const hook = store.addWebhookExporter(server.url, { secret: SECRET, maxBatchSize: 2, ...RETRY });
    const thrower = store.onDispatch(() => {
      throw new Error('listener bug');
    });
    const rejecter = store.onDispatch(async () => {
      throw new Error('async listener bug');
    });
    const outcomes = [];
    store.onDispatch((dispatch) => outcomes.push(dispatch.ok));
    for (const event of events(4)) store.add(event);
    await store.flush(10000);
    // A rejection is logged once its promise settles.
    await new Promise((resolve) => setImmediate(resolve));

    assert.deepEqual(outcomes, [false, false, true, true]);
    assert.deepEqual(
      server.requests.map((r) => r.status),
      [500, 500, 200, 200],
    );
    const [stats] = store.stats().exporters;
    assert.deepEqual([stats.exported, stats.failedAttempts, stats.batches], [4, 2, 2]);
    const prefix = (id) => `dispatch listener ${id} failed on an attempt of exporter ${hook} (exporting goes on): Error: `;
    assert.equal(errors.length, 8);
    assert.equal(errors.filter((m) => m.startsWith(`${prefix(thrower)}listener bug`)).length, 4);
    assert.equal(errors.filter((m) => m.startsWith(`${prefix(rejecter)}async listener bug`)).length, 4);
    await store.close();
  },
);

test('removeListener stops calls from the webhook; the C listener comes back with a new one', { skip }, async (t) => {
  const server = await startServer(t);
  const store = new Store();
  store.addWebhookExporter(server.url, { secret: SECRET });
  const first = [];
  const second = [];
  const a = store.onDispatch((dispatch) => first.push(dispatch.eventCount));
  store.add(events(1)[0]);
  await store.flush(10000);
  store.removeListener(a);
  store.add(events(2)[1]);
  await store.flush(10000);
  store.onDispatch((dispatch) => second.push(dispatch.eventCount));
  store.add(events(3)[2]);
  await store.flush(10000);
  assert.deepEqual(first, [1]);
  assert.deepEqual(second, [1]);
  assert.equal(server.requests.length, 3);
  assert.throws(() => store.removeListener(a), { name: 'SluiceError', code: 'SLUICE_ERR_NOT_FOUND' });
  await store.close();
});

test('bad webhook options throw, and no exporter is added', { skip }, async (t) => {
  const store = new Store();
  const url = 'http://127.0.0.1:9/events';
  const secure = 'https://127.0.0.1:9/events';
  const type = (call, message) => assert.throws(call, { name: 'TypeError', message });
  const range = (call, message) => assert.throws(call, { name: 'RangeError', message });
  const library = (call, code, message) =>
    assert.throws(call, (error) => error instanceof SluiceError && error.code === code && message.test(error.message));

  type(() => store.addWebhookExporter(), /url must be a string or a URL, not undefined/);
  type(() => store.addWebhookExporter(42), /url must be a string or a URL, not number 42/);
  type(() => store.addWebhookExporter(url, 'secret'), /options must be an object/);
  type(() => store.addWebhookExporter(url, { format: 'json' }), /unknown option 'format'/);
  type(() => store.addWebhookExporter(url, { url }), /unknown option 'url'/);
  type(() => store.addWebhookExporter(url, { secret: 7 }), /options.secret must be a string/);
  type(() => store.addWebhookExporter(url, { headers: ['a'] }), /options.headers must be an object/);
  type(() => store.addWebhookExporter(url, { headers: { 'X-N': 1 } }), /options.headers.X-N must be a string/);
  type(() => store.addWebhookExporter(url, { meta: 'm' }), /options.meta must be an object/);
  type(() => store.addWebhookExporter(url, { gzip: 1 }), /options.gzip must be true or false/);
  range(() => store.addWebhookExporter(url, { timeoutMs: -1 }), /options.timeoutMs must be an integer/);
  range(() => store.addWebhookExporter(url, { maxBodyBytes: 0 }), /options.maxBodyBytes must be an integer/);

  library(() => store.addWebhookExporter('ftp://127.0.0.1/'), 'SLUICE_ERR_INVALID_ARGUMENT', /`url`/);
  library(() => store.addWebhookExporter('not a url'), 'SLUICE_ERR_INVALID_ARGUMENT', /`url`/);
  library(() => store.addWebhookExporter(url, { caFile: '/ca.pem' }), 'SLUICE_ERR_INVALID_ARGUMENT', /https/);
  library(
    () => store.addWebhookExporter(url, { headers: { 'Content-Type': 'text/plain' } }),
    'SLUICE_ERR_INVALID_ARGUMENT',
    /`headers`/,
  );
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-node-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  library(
    () => store.addWebhookExporter(secure, { caFile: path.join(dir, 'missing.pem') }),
    'SLUICE_ERR_IO',
    /`ca_file`/,
  );
  fs.writeFileSync(path.join(dir, 'empty.pem'), 'not a certificate\n');
  library(
    () => store.addWebhookExporter(secure, { caFile: path.join(dir, 'empty.pem') }),
    'SLUICE_ERR_INVALID_ARGUMENT',
    /`ca_file`/,
  );
  assert.deepEqual(store.stats().exporters, []);
  await store.close();
});
