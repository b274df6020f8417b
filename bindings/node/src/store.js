'use strict';
// The Store: events in (add, feature, track), exporters out, dispatch listeners (see
// src/dispatch.js), and the calls that wait (flush, close, removeExporter), which run the
// library's blocking call on the thread pool and return Promises. Open stores are closed on
// 'beforeExit'; a closed store is freed when collected.

const { load } = require('./library');
const { status, check, lastError, asyncError } = require('./errors');
const { convert, timeoutMs, describe, isPlainObject, tables } = require('./options');
const { PullExporter } = require('./exporter');
const { Dispatch, Listeners, LibraryListener } = require('./dispatch');
const { pool } = require('./pool');
const { detachLogger } = require('./log');

const DEFAULT_TIMEOUT_MS = 5000;

const native = load();
const { koffi } = native;

// ---- the process --------------------------------------------------------------------------
// When the event loop runs dry ('beforeExit'), open stores are closed: their exporters still
// run, so pending events are exported. On process.exit() ('exit') nothing JS runs any more, and
// Node joins the thread pool's threads before the process ends: a flush waiting there would hold
// the exit for its whole deadline. So the store is closed at once (deadline 0), which ends those
// waits; its unexported events are counted as dropped (reason shutdown). A library thread that
// waits for the main thread (to hand over a log line or a dispatch) is inside a host call: close
// does not wait for it. A close or removal already running keeps its own deadline (the library
// runs them one at a time), and may log when it ends, from its pool thread: only then is the log
// callback removed (see detachLogger).

const openStores = new Set();
const closeNow = Symbol('closeNow');
let exitHooksInstalled = false;
/** Closes and removals running on the thread pool, in every store. */
let exclusiveWaits = 0;

function installExitHooks() {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on('beforeExit', () => {
    for (const store of openStores) {
      // A failure was logged by the library (SLUICE_LOG or setLogger); the store is closed anyway.
      store.close(DEFAULT_TIMEOUT_MS).catch(() => {});
    }
  });
  process.on('exit', () => {
    detachLogger({ removeCallback: exclusiveWaits > 0 });
    for (const store of openStores) store[closeNow]();
  });
}

// Only closed stores can be collected (open ones are in openStores), so freeing is quick.
const freeing = new FinalizationRegistry((handle) => native.storeFree(handle));

// ---- events --------------------------------------------------------------------------------

// Each field's check returns the field's JSON text (undefined leaves the field out).

function optional(check) {
  return (value, name) => (value === undefined ? undefined : check(value, name));
}

