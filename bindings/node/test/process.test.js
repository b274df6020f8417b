'use strict';
// The store and the life of the process, tried in child processes: an idle store does not keep
// it alive, events left pending are exported on 'beforeExit' (also by the webhook exporter, whose
// listeners hear it), process.exit() neither crashes nor hangs. The spawn timeout only catches a
// hang; nothing here measures time.

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { skipUnless } = require('./support');

const packageDir = path.resolve(__dirname, '..');
const HANG = 60000;

/** Runs `source` (CommonJS) in a child node whose cwd is the package, so `require('sluice')` works. */
function runChild(source, env = {}, nodeOptions = []) {
  const child = spawnSync(process.execPath, [...nodeOptions, '-e', source], {
    cwd: packageDir,
    encoding: 'utf8',
    timeout: HANG,
    env: { ...process.env, SLUICE_LOG: '', ...env },
  });
  assert.equal(child.error, undefined, `the child did not end within ${HANG} ms`);
  return child;
}

/**
 * Runs `source`, which prints one JSON report at 'exit'; checks that the child exited on its own,
 * cleanly and closed, and returns the report.
 */
function runReport(source) {
  const child = runChild(source);
  assert.equal(child.signal, null);
  assert.equal(child.status, 0, child.stderr);
  assert.equal(child.stderr, '');
  const report = JSON.parse(child.stdout);
  assert.equal(report.code, 0);
  assert.equal(report.closed, true);
  return report;
}

test('a child that adds events and never closes exports them all and exits on its own', () => {
  const report = runReport(`
    const { Store } = require('sluice');
    const store = new Store();
    const keys = [];
    store.addExporter(async (events) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      keys.push(...events.map((e) => e.key));
    }, { maxBatchSize: 100, flushIntervalMs: 3600000 });
    for (let n = 0; n < 1234; n++) store.feature('flag-' + n, { userKey: 'u' });
    process.on('exit', (code) => {
      const [exporter] = store.stats().exporters;
      console.log(JSON.stringify({ code, closed: store.closed, keys, exporter }));
    });
  `);
  assert.deepEqual(
    report.keys,
    Array.from({ length: 1234 }, (_, n) => `flag-${n}`),
  );
  assert.deepEqual(
    [report.exporter.exported, report.exporter.pending, report.exporter.dropped, report.exporter.batches],
    [1234, 0, 0, 13],
  );
});

test('an idle store does not keep the process alive, and is closed on the way out', () => {
  const child = runChild(`
    const { Store } = require('sluice');
    const store = new Store();
    store.addExporter(() => {});
    const other = new Store();
    process.on('exit', () => console.log(JSON.stringify([store.closed, other.closed])));
  `);
  assert.equal(child.status, 0, child.stderr);
  assert.equal(child.stdout.trim(), '[true,true]');
});

test('process.exit() during polls, exports, a flush and cross-thread log lines neither crashes nor hangs', () => {
  for (const delay of [0, 1, 3, 10, 30]) {
    const child = runChild(`
      const { Store, setLogger } = require('sluice');
      setLogger(() => {}, { level: 'debug' });
      const stores = [new Store(), new Store({ capacity: 500 })];
      for (const store of stores) {
        for (let i = 0; i < 3; i++) {
          store.addExporter(async (events) => {
            await new Promise((resolve) => setTimeout(resolve, 2));
            return events.length % 2 === 0;
          }, { maxBatchSize: 7, initialBackoffMs: 1, maxBackoffMs: 2 });
        }
        for (let n = 0; n < 20000; n++) store.add({ key: 'k', n });
        store.flush(60000).catch(() => {});
      }
      stores[1].close(1).catch(() => {});
      setTimeout(() => process.exit(7), ${delay});
    `);
    assert.equal(child.signal, null, `delay ${delay}: ${child.stderr}`);
    assert.equal(child.status, 7, `delay ${delay}: ${child.stderr}`);
  }
});

test('without a logger the library is silent, unless SLUICE_LOG asks for standard error', () => {
  const source = `
    const { Store } = require('sluice');
    const store = new Store();
    let failures = 0;
    store.addExporter(() => failures++ > 0, { initialBackoffMs: 1, maxBackoffMs: 1 });
    store.add({ key: 'k' });
    store.flush(10000).then(() => store.close());
  `;
  const silent = runChild(source);
  assert.equal(silent.status, 0);
  assert.equal(silent.stderr, '');
  const loud = runChild(source, { SLUICE_LOG: 'warn' });
  assert.equal(loud.status, 0);
  assert.equal(
    loud.stderr,
    'sluice warn: exporter 1 () failed to export 1 events, retrying in 1 ms: the pull exporter reported a failure\n',
  );
});

