'use strict';
// Events in, batches out: what each way of adding sends, in which order, and the counters.

const test = require('node:test');
const assert = require('node:assert/strict');
const { Store, SluiceError, version, libraryPath } = require('sluice');

const DATE = 1700000000;

/** An exporter that keeps every batch it gets. */
function collect(store, options) {
  const seen = { batches: [], events: [], texts: [] };
  seen.id = store.addExporter((events, batch) => {
    seen.batches.push(batch);
    seen.texts.push(batch.text);
    seen.events.push(...events);
  }, options);
  return seen;
}

test('version and libraryPath name the loaded library', () => {
  assert.equal(version, '0.1.0');
  assert.match(libraryPath, /libsluice\.(so|dylib)$|sluice\.dll$/);
});

test('add takes an object, a JSON string, a Buffer and a Uint8Array view, byte for byte', async () => {
  const store = new Store();
  const seen = collect(store, { format: 'jsonl' });
  store.add({ kind: 'feature', creationDate: DATE, key: 'object', value: { nested: [1, 'two'] } });
  store.add(`{"kind":"feature","creationDate":${DATE},"key":"string","userKey":"é☃"}`);
  store.add(Buffer.from(`{"kind":"feature","creationDate":${DATE},"key":"buffer"}`));
  const backing = Buffer.from(`xx{"kind":"feature","creationDate":${DATE},"key":"view"}yy`);
  store.add(new Uint8Array(backing.buffer, backing.byteOffset + 2, backing.length - 4));
  await store.flush(5000);
  assert.equal(
    seen.texts.join(''),
    [
      `{"kind":"feature","creationDate":${DATE},"key":"object","value":{"nested":[1,"two"]}}`,
      `{"kind":"feature","creationDate":${DATE},"key":"string","userKey":"é☃"}`,
      `{"kind":"feature","creationDate":${DATE},"key":"buffer"}`,
      `{"kind":"feature","creationDate":${DATE},"key":"view"}`,
      '',
    ].join('\n'),
  );
  assert.deepEqual(
    seen.events.map((e) => e.key),
    ['object', 'string', 'buffer', 'view'],
  );
  await store.close();
});

test('feature and track build the go-feature-flag events', async () => {
  const store = new Store();
  const seen = collect(store);
  store.feature('new-checkout', {
    userKey: 'u-42',
    contextKind: 'user',
    creationDate: DATE,
    variation: 'on',
    value: true,
    default: false,
    version: 'v7',
    source: 'SERVER',
    metadata: { region: 'eu' },
  });
  store.track('checkout-completed', {
    userKey: 'u-42',
    creationDate: DATE,
    evaluationContext: { plan: 'pro' },
    details: { total: 99.5 },
  });
  store.feature('minimal', { userKey: 'u-1', creationDate: DATE, value: null });
  await store.flush(5000);
  assert.deepEqual(seen.texts, [
    '[' +
      `{"kind":"feature","contextKind":"user","userKey":"u-42","creationDate":${DATE},"key":"new-checkout",` +
      '"variation":"on","value":true,"default":false,"version":"v7","source":"SERVER","metadata":{"region":"eu"}},' +
      `{"kind":"tracking","userKey":"u-42","creationDate":${DATE},"key":"checkout-completed",` +
      '"evaluationContext":{"plan":"pro"},"trackingEventDetails":{"total":99.5}},' +
      `{"kind":"feature","userKey":"u-1","creationDate":${DATE},"key":"minimal","value":null}` +
      ']',
  ]);
  await store.close();
});

test('kind and creationDate are filled in when absent', async () => {
  const store = new Store();
  const seen = collect(store);
  const before = Math.floor(Date.now() / 1000);
  store.feature('flag', { userKey: 'u' });
  await store.flush(5000);
  const after = Math.floor(Date.now() / 1000);
  const [event] = seen.events;
  assert.deepEqual(Object.keys(event), ['creationDate', 'kind', 'userKey', 'key']);
  assert.equal(event.kind, 'feature');
  assert.ok(event.creationDate >= before && event.creationDate <= after);
  await store.close();
});