function requireString(value, name) {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a string, not ${describe(value)}`);
  if (value.length === 0) throw new RangeError(`${name} must not be empty`);
  return JSON.stringify(value);
}

const fieldJson = {
  string(value, name) {
    if (typeof value !== 'string') throw new TypeError(`${name} must be a string, not ${describe(value)}`);
    return JSON.stringify(value);
  },
  boolean(value, name) {
    if (typeof value !== 'boolean') throw new TypeError(`${name} must be a boolean, not ${describe(value)}`);
    return value ? 'true' : 'false';
  },
  object(value, name) {
    if (!isPlainObject(value)) throw new TypeError(`${name} must be an object, not ${describe(value)}`);
    return JSON.stringify(value);
  },
  seconds(value, name) {
    if (typeof value !== 'number') throw new TypeError(`${name} must be a number, not ${describe(value)}`);
    if (!Number.isSafeInteger(value)) {
      throw new RangeError(`${name} must be an integer (Unix seconds), not ${value}`);
    }
    return String(value);
  },
  any(value, name) {
    if (value === undefined) return undefined;
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError(`${name} must be a JSON value, not ${describe(value)}`);
    return text;
  },
};

/**
 * The layout of a go-feature-flag event: its fields in order, each `[field, check (to JSON text),
 * name in the JSON]`; KEY marks where the method's `key` argument goes.
 */
const KEY = Symbol('key');

function eventLayout(kind, entries) {
  const fields = entries.map((entry) => {
    if (entry === KEY) return { field: KEY, prefix: ',"key":' };
    const [field, check, json = field] = entry;
    return { field, check, name: `fields.${field}`, prefix: `,${JSON.stringify(json)}:` };
  });
  const known = new Set(entries.filter((e) => e !== KEY).map(([field]) => field));
  return { start: `{"kind":${JSON.stringify(kind)}`, fields, known };
}

// Who, when and which flag or metric: the same first fields in both kinds of event.
const SUBJECT = [
  ['contextKind', optional(fieldJson.string)],
  ['userKey', requireString],
  ['creationDate', optional(fieldJson.seconds)],
  KEY,
];

const FEATURE = eventLayout('feature', [
  ...SUBJECT,
  ['variation', optional(fieldJson.string)],
  ['value', fieldJson.any],
  ['default', optional(fieldJson.boolean)],
  ['version', optional(fieldJson.string)],
  ['source', optional(fieldJson.string)],
  ['metadata', optional(fieldJson.object)],
]);

const TRACK = eventLayout('tracking', [
  ...SUBJECT,
  ['evaluationContext', optional(fieldJson.object)],
  ['details', optional(fieldJson.object), 'trackingEventDetails'],
  ['metadata', optional(fieldJson.object)],
]);

/** Checks `key` and `fields` against `layout` and writes the event's JSON, fields in order. */
function eventJson(layout, key, fields) {
  const keyText = requireString(key, 'key');
  if (!isPlainObject(fields)) throw new TypeError(`fields must be an object, not ${describe(fields)}`);
  for (const field in fields) {
    if (!layout.known.has(field)) {
      throw new TypeError(`fields: unknown field '${field}' (known: ${[...layout.known].join(', ')})`);
    }
  }
  let json = layout.start;
  for (const { field, check, name, prefix } of layout.fields) {
    const text = field === KEY ? keyText : check(fields[field], name);
    if (text !== undefined) json += prefix + text;
  }
  return `${json}}`;
}

function checkId(id) {
  if (typeof id !== 'number') throw new TypeError(`id must be a number, not ${describe(id)}`);
  if (!Number.isSafeInteger(id) || id < 1) throw new RangeError(`id must be a positive integer, not ${id}`);
}

// ---- stats ---------------------------------------------------------------------------------

function camelCase(key) {
  return key.replace(/_([a-z])/g, (_, letter) => letter.toUpperCase());
}

function camelKeys(value) {
  if (Array.isArray(value)) return value.map(camelKeys);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [camelCase(k), camelKeys(v)]));
}

// ---- the store -----------------------------------------------------------------------------

class Store {
  #handle;
  /** What an exporter's loop needs of its store. */
  #owner;
  #exporters = new Map();
  /** Flushes, closes and removals in progress: the exporters keep polling for them. */
  #waiters = 0;
  #closing = null;
  #closed = false;
  /** Ids of the library's own exporters (files, log lines, webhooks), which run on library threads. */
  #builtInExporters = new Set();
  #listeners = new Listeners();
  /** Tells the listeners of the built-in exporters' attempts. */
  #libraryListener;

  /**
   * @param {object} [options] capacity, maxBytes, overflow, blockTimeoutMs, maxEventBytes
   */
  constructor(options) {
    const config = convert(options, tables.STORE, 'options');
    const out = [null];
    check(native.storeNew(JSON.stringify(config), out));
    this.#handle = out[0];
    this.#owner = {
      handle: this.#handle,
      busy: () => this.#waiters > 0,
      pending: (id) => this.#rawStats().exporters.find((e) => e.id === id)?.pending ?? 0,
      attempted: (batch, exported) => {
        if (this.#listeners.size === 0) return;
        const { exporterId, eventCount, format, text } = batch;
        this.#listeners.notify(new Dispatch(exporterId, eventCount, format, text, exported));
      },
    };
    this.#libraryListener = new LibraryListener(this.#handle, (exporterId, data, length, eventCount, ok) => {
      // The binding's own exporters were reported by their loop.
      if (!this.#builtInExporters.has(exporterId) || this.#listeners.size === 0) return;
      const text = koffi.decode.string(data, length);
      this.#listeners.notify(new Dispatch(exporterId, eventCount, 'jsonl', text, ok));
    });
    openStores.add(this);
    installExitHooks();
    freeing.register(this, this.#handle);
  }

  /** Accepts one event: an object, a JSON string, or the JSON's UTF-8 bytes (Buffer, Uint8Array). */
  add(event) {
    let code;
    if (typeof event === 'string') {
      code = native.storeAddString(this.#handle, event, Buffer.byteLength(event));
    } else if (event instanceof Uint8Array) {
      code = native.storeAddBytes(this.#handle, event, event.byteLength);
    } else if (isPlainObject(event) || typeof event?.toJSON === 'function') {
      const json = JSON.stringify(event);
      code = native.storeAddString(this.#handle, json, Buffer.byteLength(json));
    } else {
      throw new TypeError(`event must be an object, a JSON string or a Buffer, not ${describe(event)}`);
    }
    if (code !== status.OK) throw lastError(code);
    this.#wakeExporters();
  }

  /** Adds a feature (flag evaluation) event. */
  feature(key, fields) {
    this.add(eventJson(FEATURE, key, fields));
  }

  /** Adds a tracking (custom metric) event; `fields.details` becomes `trackingEventDetails`. */
  track(key, fields) {
    this.add(eventJson(TRACK, key, fields));
  }

  /**
   * Adds an exporter: `exporter(events, batch)` gets each batch (events parsed, `batch.text`
   * as laid out); it may be async. A throw, a rejection or `false` marks the batch failed: the
   * library offers the same events again, in order, after backoff. Returns the exporter's id.
   */
  addExporter(exporter, options) {
    if (typeof exporter !== 'function') {
      throw new TypeError(`exporter must be a function, not ${describe(exporter)}`);
    }
    const config = convert(options, tables.EXPORTER, 'options');
    const out = [null];
    check(native.addPullExporter(this.#handle, JSON.stringify(config), out));
    const id = Number(out[0]);
    const pump = new PullExporter(this.#owner, id, exporter, config.format ?? 'json');
    this.#exporters.set(id, pump);
    return id;
  }

  /** Adds the library's file exporter (JSON lines, CSV or Parquet files in `options.dir`). */
  addFileExporter(options) {
    const config = convert(options, tables.FILE_EXPORTER, 'options', { type: 'file' });
    if (config.dir === undefined) throw new TypeError('options.dir is required');
    return this.#addBuiltIn(config);
  }

  /** Adds the library's log exporter: one line per event, to the logger (see setLogger) or stderr. */
  addLogExporter(options) {
    return this.#addBuiltIn(convert(options, tables.LOG_EXPORTER, 'options', { type: 'log' }));
  }

  /** Adds the library's webhook exporter: each batch POSTed to `url` as one JSON document. */
  addWebhookExporter(url, options) {
    if (url instanceof URL) url = url.href;
    if (typeof url !== 'string') throw new TypeError(`url must be a string or a URL, not ${describe(url)}`);
    return this.#addBuiltIn(convert(options, tables.WEBHOOK_EXPORTER, 'options', { type: 'webhook', url }));
  }

  /**
   * Calls `listener(dispatch)` after every export attempt of every exporter, retries included,
   * on the main thread. Returns the listener's id, for removeListener.
   */
  onDispatch(listener) {
    if (typeof listener !== 'function') {
      throw new TypeError(`listener must be a function, not ${describe(listener)}`);
    }
    if (this.#closing || this.#closed) throw asyncError(status.CLOSED, 'the store is closed');
    const id = this.#listeners.add(listener);
    try {
      this.#updateLibraryListener();
    } catch (error) {
      this.#listeners.remove(id);
      throw error;
    }
    return id;
  }

  /** Stops calls to listener `id`. Throws SLUICE_ERR_NOT_FOUND for an unknown id. */
  removeListener(id) {
    checkId(id);
    if (!this.#listeners.remove(id)) throw asyncError(status.NOT_FOUND, `no listener with id ${id}`);
    this.#updateLibraryListener();
  }

  #addBuiltIn(config) {
    let addExporter;
    try {
      addExporter = native.addExporter;
    } catch (cause) {
      const error = new Error(
        `this libsluice (${native.file}) has no sluice_store_add_exporter; rebuild it from current sources`,
        { cause },
      );
      error.code = 'ERR_SLUICE_MISSING_SYMBOL';
      throw error;
    }
    // The C listener comes first, so that it hears of the exporter's first attempt.
    if (this.#listeners.size > 0 && !this.#libraryListener.added) this.#libraryListener.add();
    const out = [null];
    try {
      check(addExporter(this.#handle, JSON.stringify(config), out));
      this.#builtInExporters.add(Number(out[0]));
    } finally {
      this.#updateLibraryListener();
    }
    return Number(out[0]);
  }

  /** Adds the C listener when listeners and built-in exporters are there, removes it when not. */
  #updateLibraryListener() {
    if (this.#closed) return;
    const wanted = this.#listeners.size > 0 && this.#builtInExporters.size > 0;
    if (wanted && !this.#libraryListener.added && !this.#closing) this.#libraryListener.add();
    if (!wanted && this.#libraryListener.added) this.#libraryListener.remove();
  }

  /** Flushes exporter `id`, then stops and releases it. Resolves once it is removed. */
  async removeExporter(id, timeout) {
    checkId(id);
    const ms = timeoutMs(timeout, DEFAULT_TIMEOUT_MS);
    try {
      await this.#wait(native.removeExporter, [id], ms, (code) =>
        code === status.NOT_FOUND
          ? `no exporter with id ${id}`
          : code === status.TIMEOUT
            ? `exporter ${id} was removed; some of its events were not exported within ${ms} ms`
            : `removing exporter ${id} failed`,
      );
    } finally {
      this.#exporters.get(id)?.stop();
      this.#exporters.delete(id);
      this.#builtInExporters.delete(id);
      this.#updateLibraryListener();
    }
  }

  /** Resolves when every event added before the call has been exported or dropped by policy. */
  async flush(timeout) {
    const ms = timeoutMs(timeout, DEFAULT_TIMEOUT_MS);
    await this.#wait(native.storeFlush, [], ms, (code) => this.#flushFailure(code, ms));
  }

  /**
   * Stops intake, flushes for up to `timeout` ms and stops every exporter. The store is closed
   * whatever the outcome; a SluiceError SLUICE_ERR_TIMEOUT says events were dropped. Closing
   * again resolves at once.
   */
  async close(timeout) {
    const ms = timeoutMs(timeout, DEFAULT_TIMEOUT_MS);
    if (this.#closed) return;
    if (this.#closing) {
      // As the library does: a second close does not repeat the first one's outcome.
      await this.#closing.catch(() => {});
      return;
    }
    this.#closing = this.#wait(native.storeClose, [], ms, (code) =>
      code === status.TIMEOUT
        ? `the store is closed; ${this.#droppedAtShutdown()} events were not exported within ${ms} ms ` +
          'and were dropped (reason shutdown)'
        : 'closing the store failed',
    ).finally(() => this.#markClosed());
    await this.#closing;
  }

  /** A snapshot of the counters (camelCase keys; see index.d.ts). */
  stats() {
    const stats = camelKeys(this.#rawStats());
    for (const exporter of stats.exporters) {
      const message = this.#exporters.get(exporter.id)?.lastError;
      if (exporter.lastError !== null && message) exporter.lastError = message;
    }
    return stats;
  }

  get closed() {
    return this.#closed;
  }

  async [Symbol.asyncDispose ?? Symbol.for('nodejs.asyncDispose')]() {
    await this.close();
  }

  // ---- internals ---------------------------------------------------------------------------

  /** Closes the store from the 'exit' handler, without waiting (see the top of this file). */
  [closeNow]() {
    native.storeClose(this.#handle, 0);
    this.#markClosed();
  }

  #markClosed() {
    this.#closed = true;
    openStores.delete(this);
    for (const pump of this.#exporters.values()) pump.stop();
    // Closing dropped the C listener.
    this.#libraryListener.forget();
  }

  #rawStats() {
    const out = [null];
    check(native.storeStats(this.#handle, out));
    try {
      return JSON.parse(koffi.decode.string(out[0]));
    } finally {
      native.stringFree(out[0]);
    }
  }

  #wakeExporters() {
    for (const pump of this.#exporters.values()) pump.wake();
  }

  /** Runs a blocking call (`fn(store, ...args, timeout)`) on the thread pool while the exporters poll. */
  async #wait(fn, args, ms, describeFailure) {
    const started = performance.now();
    // Close and removal: serialised by the library, and they may log as they end.
    const exclusive = fn !== native.storeFlush;
    this.#waiters += 1;
    if (exclusive) exclusiveWaits += 1;
    this.#wakeExporters();
    let code;
    try {
      code = await pool.call('wait', fn, () => [
        this.#handle,
        ...args,
        Math.max(0, ms - Math.floor(performance.now() - started)),
      ]);
    } finally {
      this.#waiters -= 1;
      if (exclusive) exclusiveWaits -= 1;
    }
    if (code === status.CLOSED) throw asyncError(code, 'the store is closed');
    if (code !== status.OK) throw asyncError(code, describeFailure(code));
  }

  #flushFailure(code, ms) {
    const exporters = this.#rawStats().exporters.filter((e) => e.pending > 0);
    const label = (e) => `${e.id}${e.name ? ` (${e.name})` : ''}`;
    if (code === status.EXPORT) {
      const failed = exporters.find((e) => e.last_error) ?? exporters[0];
      if (!failed) return 'an exporter failed during the flush';
      const message = this.#exporters.get(failed.id)?.lastError ?? failed.last_error;
      return `exporter ${label(failed)} failed during the flush; its events stay pending and are retried: ${message}`;
    }
    if (code === status.TIMEOUT) {
      const pending = exporters.reduce((n, e) => n + e.pending, 0);
      return `the deadline (${ms} ms) passed with ${pending} events not yet exported by exporter(s) ${exporters.map(label).join(', ')}`;
    }
    return 'flush failed';
  }

  #droppedAtShutdown() {
    return this.#rawStats().exporters.reduce((n, e) => n + e.dropped_reasons.shutdown, 0);
  }
}

module.exports = { Store, DEFAULT_TIMEOUT_MS };
