'use strict';
// The library's own exporters (sluice_store_add_exporter): files and log lines. Skipped, with
// the reason, when the loaded library predates that function.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { Store, SluiceError, setLogger } = require('sluice');
const { skipUnless } = require('./support');

const skip = skipUnless('sluice_store_add_exporter', 'addExporter');

function tempDir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-node-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Every line of every file in `dir`, files in name order. */
function readLines(dir) {
  return fs
    .readdirSync(dir)
    .sort()
    .flatMap((name) => fs.readFileSync(path.join(dir, name), 'utf8').split('\n').filter(Boolean));
}

test(
  'addFileExporter writes JSON lines files holding exactly the accepted events, in order',
  { skip },
  async (t) => {
    const dir = path.join(tempDir(t), 'created');
    const store = new Store();
    const id = store.addFileExporter({
      dir,
      name: 'files',
      maxBatchSize: 40,
      filename: 'events-{{ .Timestamp}}.{{ .Format}}',
    });
    const events = Array.from({ length: 100 }, (_, n) => ({
      kind: 'feature',
      creationDate: 1700000000 + n,
      key: `flag-${n}`,
      value: n,
    }));
    for (const event of events) store.add(event);
    await store.flush(10000);
    assert.deepEqual(
      readLines(dir).map((line) => JSON.parse(line)),
      events,
    );
    assert.ok(
      fs.readdirSync(dir).every((name) => /^events-\d+(_\d+)?\.json$/.test(name)),
      fs.readdirSync(dir).join(),
    );
    const stats = store.stats().exporters.find((e) => e.id === id);
    assert.deepEqual([stats.name, stats.exported, stats.batches, stats.pending], ['files', 100, 3, 0]);
    await store.close();
  },
);

test('addFileExporter renders CSV from its template', { skip }, async (t) => {
  const dir = tempDir(t);
  const store = new Store();
  store.addFileExporter({ dir, format: 'csv', csvTemplate: '{{ .Key}};{{ .UserKey}};{{ .Value}}\n' });
  store.feature('checkout', { userKey: 'u-1', value: 'a;b' });
  store.feature('banner', { userKey: 'u-2', value: { on: true } });
  await store.flush(10000);
  assert.deepEqual(readLines(dir), ['checkout;u-1;"a;b"', 'banner;u-2;"{""on"":true}"']);
  await store.close();
});

test('addFileExporter refuses a bad template and a directory it cannot create', { skip }, async (t) => {
  const store = new Store();
  assert.throws(
    () => store.addFileExporter({ dir: tempDir(t), format: 'csv', csvTemplate: '{{ .Key' }),
    (error) =>
      error instanceof SluiceError &&
      error.code === 'SLUICE_ERR_INVALID_ARGUMENT' &&
      /csv_template/.test(error.message),
  );
  assert.throws(
    () => store.addFileExporter({ dir: tempDir(t), filename: '{{ .Nope}}.json' }),
    (error) => error.code === 'SLUICE_ERR_INVALID_ARGUMENT' && /Nope/.test(error.message),
  );
  const file = path.join(tempDir(t), 'a-file');
  fs.writeFileSync(file, '');
  assert.throws(() => store.addFileExporter({ dir: path.join(file, 'sub') }), {
    name: 'SluiceError',
    code: 'SLUICE_ERR_IO',
  });
  assert.deepEqual(store.stats().exporters, []);
  await store.close();
});

test(
  'addLogExporter sends one line per event to the logger, from its library thread',
  { skip },
  async (t) => {
    t.after(() => setLogger(null));
    const lines = [];
    setLogger((level, message) => lines.push(`${level} ${message}`));
    const store = new Store();
    store.addLogExporter({ template: '{{ .Key}}={{ .Value}} for {{ .UserKey}}' });
    store.feature('checkout', { userKey: 'u-1', value: true });
    store.track('purchase', { userKey: 'u-2', details: { total: 9.5 } });
    await store.flush(10000);
    assert.deepEqual(lines, ['info checkout=true for u-1', 'info purchase= for u-2']);
    await store.close();
  },
);

test('addLogExporter with target stderr writes to standard error', { skip }, () => {
  const child = spawnSync(
    process.execPath,
    [
      '-e',
      `const { Store } = require('sluice');
       const store = new Store();
       store.addLogExporter({ target: 'stderr', template: 'flag={{ .Key}} user={{ .UserKey}}' });
       store.feature('checkout', { userKey: 'u-1' });
       store.feature('banner', { userKey: 'u-2' });`,
    ],
    {
      cwd: path.resolve(__dirname, '..'),
      encoding: 'utf8',
      timeout: 60000,
      env: { ...process.env, SLUICE_LOG: '' },
    },
  );
  assert.equal(child.status, 0, child.stderr);
  assert.equal(child.stderr, 'flag=checkout user=u-1\nflag=banner user=u-2\n');
});
