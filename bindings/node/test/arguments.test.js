'use strict';
// Bad arguments throw TypeError or RangeError before anything reaches the library; what only
// the library can judge comes back as a SluiceError with its message.

const test = require('node:test');
const assert = require('node:assert/strict');
const { Store, SluiceError, setLogger } = require('sluice');

function throwsType(fn, message) {
  assert.throws(fn, (error) => error instanceof TypeError && message.test(error.message), message.source);
}

function throwsRange(fn, message) {
  assert.throws(fn, (error) => error instanceof RangeError && message.test(error.message), message.source);
}

test('store options: wrong types, unknown keys and values out of range', () => {
  throwsType(() => new Store(42), /options must be an object, not number 42/);
  throwsType(() => new Store([]), /options must be an object, not an array/);
  throwsType(() => new Store(null), /options must be an object, not null/);
  throwsType(() => new Store({ capacty: 1 }), /unknown option 'capacty'/);
  throwsType(() => new Store({ max_bytes: 1 }), /unknown option 'max_bytes'/);
  throwsType(() => new Store({ capacity: '10' }), /options.capacity must be a number, not the string "10"/);
  throwsRange(
    () => new Store({ capacity: 0 }),
    /options.capacity must be an integer from 1 to 4294967296, not 0/,
  );
  throwsRange(() => new Store({ capacity: 1.5 }), /options.capacity/);
  throwsRange(() => new Store({ capacity: 2 ** 32 + 1 }), /options.capacity/);
  throwsRange(() => new Store({ maxBytes: -1 }), /options.maxBytes/);
  throwsRange(
    () => new Store({ overflow: 'drop' }),
    /options.overflow must be one of 'drop_oldest', 'drop_newest', 'block', not 'drop'/,
  );
  throwsType(() => new Store({ overflow: true }), /options.overflow must be a string/);
  throwsRange(() => new Store({ blockTimeoutMs: -5 }), /options.blockTimeoutMs/);
  throwsRange(() => new Store({ blockTimeoutMs: NaN }), /options.blockTimeoutMs/);
  throwsRange(() => new Store({ maxEventBytes: 1 }), /options.maxEventBytes must be an integer from 2/);
});

test('store options that only the library can judge give SLUICE_ERR_INVALID_ARGUMENT', () => {
  assert.throws(
    () => new Store({ maxBytes: 10, maxEventBytes: 11 }),
    (error) =>
      error instanceof SluiceError &&
      error.code === 'SLUICE_ERR_INVALID_ARGUMENT' &&
      error.message === 'store config: `max_event_bytes` (11) must not exceed `max_bytes` (10)',
  );
});

test('events: anything but an object, a string or bytes', async () => {
  const store = new Store();
  for (const [event, shown] of [
    [undefined, 'undefined'],
    [null, 'null'],
    [42, 'number 42'],
    [true, 'boolean true'],
    [[{ key: 'a' }], 'an array'],
    [new Map(), 'object'],
    [() => {}, 'function'],
  ]) {
    throwsType(
      () => store.add(event),
      new RegExp(`event must be an object, a JSON string or a Buffer, not ${shown}`),
    );
  }
  assert.throws(() => store.add({ n: 1n }), TypeError, 'BigInt is not JSON');
  const cyclic = {};
  cyclic.self = cyclic;
  assert.throws(() => store.add(cyclic), TypeError);
  assert.equal(store.stats().invalid, 0, 'nothing reached the library');
  await store.close();
});

test('feature and track: key, fields and their types', async () => {
  const store = new Store();
  throwsType(() => store.feature(undefined, { userKey: 'u' }), /key must be a string, not undefined/);
  throwsType(() => store.feature(7, { userKey: 'u' }), /key must be a string, not number 7/);
  throwsRange(() => store.feature('', { userKey: 'u' }), /key must not be empty/);
  throwsType(() => store.feature('flag'), /fields must be an object, not undefined/);
  throwsType(() => store.feature('flag', 'u-1'), /fields must be an object/);
  throwsType(() => store.feature('flag', {}), /fields.userKey must be a string, not undefined/);
  throwsType(() => store.feature('flag', { userKey: 'u', userkey: 'u' }), /unknown field 'userkey'/);
  throwsType(
    () => store.feature('flag', { userKey: 'u', variation: 1 }),
    /fields.variation must be a string/,
  );
  throwsType(
    () => store.feature('flag', { userKey: 'u', default: 'no' }),
    /fields.default must be a boolean/,
  );
  throwsType(
    () => store.feature('flag', { userKey: 'u', metadata: [] }),
    /fields.metadata must be an object/,
  );
  throwsType(
    () => store.feature('flag', { userKey: 'u', creationDate: '2024' }),
    /fields.creationDate must be a number/,
  );
  throwsRange(
    () => store.feature('flag', { userKey: 'u', creationDate: 1.5 }),
    /fields.creationDate must be an integer/,
  );
  throwsType(
    () => store.feature('flag', { userKey: 'u', value: () => 1 }),
    /fields.value must be a JSON value, not function/,
  );
  throwsType(
    () => store.feature('flag', { userKey: 'u', value: Symbol('s') }),
    /fields.value must be a JSON value/,
  );
  assert.throws(() => store.feature('flag', { userKey: 'u', value: 10n }), TypeError, 'BigInt is not JSON');
  throwsType(() => store.track('metric', { userKey: 'u', details: 5 }), /fields.details must be an object/);
  throwsType(() => store.track('metric', { userKey: 'u', value: 5 }), /unknown field 'value'/);
  throwsType(
    () => store.track('metric', { userKey: 'u', evaluationContext: 'x' }),
    /fields.evaluationContext must be an object/,
  );
  assert.equal(store.stats().accepted + store.stats().invalid, 0);
  await store.close();
});

