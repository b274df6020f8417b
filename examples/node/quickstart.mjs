// sluice quick start: record feature and tracking events, export them in batches, read the stats.
//
// Run it with `make demo`, or `bindings/node/run.sh examples/node/quickstart.mjs`.

import { Store, setLogger } from "sluice";

// The library's own log lines (retries, dropped events) go to any logger; console will do.
setLogger(console, { level: "info" });

const store = new Store({ capacity: 100_000 });

// Runs on the main thread with each batch (parsed events). Throw, reject, or return false, and
// the same events are offered again, in order, after a backoff.
let attempts = 0;
store.addExporter(
  async (events) => {
    attempts += 1;
    if (attempts === 1) throw new Error("collector not ready yet"); // the first try fails
    console.log(`exporting ${events.length} events:`);
    for (const event of events) console.log(`  ${JSON.stringify(event)}`);
  },
  {
    name: "stdout",
    maxBatchSize: 500,
    flushIntervalMs: 5000,
    initialBackoffMs: 50,
  },
);

// Told of every export attempt of every exporter, retries included (Optimizely's OnEventDispatch).
store.onDispatch(({ exporterId, eventCount, ok }) => {
  console.log(`attempt of exporter ${exporterId}: ${eventCount} events, ${ok ? "exported" : "failed"}`);
});

store.feature("new-checkout", {
  userKey: "u-42",
  contextKind: "user",
  variation: "on",
  value: true,
  default: false,
  version: "v3",
  source: "SERVER",
});
store.track("checkout-completed", {
  userKey: "u-42",
  details: { total: 99.5 },
});
store.add(
  Buffer.from(
    '{"key": "dark-mode", "userKey": "u-7", "variation": "off", "value": false}',
  ),
);

await store.flush(5000); // resolves once the exporter has every event added so far
const [exporter] = store.stats().exporters;
console.log(
  `exporter '${exporter.name}': ${exporter.exported} exported, ${exporter.pending} pending, ` +
    `${exporter.dropped} dropped, ${exporter.failedAttempts} failed attempt(s)`,
);

await store.close(5000); // stops intake and releases the exporters
