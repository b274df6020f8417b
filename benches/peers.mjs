// The Node rows of benches/run.sh: a koffi call that does nothing, sluice, posthog-node and
// @segment/analytics-node, on the same event.
//
//   SLUICE_LIBRARY=target/release/libsluice.so node benches/peers.mjs [--quick]
//
// Runs every row five times (three with --quick), alternating their order, each run in a process of
// its own, and prints one JSON object per row and run on standard output, which benches/report.py
// turns into the table; never asserts a speed. `--quick` runs the sluice rows alone (the peers need not be
// installed; SLUICE_NODE_BINDING may name the binding's folder when benches/node_modules is
// absent). Each run times the calls and then one turn of the event loop (setImmediate): posthog
// and segment do part of each call's work in promise callbacks, which run on this thread before
// the next turn. Then the row's pipeline is shut down and its counters read.
//
// posthog-node and segment post to a closed port on 127.0.0.1, so they deliver nothing. They keep
// their default retries; after the run their shutdown gets DRAIN_MS (their retries back off for
// longer), and what they still hold then is lost. segment's closeAndFlush aborts its requests at
// the deadline and then reports each event as an `error` event (counted as dropped); posthog-node
// reports a failed flush without saying which events, and its full queue drops the oldest event
// silently.

import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const quick = process.argv.includes('--quick');
const N = quick ? 20_000 : 200_000;
const RUNS = quick ? 3 : 5;
/** How long a peer's shutdown may take after a run; what it still holds then is lost. */
const DRAIN_MS = 1_000;
/** How long sluice may take to export everything on close (it takes well under a second). */
const FLUSH_MS = 120_000;

const require = createRequire(import.meta.url);
const bindingEntry = require.resolve(process.env.SLUICE_NODE_BINDING ?? 'sluice');
const { Store, version } = require(bindingEntry);
const koffi = createRequire(bindingEntry)('koffi');

const EVENT = {
  kind: 'feature',
  contextKind: 'user',
  creationDate: 1700000000,
  key: 'new-checkout-flow',
  userKey: 'user-00042',
  variation: 'enabled',
  value: true,
  default: false,
};
const EVENT_BUFFER = Buffer.from(JSON.stringify(EVENT));
/** The same event as the peers take it: everything but the user, who is an argument of its own. */
const { userKey: USER, ...PROPERTIES } = EVENT;