test('100,000 adds give exact stats, and every event reaches the exporter in order', async () => {
  const store = new Store({ capacity: 100000 });
  let next = 0;
  let outOfOrder = 0;
  let batches = 0;
  store.addExporter(
    (events) => {
      batches += 1;
      for (const event of events) if (event.n !== next++) outOfOrder += 1;
    },
    { name: 'counter', maxBatchSize: 1000 },
  );
  for (let n = 0; n < 100000; n++) store.add({ key: 'flag', userKey: `u-${n % 7}`, n });
  await store.flush(30000);
  const stats = store.stats();
  assert.equal(next, 100000);
  assert.equal(outOfOrder, 0);
  assert.equal(batches, 100);
  assert.deepEqual(
    { ...stats, exporters: undefined },
    {
      accepted: 100000,
      rejected: 0,
      invalid: 0,
      buffered: 0,
      bufferedBytes: 0,
      capacity: 100000,
      maxBytes: 67108864,
      closed: false,
      exporters: undefined,
    },
  );
  assert.deepEqual(stats.exporters, [
    {
      id: 1,
      name: 'counter',
      type: 'pull',
      accepted: 100000,
      exported: 100000,
      pending: 0,
      dropped: 0,
      droppedReasons: { overflow: 0, shutdown: 0 },
      inFlight: 0,
      failedAttempts: 0,
      batches: 100,
      lastError: null,
    },
  ]);
  await store.close();
});

test('drop_newest refuses the event that does not fit with SLUICE_ERR_FULL, and counts it', async () => {
  const store = new Store({ capacity: 3, overflow: 'drop_newest' });
  const seen = collect(store, { flushIntervalMs: 3600000 });
  for (let n = 0; n < 3; n++) store.add({ n });
  assert.throws(
    () => store.add({ n: 3 }),
    (error) =>
      error instanceof SluiceError &&
      error.code === 'SLUICE_ERR_FULL' &&
      error.status === 4 &&
      /buffer is full \(3 events/.test(error.message),
  );
  assert.equal(store.stats().rejected, 1);
  await store.flush(5000);
  assert.deepEqual(
    seen.events.map((e) => e.n),
    [0, 1, 2],
  );
  await store.close();
});

test('drop_oldest keeps the newest events and counts what each exporter lost', async () => {
  const store = new Store({ capacity: 3 });
  const seen = collect(store, { flushIntervalMs: 3600000 });
  for (let n = 0; n < 5; n++) store.add({ n });
  const { exporters } = store.stats();
  assert.equal(exporters[0].dropped, 2);
  assert.deepEqual(exporters[0].droppedReasons, { overflow: 2, shutdown: 0 });
  await store.flush(5000);
  assert.deepEqual(
    seen.events.map((e) => e.n),
    [2, 3, 4],
  );
  await store.close();
});

test('invalid events are refused with the library message and counted', async () => {
  const store = new Store({ maxEventBytes: 64 });
  const refusals = [
    ['{"key":', /invalid JSON/],
    ['[1,2]', /./],
    ['{"userKey": 42}', /userKey/],
    [Buffer.concat([Buffer.from('{"key":"'), Buffer.from([0xff]), Buffer.from('"}')]), /UTF-8/],
    [`{"key":"${'x'.repeat(100)}"}`, /max_event_bytes \(64\)/],
    ['', /./],
  ];
  for (const [event, message] of refusals) {
    assert.throws(
      () => store.add(event),
      (error) =>
        error instanceof SluiceError &&
        error.code === 'SLUICE_ERR_INVALID_EVENT' &&
        message.test(error.message),
      String(event),
    );
  }
  assert.equal(store.stats().invalid, refusals.length);
  assert.equal(store.stats().accepted, 0);
  await store.close();
});

test('a closed store refuses events with SLUICE_ERR_CLOSED and still reports stats', async () => {
  const store = new Store();
  store.add({ key: 'before' });
  assert.equal(store.closed, false);
  await store.close(1000);
  assert.equal(store.closed, true);
  assert.throws(() => store.add({ key: 'after' }), { name: 'SluiceError', code: 'SLUICE_ERR_CLOSED' });
  assert.throws(() => store.addExporter(() => {}), { code: 'SLUICE_ERR_CLOSED' });
  await assert.rejects(store.flush(10), { code: 'SLUICE_ERR_CLOSED' });
  const stats = store.stats();
  assert.equal(stats.closed, true);
  assert.equal(stats.accepted, 1);
  await store.close();
  await store.close(0);
});

test(
  'Symbol.asyncDispose closes the store',
  { skip: !Symbol.asyncDispose && 'no Symbol.asyncDispose in this Node' },
  async () => {
    const store = new Store();
    await store[Symbol.asyncDispose]();
    assert.equal(store.closed, true);
  },
);
