// Calls per second of the Node binding's hot paths, for 200,000 events each, beside koffi calls
// that do nothing in the library. A benchmark, not a test: it prints figures and asserts none.
//
//   node bindings/node/bench.mjs [events]

import { Store, version } from 'sluice';
import koffi from 'koffi';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const native = require('./src/library.js').load();
const EVENTS = Number(process.argv[2] ?? 200_000);
const DATE = 1700000000;

function event(n) {
  return {
    kind: 'feature',
    contextKind: 'user',
    userKey: `u-${n % 1000}`,
    creationDate: DATE,
    key: 'new-checkout',
    variation: 'on',
    value: n % 2 === 0,
    default: false,
  };
}

// Every input is made before the clock starts: the figures are the binding's and the library's.
const objects = Array.from({ length: EVENTS }, (_, n) => event(n));
const strings = objects.map((e) => JSON.stringify(e));
const buffers = strings.map((s) => Buffer.from(s));
const fields = objects.map(({ kind, key, ...rest }) => rest);

/**
 * Runs `body(store, i)` for i in [0, EVENTS) on a fresh store (no exporter: intake alone) and
 * returns calls per second; `adds` says how many events the store must then hold.
 */
function measure(body, adds) {
  const store = new Store({ capacity: EVENTS, maxBytes: 1 << 30 });
  const started = process.hrtime.bigint();
  for (let i = 0; i < EVENTS; i++) body(store, i);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const { accepted } = store.stats();
  if (accepted !== adds) throw new Error(`${adds} events added, ${accepted} accepted`);
  void store.close(0);
  return EVENTS / seconds;
}

const cases = [
  ['koffi call: sluice_batch_event_count(NULL)', () => native.batchEventCount(null), 0],
  ['koffi call: sluice_version() (returns a string)', () => native.version(), 0],
  ['add(Buffer)', (store, i) => store.add(buffers[i])],
  ['add(string)', (store, i) => store.add(strings[i])],
  ['add(object)', (store, i) => store.add(objects[i])],
  ['feature(key, fields)', (store, i) => store.feature('new-checkout', fields[i])],
];

const ROUNDS = 5;

// Warm-up: let V8 optimise every path once.
for (const [, body, adds = EVENTS] of cases) measure(body, adds);

console.log(
  `sluice ${version}, node ${process.version}, koffi ${koffi.version}: ` +
    `${EVENTS} calls each, median of ${ROUNDS} rounds`,
);
for (const [name, body, adds = EVENTS] of cases) {
  const rates = Array.from({ length: ROUNDS }, () => measure(body, adds)).sort((a, b) => a - b);
  const rate = rates[ROUNDS >> 1];
  console.log(
    `${name.padEnd(48)} ${Math.round(rate).toLocaleString('en-US').padStart(12)} calls/s  ${(1e9 / rate).toFixed(0).padStart(6)} ns/call`,
  );
}