async function timed(loop) {
  const start = process.hrtime.bigint();
  loop();
  await new Promise(setImmediate);
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** A loopback port nothing listens on: bound, then closed, so connecting is refused. */
async function closedPort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// --- the floor and sluice ------------------------------------------------------------------

function koffiFloor() {
  if (!process.env.SLUICE_LIBRARY) throw new Error('SLUICE_LIBRARY must name libsluice.so');
  const sluiceVersion = koffi.load(process.env.SLUICE_LIBRARY).func('const char *sluice_version(void)');
  return async (n) => ({
    seconds: await timed(() => {
      for (let i = 0; i < n; i++) sluiceVersion();
    }),
    refused: null,
  });
}

/** A run of `body(store)` on a store of capacity n whose exporter counts the events it receives. */
function sluiceRow(body) {
  return async (n) => {
    const store = new Store({ capacity: n, maxBytes: 2 ** 30 });
    let exported = 0;
    store.addExporter(
      (events, batch) => {
        exported += batch.eventCount;
      },
      { format: 'jsonl', maxBatchSize: 1000 },
    );
    const seconds = await timed(() => body(store, n));
    await store.close(FLUSH_MS);
    const stats = store.stats();
    return {
      seconds,
      refused: stats.rejected,
      accepted: stats.accepted,
      exported,
      dropped: stats.exporters[0].dropped,
    };
  };
}

function addBuffer(store, n) {
  for (let i = 0; i < n; i++) store.add(EVENT_BUFFER);
}

function addObject(store, n) {
  for (let i = 0; i < n; i++) store.add(EVENT);
}

function feature(store, n) {
  for (let i = 0; i < n; i++) {
    store.feature('new-checkout-flow', {
      userKey: 'user-00042',
      contextKind: 'user',
      creationDate: 1700000000,
      variation: 'enabled',
      value: true,
      default: false,
    });
  }
}

// --- posthog-node and segment --------------------------------------------------------------

/** `queue` undefined: posthog-node's default; 0: n + 10. */
function posthogRow(queue) {
  return async (n) => {
    const { PostHog } = await import('posthog-node');
    const client = new PostHog('phc_sluice_bench', {
      host: `http://127.0.0.1:${await closedPort()}`,
      ...(queue === undefined ? {} : { maxQueueSize: queue === 0 ? n + 10 : queue }),
    });
    let errorEvents = 0;
    client.on('error', () => {
      errorEvents += 1;
    });
    const seconds = await timed(() => {
      for (let i = 0; i < n; i++)
        client.capture({ distinctId: USER, event: 'feature', properties: PROPERTIES });
    });
    await client.shutdown(DRAIN_MS);
    // A batch that failed to send stays queued; the queue lives in memory and ends with the process.
    const leftQueued = (client.getPersistedProperty('queue') ?? []).length;
    return {
      seconds,
      accepted: n,
      exported: 0,
      dropped: 0,
      refused: 0,
      queue: client.maxQueueSize,
      queued_at_end: leftQueued,
      drain_seconds: DRAIN_MS / 1000,
      error_events: errorEvents,
    };
  };
}

function segmentRow() {
  return async (n) => {
    const { Analytics } = await import('@segment/analytics-node');
    const analytics = new Analytics({
      writeKey: 'sluice-bench',
      host: `http://127.0.0.1:${await closedPort()}`,
    });
    let failed = 0;
    analytics.on('error', (error) => {
      if (error.code === 'delivery_failure') failed += 1;
    });
    const seconds = await timed(() => {
      for (let i = 0; i < n; i++) analytics.track({ userId: USER, event: 'feature', properties: PROPERTIES });
    });
    await analytics.closeAndFlush({ timeout: DRAIN_MS });
    // The aborted requests report their events a moment later.
    const deadline = Date.now() + DRAIN_MS;
    while (analytics._pendingEvents > 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    return {
      seconds,
      accepted: n,
      exported: 0,
      dropped: failed,
      refused: 0,
      queued_at_end: analytics._pendingEvents,
      drain_seconds: DRAIN_MS / 1000,
    };
  };
}

// --- the table -----------------------------------------------------------------------------

const SLUICE_ROWS = [
  ['floor', 'koffi call that does nothing: sluice_version()', koffiFloor()],
  ['add_buffer', 'sluice add(Buffer)', sluiceRow(addBuffer)],
  ['add_object', 'sluice add(object)', sluiceRow(addObject)],
  ['feature', 'sluice feature(...)', sluiceRow(feature)],
];
const PEER_ROWS = [
  [
    'posthog_default',
    (r) => `posthog-node capture, default queue (${r.queue.toLocaleString('en-US')})`,
    posthogRow(undefined),
  ],
  [
    'posthog_large',
    (r) => `posthog-node capture, queue of N + 10 (${r.queue.toLocaleString('en-US')})`,
    posthogRow(0),
  ],
  ['segment', '@segment/analytics-node track (no queue bound)', segmentRow()],
];
const PEER_PACKAGES = ['posthog-node', '@segment/analytics-node'];

/** The longest one run of one row may take, its peer's drain included. */
const RUN_TIMEOUT_MS = 600_000;

/**
 * Measures one run of one row and prints it; the process then ends, whatever the row's peer still
 * has in flight (its timers and sockets would otherwise run inside the next row's timing).
 */
async function measureOne(rowId) {
  const [row, label, measure] = [...SLUICE_ROWS, ...PEER_ROWS].find(([id]) => id === rowId);
  const result = await measure(N);
  console.log(
    JSON.stringify({
      table: 'node',
      row,
      label: typeof label === 'function' ? label(result) : label,
      n: N,
      event_bytes: EVENT_BUFFER.length,
      ...result,
    }),
  );
  process.exit(0);
}

const rowArg = process.argv.indexOf('--row');
if (rowArg !== -1) await measureOne(process.argv[rowArg + 1]);

const rows = quick ? SLUICE_ROWS : [...SLUICE_ROWS, ...PEER_ROWS];
const versions = { node: process.version, sluice: version, koffi: koffi.version };
if (!quick) {
  for (const name of PEER_PACKAGES) {
    const manifest = new URL(`./node_modules/${name}/package.json`, import.meta.url);
    versions[name] = JSON.parse(readFileSync(manifest, 'utf8')).version;
  }
}
console.log(JSON.stringify({ table: 'node', versions }));
for (let run = 0; run < RUNS; run++) {
  for (const [row] of run % 2 === 0 ? rows : [...rows].reverse()) {
    const child = spawnSync(
      process.execPath,
      [fileURLToPath(import.meta.url), '--row', row, ...(quick ? ['--quick'] : [])],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
        encoding: 'utf8',
        timeout: RUN_TIMEOUT_MS,
      },
    );
    if (child.status !== 0)
      throw new Error(`row ${row} failed: ${child.error ?? `exit status ${child.status}`}`);
    console.log(JSON.stringify({ ...JSON.parse(child.stdout), run }));
  }
}
