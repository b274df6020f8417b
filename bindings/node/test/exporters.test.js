'use strict';
// Exporters on the pull API: retries in order, failures, flush and close while a batch is out,
// removal, and several exporters at once.

const test = require('node:test');
const assert = require('node:assert/strict');
const { Store, SluiceError } = require('sluice');

const FAST_RETRY = { initialBackoffMs: 1, maxBackoffMs: 4 };

/** A promise with its resolve function, to hold an exporter mid-Promise. */
function gate() {
  let open;
  const promise = new Promise((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

test('an async exporter that rejects twice then succeeds gets the same events again, in order', async () => {
  const store = new Store();
  const offered = [];
  const exported = [];
  let rejections = 0;
  store.addExporter(
    async (events) => {
      offered.push(events.map((e) => e.n));
      await new Promise((resolve) => setImmediate(resolve));
      if (rejections < 2) {
        rejections += 1;
        throw new Error(`collector unavailable (${rejections})`);
      }
      exported.push(...events.map((e) => e.n));
    },
    { maxBatchSize: 2, ...FAST_RETRY },
  );
  for (let n = 0; n < 5; n++) store.add({ n });
  await store.flush(10000);
  assert.deepEqual(offered, [[0, 1], [0, 1], [0, 1], [2, 3], [4]]);
  assert.deepEqual(exported, [0, 1, 2, 3, 4]);
  const [stats] = store.stats().exporters;
  assert.equal(stats.failedAttempts, 2);
  assert.equal(stats.batches, 3);
  assert.equal(stats.exported, 5);
  assert.equal(stats.pending, 0);
  assert.equal(stats.lastError, 'collector unavailable (2)');
  await store.close();
});

test('returning false and throwing synchronously also mark the batch failed', async () => {
  const store = new Store();
  const outcomes = [false, 'throw', undefined];
  const offered = [];
  store.addExporter((events) => {
    offered.push(events.map((e) => e.n));
    const outcome = outcomes.shift();
    if (outcome === 'throw') throw new RangeError('bad batch');
    return outcome;
  }, FAST_RETRY);
  store.add({ n: 1 });
  store.add({ n: 2 });
  await store.flush(10000);
  assert.deepEqual(offered, [
    [1, 2],
    [1, 2],
    [1, 2],
  ]);
  const [stats] = store.stats().exporters;
  assert.deepEqual([stats.failedAttempts, stats.exported, stats.lastError], [2, 2, 'bad batch']);
  await store.close();
});

test('batch: the layout of json and jsonl, as text and bytes', async () => {
  const store = new Store();
  const batches = [];
  const json = store.addExporter((events, batch) => batches.push({ events, batch }), { name: 'json' });
  const jsonl = store.addExporter((events, batch) => batches.push({ events, batch }), {
    name: 'jsonl',
    format: 'jsonl',
  });
  store.add('{"kind":"feature","creationDate":1,"key":"a"}');
  store.add('{"kind":"feature","creationDate":1,"key":"b","value":"line\\nbreak"}');
  await store.flush(5000);
  const byId = new Map(batches.map((b) => [b.batch.exporterId, b]));
  const a = '{"kind":"feature","creationDate":1,"key":"a"}';
  const b = '{"kind":"feature","creationDate":1,"key":"b","value":"line\\nbreak"}';
  assert.equal(byId.get(json).batch.text, `[${a},${b}]`);
  assert.equal(byId.get(json).batch.format, 'json');
  assert.equal(byId.get(jsonl).batch.text, `${a}\n${b}\n`);
  assert.equal(byId.get(jsonl).batch.format, 'jsonl');
  for (const { events, batch } of batches) {
    assert.equal(batch.eventCount, 2);
    assert.deepEqual(batch.data, Buffer.from(batch.text));
    assert.deepEqual(events, [
      { kind: 'feature', creationDate: 1, key: 'a' },
      { kind: 'feature', creationDate: 1, key: 'b', value: 'line\nbreak' },
    ]);
  }
  await store.close();
});

test('bulk false exports each event alone; maxBatchSize bounds a batch', async () => {
  const store = new Store();
  const single = [];
  const bounded = [];
  store.addExporter((events) => single.push(events.length), { bulk: false });
  store.addExporter((events) => bounded.push(events.length), { maxBatchSize: 4 });
  for (let n = 0; n < 10; n++) store.add({ n });
  await store.flush(5000);
  assert.deepEqual(single, Array(10).fill(1));
  assert.deepEqual(bounded, [4, 4, 2]);
  await store.close();
});

test('flushThreshold exports without a flush', async () => {
  const store = new Store();
  const done = gate();
  const sizes = [];
  store.addExporter(
    (events) => {
      sizes.push(events.length);
      if (sizes.length === 2) done.open();
    },
    { flushThreshold: 3, maxBatchSize: 3, flushIntervalMs: 3600000 },
  );
  for (let n = 0; n < 7; n++) store.add({ n });
  await done.promise;
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(sizes, [3, 3]);
  assert.equal(store.stats().exporters[0].pending, 1);
  await store.close();
});

test('a failing exporter delays neither another exporter nor add', async () => {
  const store = new Store();
  const done = gate();
  const failed = gate();
  const healthy = [];
  store.addExporter(
    () => {
      failed.open();
      return false;
    },
    { name: 'down', bulk: false, initialBackoffMs: 3600000, maxBackoffMs: 3600000 },
  );
  store.addExporter(
    (events) => {
      healthy.push(...events.map((e) => e.n));
      if (healthy.length === 6) done.open();
    },
    { name: 'up', bulk: false },
  );
  for (let n = 0; n < 6; n++) store.add({ n });
  await Promise.all([done.promise, failed.promise]);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(healthy, [0, 1, 2, 3, 4, 5]);
  const [down, up] = store.stats().exporters;
  assert.deepEqual([down.failedAttempts, down.exported, down.pending], [1, 0, 6]);
  assert.equal(down.lastError, 'the exporter returned false');
  assert.deepEqual([up.exported, up.pending], [6, 0]);
  await assert.rejects(
    store.close(0),
    (error) => error.code === 'SLUICE_ERR_TIMEOUT' && /6 events were not exported/.test(error.message),
  );
  assert.deepEqual(store.stats().exporters[0].droppedReasons, { overflow: 0, shutdown: 6 });
});

test('flush rejects with SLUICE_ERR_EXPORT when an exporter fails and cannot retry before the deadline', async () => {
  const store = new Store();
  store.addExporter(
    () => {
      throw new Error('HTTP 503');
    },
    { name: 'down', initialBackoffMs: 3600000, maxBackoffMs: 3600000 },
  );
  store.add({ n: 1 });
  store.add({ n: 2 });
  await assert.rejects(
    store.flush(60000),
    (error) =>
      error instanceof SluiceError &&
      error.code === 'SLUICE_ERR_EXPORT' &&
      error.status === 7 &&
      error.message ===
        'exporter 1 (down) failed during the flush; its events stay pending and are retried: HTTP 503 (SLUICE_ERR_EXPORT)',
  );
  const [down] = store.stats().exporters;
  assert.deepEqual([down.failedAttempts, down.pending, down.lastError], [1, 2, 'HTTP 503']);
  await assert.rejects(store.close(0), { code: 'SLUICE_ERR_TIMEOUT' });
});

test('flush rejects with SLUICE_ERR_TIMEOUT while an exporter holds its batch', async () => {
  const store = new Store();
  const held = gate();
  let calls = 0;
  store.addExporter(
    async () => {
      calls += 1;
      await held.promise;
    },
    { name: 'slow' },
  );
  store.add({ n: 1 });
  store.add({ n: 2 });
  await assert.rejects(store.flush(20), {
    name: 'SluiceError',
    code: 'SLUICE_ERR_TIMEOUT',
    message:
      'the deadline (20 ms) passed with 2 events not yet exported by exporter(s) 1 (slow) (SLUICE_ERR_TIMEOUT)',
  });
  held.open();
  await store.flush(5000);
  assert.equal(calls, 1);
  assert.equal(store.stats().exporters[0].exported, 2);
  await store.close();
});

test('close while an exporter is mid-Promise: the deadline drops its events, and it is called no more', async () => {
  const store = new Store();
  const held = gate();
  let calls = 0;
  let settled = false;
  store.addExporter(async () => {
    calls += 1;
    await held.promise;
    settled = true;
  });
  for (let n = 0; n < 3; n++) store.add({ n });
  const started = gate();
  const timer = setInterval(() => calls > 0 && started.open(), 1);
  store.flush(5000).catch(() => {});
  await started.promise;
  clearInterval(timer);
  await assert.rejects(store.close(30), {
    code: 'SLUICE_ERR_TIMEOUT',
    message:
      'the store is closed; 3 events were not exported within 30 ms and were dropped (reason shutdown) (SLUICE_ERR_TIMEOUT)',
  });
  assert.equal(store.closed, true);
  assert.equal(settled, false, 'close did not wait for the Promise past its deadline');
  held.open();
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(settled, true);
  const [stats] = store.stats().exporters;
  assert.deepEqual(
    [stats.exported, stats.pending, stats.dropped, stats.droppedReasons.shutdown, calls],
    [0, 0, 3, 3, 1],
  );
  await store.close();
});

test('close while an exporter is mid-Promise waits for it within the deadline', async () => {
  const store = new Store();
  const held = gate();
  const exported = [];
  store.addExporter(async (events) => {
    await held.promise;
    exported.push(...events.map((e) => e.n));
  });
  for (let n = 0; n < 3; n++) store.add({ n });
  const closing = store.close(10000);
  setTimeout(held.open, 10);
  await closing;
  assert.deepEqual(exported, [0, 1, 2]);
  const [stats] = store.stats().exporters;
  assert.deepEqual([stats.exported, stats.dropped, stats.pending], [3, 0, 0]);
});

test('removeExporter flushes that exporter, then it gets nothing more', async () => {
  const store = new Store();
  const first = [];
  const second = [];
  const a = store.addExporter((events) => first.push(...events.map((e) => e.n)), { name: 'a' });
  store.addExporter((events) => second.push(...events.map((e) => e.n)), { name: 'b' });
  store.add({ n: 1 });
  store.add({ n: 2 });
  await store.removeExporter(a, 5000);
  assert.deepEqual(first, [1, 2]);
  store.add({ n: 3 });
  await store.flush(5000);
  assert.deepEqual(first, [1, 2]);
  assert.deepEqual(second, [1, 2, 3]);
  assert.deepEqual(
    store.stats().exporters.map((e) => e.name),
    ['b'],
  );
  await assert.rejects(store.removeExporter(a), {
    code: 'SLUICE_ERR_NOT_FOUND',
    message: `no exporter with id ${a} (SLUICE_ERR_NOT_FOUND)`,
  });
  await store.close();
});

test('six exporters share the thread pool and each gets every event', async () => {
  const store = new Store();
  const received = Array.from({ length: 6 }, () => []);
  received.forEach((list, i) =>
    store.addExporter(
      async (events) => {
        await new Promise((resolve) => setImmediate(resolve));
        list.push(...events.map((e) => e.n));
      },
      { name: `e${i}`, maxBatchSize: 64 },
    ),
  );
  const expected = Array.from({ length: 1000 }, (_, n) => n);
  for (const n of expected) store.add({ n });
  await store.flush(30000);
  for (const list of received) assert.deepEqual(list, expected);
  for (const e of store.stats().exporters)
    assert.deepEqual([e.exported, e.pending, e.batches], [1000, 0, 16]);
  await store.close();
});
