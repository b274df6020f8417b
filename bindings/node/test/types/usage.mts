// Compiled by test/packaging.test.js: every method and option, typed, from an ES module.
import {
  Store,
  SluiceError,
  setLogger,
  version,
  type Stats,
  type ExportedEvent,
  type Batch,
  type Dispatch,
  type DispatchListener,
} from 'sluice';

setLogger((level, message) => console.log(level, message), { level: 'debug' });
setLogger(console);
setLogger(null);

const store = new Store({
  capacity: 100000,
  maxBytes: 1 << 26,
  overflow: 'drop_oldest',
  blockTimeoutMs: 10,
  maxEventBytes: 4096,
});
store.add({ key: 'new-checkout', userKey: 'u-42', variation: 'on', value: true });
store.add('{"key":"k"}');
store.add(Buffer.from('{"key":"k"}'));
store.feature('new-checkout', {
  userKey: 'u-42',
  variation: 'on',
  value: true,
  default: false,
  metadata: { a: 1 },
});
store.track('checkout-completed', { userKey: 'u-42', details: { total: 99.5 } });
const id: number = store.addExporter(
  async (events: ExportedEvent[], batch: Batch) => {
    const keys: (string | undefined)[] = events.map((e) => e.key);
    const bytes: Buffer = batch.data;
    return keys.length > 0 && bytes.length > 0 && batch.format === 'json';
  },
  {
    name: 'http',
    format: 'json',
    maxBatchSize: 500,
    flushThreshold: 100,
    flushIntervalMs: 5000,
    bulk: true,
    initialBackoffMs: 100,
    maxBackoffMs: 30000,
  },
);
store.addFileExporter({ dir: '/tmp/events', format: 'csv', csvTemplate: '{{ .Key}}\n', filename: 'f.csv' });
store.addFileExporter({ dir: '/tmp/events', format: 'parquet', parquetCompression: 'zstd' });
store.addLogExporter({ template: '{{ .Key}}', target: 'stderr', bulk: false });
const hook: number = store.addWebhookExporter('https://collector.example/events', {
  name: 'collector',
  secret: 's3cret',
  headers: { 'X-Api-Key': 'k' },
  meta: { service: 'checkout', region: 'eu' },
  timeoutMs: 5000,
  gzip: true,
  caFile: '/etc/ssl/extra.pem',
  maxBodyBytes: 1 << 20,
  maxBatchSize: 1000,
  initialBackoffMs: 10,
});
store.addWebhookExporter(new URL('http://127.0.0.1:8080/'));
const listener: DispatchListener = (dispatch: Dispatch) => {
  const fields: [number, number, boolean, string, Buffer] = [
    dispatch.exporterId,
    dispatch.eventCount,
    dispatch.ok,
    dispatch.text,
    dispatch.data,
  ];
  const keys: (string | undefined)[] = dispatch.events.map((e) => e.key);
  return [fields, keys, dispatch.format === 'jsonl', hook];
};
const listenerId: number = store.onDispatch(listener);
store.onDispatch(async () => {});
store.removeListener(listenerId);
await store.removeExporter(id, 1000);
await store.flush(5000);
const stats: Stats = store.stats();
const pending: number = stats.exporters[0].pending + stats.exporters[0].droppedReasons.shutdown;
try {
  await store.close(5000);
} catch (error) {
  if (error instanceof SluiceError && error.code === 'SLUICE_ERR_TIMEOUT')
    console.log(error.status, pending, version);
}
{
  await using disposable = new Store();
  disposable.add({});
}

// @ts-expect-error overflow has three values
new Store({ overflow: 'drop' });
// @ts-expect-error feature needs a userKey
store.feature('k', {});
// @ts-expect-error header values are strings
store.addWebhookExporter('http://h/', { headers: { 'X-N': 1 } });
// @ts-expect-error the webhook takes its url first
store.addWebhookExporter({ url: 'http://h/' });
// @ts-expect-error a listener id is a number
store.removeListener('1');
// @ts-expect-error formats of the file exporter
store.addFileExporter({ dir: '/tmp', format: 'jsonl' });
