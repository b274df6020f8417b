'use strict';
// Checks JS options (camelCase) and turns them into the library's JSON (snake_case keys).
// A value of the wrong type or an unknown key is a TypeError, a value out of range a
// RangeError, both thrown before anything reaches the library. Rules that tie two keys together
// (initialBackoffMs <= maxBackoffMs, maxEventBytes <= maxBytes) are the library's to check.

const U32_MAX = 2 ** 32 - 1;

function describe(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  return `${typeof value} ${String(value)}`;
}

function integer(min, max) {
  return (value, name) => {
    if (typeof value !== 'number') throw new TypeError(`${name} must be a number, not ${describe(value)}`);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new RangeError(`${name} must be an integer from ${min} to ${max}, not ${value}`);
    }
    return value;
  };
}

function oneOf(...allowed) {
  return (value, name) => {
    if (typeof value !== 'string') throw new TypeError(`${name} must be a string, not ${describe(value)}`);
    if (!allowed.includes(value)) {
      throw new RangeError(
        `${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, not '${value}'`,
      );
    }
    return value;
  };
}

function string(value, name) {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a string, not ${describe(value)}`);
  return value;
}

function boolean(value, name) {
  if (typeof value !== 'boolean')
    throw new TypeError(`${name} must be true or false, not ${describe(value)}`);
  return value;
}

function object(value, name) {
  if (!isPlainObject(value)) throw new TypeError(`${name} must be an object, not ${describe(value)}`);
  return value;
}

function stringValues(value, name) {
  object(value, name);
  for (const [key, item] of Object.entries(value)) string(item, `${name}.${key}`);
  return value;
}

const millis = integer(0, U32_MAX);

/** Each JS option: [its key in the library's JSON, its check]. */
const STORE = {
  capacity: ['capacity', integer(1, 2 ** 32)],
  maxBytes: ['max_bytes', integer(1, 2 ** 40)],
  overflow: ['overflow', oneOf('drop_oldest', 'drop_newest', 'block')],
  blockTimeoutMs: ['block_timeout_ms', millis],
  maxEventBytes: ['max_event_bytes', integer(2, 2 ** 32)],
};

const BATCHING = {
  name: ['name', string],
  maxBatchSize: ['max_batch_size', integer(1, 2 ** 24)],
  flushThreshold: ['flush_threshold', integer(1, 2 ** 32)],
  flushIntervalMs: ['flush_interval_ms', integer(1, U32_MAX)],
  bulk: ['bulk', boolean],
  initialBackoffMs: ['initial_backoff_ms', millis],
  maxBackoffMs: ['max_backoff_ms', millis],
};

const EXPORTER = { ...BATCHING, format: ['format', oneOf('json', 'jsonl')] };

const FILE_EXPORTER = {
  ...BATCHING,
  dir: ['dir', string],
  filename: ['filename', string],
  format: ['format', oneOf('json', 'csv', 'parquet')],
  csvTemplate: ['csv_template', string],
  parquetCompression: ['parquet_compression', oneOf('snappy', 'gzip', 'zstd', 'uncompressed')],
};

const LOG_EXPORTER = {
  ...BATCHING,
  template: ['template', string],
  target: ['target', oneOf('log', 'stderr')],
};

const WEBHOOK_EXPORTER = {
  ...BATCHING,
  secret: ['secret', string],
  headers: ['headers', stringValues],
  meta: ['meta', object],
  timeoutMs: ['timeout_ms', millis],
  gzip: ['gzip', boolean],
  caFile: ['ca_file', string],
  maxBodyBytes: ['max_body_bytes', integer(1, 2 ** 40)],
};

function isPlainObject(value) {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Checks `options` against `table` and returns the library's config object (undefined values
 * are left out). `what` names the options in messages.
 */
function convert(options, table, what, extra = {}) {
  if (options === undefined) return { ...extra };
  if (!isPlainObject(options)) throw new TypeError(`${what} must be an object, not ${describe(options)}`);
  const config = { ...extra };
  for (const [key, value] of Object.entries(options)) {
    const entry = Object.hasOwn(table, key) ? table[key] : undefined;
    if (!entry) {
      const known = Object.keys(table).join(', ');
      throw new TypeError(`${what}: unknown option '${key}' (known: ${known})`);
    }
    if (value === undefined) continue;
    const [cKey, check] = entry;
    config[cKey] = check(value, `${what}.${key}`);
  }
  return config;
}

/** A timeout in milliseconds: an integer from 0 to 2^32 - 1; `fallback` when undefined. */
function timeoutMs(value, fallback, name = 'timeoutMs') {
  if (value === undefined) return fallback;
  return millis(value, name);
}

module.exports = {
  convert,
  timeoutMs,
  describe,
  isPlainObject,
  tables: { STORE, EXPORTER, FILE_EXPORTER, LOG_EXPORTER, WEBHOOK_EXPORTER },
};
