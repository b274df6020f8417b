'use strict';
// Library log lines reach the logger set with setLogger, from the main thread and from the
// thread pool alike, filtered by level; setLogger(null) stops them.

const test = require('node:test');
const assert = require('node:assert/strict');
const { Store, setLogger } = require('sluice');

const RETRY = { initialBackoffMs: 1, maxBackoffMs: 1 };

/** A store whose one exporter fails once, then succeeds: the library logs one warning. */
async function failOnce() {
  const store = new Store();
  let calls = 0;
  store.addExporter(() => calls++ > 0, { name: 'flaky', ...RETRY });
  store.add({ key: 'k' });
  await store.flush(10000);
  await store.close();
}

/** A store closed before its held exporter could export: the library logs from a pool thread. */
async function dropAtClose() {
  const store = new Store();
  let release;
  const held = new Promise((resolve) => {
    release = resolve;
  });
  store.addExporter(() => held, { bulk: false });
  store.add({ key: 'a' });
  store.add({ key: 'b' });
  await store.close(20).catch(() => {});
  release();
}

test('a function logger gets the warning of a failed export', async (t) => {
  t.after(() => setLogger(null));
  const lines = [];
  setLogger((level, message) => lines.push([level, message]));
  await failOnce();
  assert.deepEqual(lines, [
    [
      'warn',
      'exporter 1 (flaky) failed to export 1 events, retrying in 1 ms: the pull exporter reported a failure',
    ],
  ]);
});

test('lines logged on a pool thread reach the logger on the main thread', async (t) => {
  t.after(() => setLogger(null));
  const lines = [];
  setLogger((level, message) => lines.push([level, message]));
  await dropAtClose();
  assert.deepEqual(lines, [
    ['warn', 'close: 2 events were not exported by the deadline (dropped, reason shutdown)'],
  ]);
});

test('an object logger (console-like) gets each line by its level method', async (t) => {
  t.after(() => setLogger(null));
  const calls = [];
  const logger = Object.fromEntries(
    ['error', 'warn', 'info', 'debug'].map((l) => [l, (m) => calls.push([l, m])]),
  );
  setLogger(logger, { level: 'debug' });
  await failOnce();
  assert.equal(calls.length, 1);
  assert.equal(calls[0][0], 'warn');
});

test('lines above the level are not delivered', async (t) => {
  t.after(() => setLogger(null));
  const lines = [];
  setLogger((level, message) => lines.push([level, message]), { level: 'error' });
  await failOnce();
  await dropAtClose();
  assert.deepEqual(lines, []);
});

test('setLogger(null) stops the lines, and a logger that throws does not break the library', async () => {
  const lines = [];
  setLogger((level, message) => lines.push(message));
  setLogger(null);
  await failOnce();
  assert.deepEqual(lines, []);
  setLogger(() => {
    throw new Error('logger down');
  });
  await failOnce();
  await dropAtClose();
  setLogger(null);
});