test('exporter: function and options', async () => {
  const store = new Store();
  throwsType(() => store.addExporter(), /exporter must be a function, not undefined/);
  throwsType(() => store.addExporter({ export() {} }), /exporter must be a function/);
  throwsType(() => store.addExporter(() => {}, 'json'), /options must be an object/);
  throwsType(() => store.addExporter(() => {}, { batchSize: 5 }), /unknown option 'batchSize'/);
  throwsType(() => store.addExporter(() => {}, { max_batch_size: 5 }), /unknown option 'max_batch_size'/);
  throwsRange(
    () => store.addExporter(() => {}, { format: 'xml' }),
    /options.format must be one of 'json', 'jsonl'/,
  );
  throwsRange(() => store.addExporter(() => {}, { maxBatchSize: 0 }), /options.maxBatchSize/);
  throwsRange(() => store.addExporter(() => {}, { maxBatchSize: 2 ** 24 + 1 }), /options.maxBatchSize/);
  throwsRange(() => store.addExporter(() => {}, { flushThreshold: 0 }), /options.flushThreshold/);
  throwsRange(() => store.addExporter(() => {}, { flushIntervalMs: 0 }), /options.flushIntervalMs/);
  throwsType(() => store.addExporter(() => {}, { bulk: 'yes' }), /options.bulk must be true or false/);
  throwsType(() => store.addExporter(() => {}, { name: 5 }), /options.name must be a string/);
  throwsRange(() => store.addExporter(() => {}, { initialBackoffMs: -1 }), /options.initialBackoffMs/);
  throwsRange(() => store.addExporter(() => {}, { maxBackoffMs: 2 ** 32 }), /options.maxBackoffMs/);
  assert.throws(() => store.addExporter(() => {}, { initialBackoffMs: 10, maxBackoffMs: 5 }), {
    name: 'SluiceError',
    code: 'SLUICE_ERR_INVALID_ARGUMENT',
    message: 'exporter options: `initial_backoff_ms` must not exceed `max_backoff_ms`',
  });
  assert.deepEqual(store.stats().exporters, []);
  await store.close();
});

test('built-in exporters: options are checked before the library is asked', async () => {
  const store = new Store();
  throwsType(() => store.addFileExporter(), /options.dir is required/);
  throwsType(() => store.addFileExporter('/tmp'), /options must be an object, not the string "\/tmp"/);
  throwsType(() => store.addFileExporter({ format: 'csv' }), /options.dir is required/);
  throwsType(() => store.addFileExporter({ dir: 5 }), /options.dir must be a string/);
  throwsType(
    () => store.addFileExporter({ dir: '/tmp', csv_template: 'x' }),
    /unknown option 'csv_template'/,
  );
  throwsRange(
    () => store.addFileExporter({ dir: '/tmp', format: 'jsonl' }),
    /options.format must be one of 'json', 'csv', 'parquet'/,
  );
  throwsRange(
    () => store.addFileExporter({ dir: '/tmp', parquetCompression: 'lz4' }),
    /options.parquetCompression/,
  );
  throwsType(() => store.addLogExporter({ template: 1 }), /options.template must be a string/);
  throwsType(() => store.addLogExporter({ format: 'json' }), /unknown option 'format'/);
  throwsRange(
    () => store.addLogExporter({ target: 'stdout' }),
    /options.target must be one of 'log', 'stderr'/,
  );
  throwsType(() => store.addLogExporter('stderr'), /options must be an object/);
  await store.close();
});

test('timeouts and exporter ids', async () => {
  const store = new Store();
  for (const call of [(t) => store.flush(t), (t) => store.close(t), (t) => store.removeExporter(1, t)]) {
    await assert.rejects(call('1000'), { name: 'TypeError', message: /timeoutMs must be a number/ });
    await assert.rejects(call(-1), {
      name: 'RangeError',
      message: /timeoutMs must be an integer from 0 to 4294967295, not -1/,
    });
    await assert.rejects(call(2.5), RangeError);
    await assert.rejects(call(Infinity), RangeError);
  }
  await assert.rejects(store.removeExporter('1'), { name: 'TypeError', message: /id must be a number/ });
  await assert.rejects(store.removeExporter(0), {
    name: 'RangeError',
    message: /id must be a positive integer/,
  });
  await assert.rejects(store.removeExporter(1.5), RangeError);
  await assert.rejects(
    store.removeExporter(99),
    (error) =>
      error instanceof SluiceError &&
      error.code === 'SLUICE_ERR_NOT_FOUND' &&
      /no exporter with id 99/.test(error.message),
  );
  assert.equal(store.closed, false, 'the bad close calls did not close it');
  await store.close();
});

test('setLogger: logger and level', () => {
  throwsType(() => setLogger('console'), /logger must be a function/);
  throwsType(() => setLogger({ info() {} }), /logger must be a function .* or null/);
  throwsType(() => setLogger(() => {}, 'debug'), /options must be an object/);
  throwsType(() => setLogger(() => {}, { level: 3 }), /options.level must be a string/);
  throwsRange(
    () => setLogger(() => {}, { level: 'verbose' }),
    /options.level must be one of error, warn, info, debug/,
  );
  setLogger(null);
});
