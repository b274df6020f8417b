'use strict';
// Dispatch listeners (onDispatch, removeListener) with the binding's own exporters: one call per
// export attempt, retries included, after the exporter settled and before the flush sees the
// outcome; failures of listeners are logged and change nothing. The library's webhook exporter
// and its listeners are tried in webhook.test.js.

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { Store, SluiceError } = require('sluice');

const RETRY = { initialBackoffMs: 10, maxBackoffMs: 20 };

test('a JS exporter that rejects twice: the listener hears each attempt right after it, with its outcome', async () => {
  const store = new Store();
  const calls = [];
  let rejections = 0;
  const id = store.addExporter(
    async (events) => {
      calls.push(`export ${events.map((e) => e.n).join(',')}`);
      if (rejections < 2) {
        rejections += 1;
        throw new Error(`collector unavailable (${rejections})`);
      }
    },
    { maxBatchSize: 2, ...RETRY },
  );
  const attempts = [];
  store.onDispatch((dispatch) => {
    calls.push(`dispatch ${dispatch.ok}`);
    attempts.push(dispatch);
  });
  for (let n = 0; n < 3; n++) store.add({ kind: 'feature', creationDate: 1700000000, n });
  await store.flush(10000);

  assert.deepEqual(calls, [
    'export 0,1',
    'dispatch false',
    'export 0,1',
    'dispatch false',
    'export 0,1',
    'dispatch true',
    'export 2',
    'dispatch true',
  ]);
  assert.deepEqual(
    attempts.map((a) => [a.exporterId, a.ok, a.eventCount, a.events.map((e) => e.n)]),
    [
      [id, false, 2, [0, 1]],
      [id, false, 2, [0, 1]],
      [id, true, 2, [0, 1]],
      [id, true, 1, [2]],
    ],
  );
  const text = '[{"kind":"feature","creationDate":1700000000,"n":2}]';
  assert.deepEqual([attempts[3].format, attempts[3].text], ['json', text]);
  assert.deepEqual(attempts[3].data, Buffer.from(text));
  const [stats] = store.stats().exporters;
  assert.deepEqual([stats.exported, stats.failedAttempts, stats.batches], [3, 2, 2]);
  await store.close();
});

test('every listener gets every attempt; jsonl batches come as JSON lines; ids count from 1', async () => {
  const store = new Store();
  const a = [];
  const b = [];
  const id = store.addExporter(() => true, { format: 'jsonl' });
  assert.equal(store.onDispatch((dispatch) => a.push(dispatch)), 1);
  assert.equal(store.onDispatch((dispatch) => b.push(dispatch.events)), 2);
  store.add({ kind: 'feature', creationDate: 1, key: 'x' });
  store.add({ kind: 'feature', creationDate: 2, key: 'y' });
  await store.flush(10000);
  assert.equal(a.length, 1);
  assert.deepEqual([a[0].exporterId, a[0].ok, a[0].eventCount, a[0].format], [id, true, 2, 'jsonl']);
  assert.equal(a[0].text, '{"kind":"feature","creationDate":1,"key":"x"}\n{"kind":"feature","creationDate":2,"key":"y"}\n');
  assert.deepEqual(b, [a[0].events]);
  await store.close();
});

test('a listener that throws, or rejects, breaks nothing: exporting and the other listeners go on', async () => {
  const store = new Store();
  let calls = 0;
  store.addExporter(() => ++calls > 1, RETRY);
  store.onDispatch(() => {
    throw new Error('listener bug');
  });
  store.onDispatch(() => Promise.reject(new Error('async listener bug')));
  const outcomes = [];
  store.onDispatch((dispatch) => outcomes.push(dispatch.ok));
  store.add({ key: 'k' });
  await store.flush(10000);
  store.add({ key: 'l' });
  await store.flush(10000);
  assert.deepEqual(outcomes, [false, true, true]);
  const [stats] = store.stats().exporters;
  assert.deepEqual([stats.exported, stats.failedAttempts, stats.pending], [2, 1, 0]);
  await store.close();
});

test('without a logger a failing listener is silent, unless SLUICE_LOG asks for standard error', () => {
  const source = `
    const { Store } = require('sluice');
    const store = new Store();
    store.addExporter(() => true, { name: 'quiet' });
    store.onDispatch(() => {
      throw new TypeError('listener bug');
    });
    store.add({ key: 'k' });
    store.flush(10000).then(() => store.close());
  `;
  const run = (level) =>
    spawnSync(process.execPath, ['-e', source], {
      cwd: path.resolve(__dirname, '..'),
      encoding: 'utf8',
      timeout: 60000,
      env: { ...process.env, SLUICE_LOG: level },
    });
  const silent = run('');
  assert.equal(silent.status, 0, silent.stderr);
  assert.equal(silent.stderr, '');
  const loud = run('error');
  assert.equal(loud.status, 0, loud.stderr);
  assert.match(
    loud.stderr,
    /^sluice error: dispatch listener 1 failed on an attempt of exporter 1 \(exporting goes on\): TypeError: listener bug\n {4}at /,
  );
});

test('removeListener stops the calls at once, even from inside a call', async () => {
  const store = new Store();
  store.addExporter(() => true, { bulk: false });
  const first = [];
  const second = [];
  const a = store.onDispatch((dispatch) => first.push(dispatch.events[0].key));
  const b = store.onDispatch((dispatch) => {
    second.push(dispatch.events[0].key);
    store.removeListener(b);
  });
  store.add({ key: 'one' });
  await store.flush(10000);
  store.removeListener(a);
  store.add({ key: 'two' });
  await store.flush(10000);
  assert.deepEqual(first, ['one']);
  assert.deepEqual(second, ['one']);
  const [stats] = store.stats().exporters;
  assert.equal(stats.exported, 2);
  await store.close();
});

test('removeListener: unknown ids throw SLUICE_ERR_NOT_FOUND, bad ids TypeError or RangeError', async () => {
  const store = new Store();
  const id = store.onDispatch(() => {});
  store.removeListener(id);
  for (const unknown of [id, 99]) {
    assert.throws(
      () => store.removeListener(unknown),
      (error) =>
        error instanceof SluiceError &&
        error.code === 'SLUICE_ERR_NOT_FOUND' &&
        error.status === 8 &&
        error.message === `no listener with id ${unknown} (SLUICE_ERR_NOT_FOUND)`,
    );
  }
  assert.throws(() => store.removeListener('1'), { name: 'TypeError', message: /id must be a number/ });
  assert.throws(() => store.removeListener(0), { name: 'RangeError', message: /id must be a positive integer/ });
  assert.throws(() => store.removeListener(1.5), RangeError);
  await store.close();
});

test('onDispatch takes a function, and only while the store is open', async () => {
  const store = new Store();
  assert.throws(() => store.onDispatch(), { name: 'TypeError', message: /listener must be a function, not undefined/ });
  assert.throws(() => store.onDispatch({ handleEvent() {} }), TypeError);
  const id = store.onDispatch(() => {});
  await store.close();
  assert.throws(() => store.onDispatch(() => {}), { name: 'SluiceError', code: 'SLUICE_ERR_CLOSED' });
  store.removeListener(id);
});