test('closed stores are freed when collected, after their held batches settle', () => {
  const child = runChild(
    `
    const { Store } = require('sluice');
    const held = [];
    async function round() {
      const store = new Store();
      store.addExporter((events) => new Promise((resolve) => held.push(resolve)), { bulk: false });
      store.add({ key: 'k' });
      store.add({ key: 'l' });
      await store.close(5).catch(() => {});
    }
    (async () => {
      for (let i = 0; i < 50; i++) await round();
      for (let i = 0; i < 3; i++) {
        global.gc();
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      held.forEach((resolve) => resolve());
      await new Promise((resolve) => setTimeout(resolve, 5));
      global.gc();
      console.log(held.length);
    })();
  `,
    {},
    ['--expose-gc'],
  );
  assert.equal(child.status, 0, child.stderr);
  assert.equal(child.stdout.trim(), '50');
});

// ---- the webhook exporter, with dispatch listeners ----------------------------------------

const skip = skipUnless('webhook exporter or dispatch listeners', 'addExporter', 'addListener');

/** A child's server: answers 500 to the first `failures` requests, then 200; `unref`'d. */
const CHILD_SERVER = `
  const http = require('node:http');
  function serve(failures, received, ready) {
    const server = http.createServer((request, response) => {
      const chunks = [];
      request.on('data', (chunk) => chunks.push(chunk));
      request.on('end', () => {
        const ok = failures-- <= 0;
        if (ok) received.push(...JSON.parse(Buffer.concat(chunks)).events.map((e) => e.key));
        response.statusCode = ok ? 200 : 500;
        response.end();
      });
    });
    server.listen(0, '127.0.0.1', () => ready('http://127.0.0.1:' + server.address().port + '/'));
    server.unref();
  }
`;

test(
  'a child that never closes its store exports through the webhook at beforeExit, its listener sees it, and it exits',
  { skip },
  () => {
    const report = runReport(`
      const { Store } = require('sluice');
      ${CHILD_SERVER}
      const received = [];
      serve(1, received, (url) => {
        const store = new Store();
        store.addWebhookExporter(url, { initialBackoffMs: 10, flushIntervalMs: 3600000 });
        const outcomes = [];
        store.onDispatch((dispatch) => outcomes.push([dispatch.ok, dispatch.eventCount]));
        for (let n = 0; n < 5; n++) store.add({ key: 'flag-' + n });
        process.on('exit', (code) => {
          const [exporter] = store.stats().exporters;
          console.log(JSON.stringify({ code, closed: store.closed, received, outcomes, exporter }));
        });
      });
    `);
    assert.deepEqual(report.received, ['flag-0', 'flag-1', 'flag-2', 'flag-3', 'flag-4']);
    assert.deepEqual(report.outcomes, [
      [false, 5],
      [true, 5],
    ]);
    assert.deepEqual(
      [report.exporter.exported, report.exporter.failedAttempts, report.exporter.dropped],
      [5, 1, 0],
    );
  },
);

test(
  'process.exit() while the webhook retries, with listeners and a logger, neither crashes nor hangs',
  { skip },
  () => {
    for (const delay of [0, 1, 3, 10, 30]) {
      const child = runChild(`
        const { Store, setLogger } = require('sluice');
        ${CHILD_SERVER}
        setLogger(() => {}, { level: 'debug' });
        serve(Infinity, [], (url) => {
          const store = new Store();
          store.addWebhookExporter(url, { maxBatchSize: 3, initialBackoffMs: 1, maxBackoffMs: 2 });
          store.addExporter(async () => false, { initialBackoffMs: 1, maxBackoffMs: 2 });
          store.onDispatch(() => {});
          store.onDispatch(() => {
            throw new Error('listener bug');
          });
          for (let n = 0; n < 1000; n++) store.add({ key: 'flag-' + n });
          store.flush(60000).catch(() => {});
          setTimeout(() => process.exit(7), ${delay});
        });
      `);
      assert.equal(child.signal, null, `delay ${delay}: ${child.stderr}`);
      assert.equal(child.status, 7, `delay ${delay}: ${child.stderr}`);
    }
  },
);
