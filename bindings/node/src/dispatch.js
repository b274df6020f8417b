'use strict';
// Dispatch listeners (store.onDispatch): told of every export attempt of every exporter, retries
// included, always on the main thread.
//
// - The binding's own exporters report from their loop (src/exporter.js), on the main thread,
//   after the exporter function settled and before the outcome is reported to the library.
// - The library's built-in exporters (files, log lines, webhooks) run on library threads. A store
//   that has both listeners and built-in exporters registers one C listener, through one koffi
//   callback registered for the life of the process (like the log callback: never
//   unregistered, so a library thread can never call a released one). koffi queues a call made
//   on a library thread to the main thread, and the library thread waits until it is taken.
//   The C listener has no release callback: the library calls it when the listener is removed
//   or the store closes, possibly on the thread-pool thread running close() while it holds the
//   store's close lock; after process.exit() that call would never be taken, and Node joins the
//   pool's threads on the way out. The userdata is a number that names the store here instead,
//   and a call for a store that is gone is ignored.
// A listener that throws or rejects is logged (see src/log.js) and changes nothing.

const { load } = require('./library');
const { check } = require('./errors');
const { log } = require('./log');
const { Batch, parseEvents } = require('./exporter');

const OK = 0;

/** One export attempt, as listeners see it: the batch, and whether it was exported. */
class Dispatch extends Batch {
  #events = null;

  constructor(exporterId, eventCount, format, text, ok) {
    super(exporterId, eventCount, format, text);
    /** true when the batch was exported; false when it failed and its events will be retried. */
    this.ok = ok;
  }

  /** The batch's events, parsed on first use (one array, shared by every listener). */
  get events() {
    this.#events ??= parseEvents(this.text, this.format);
    return this.#events;
  }
}

function describeFailure(error) {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

/** The listeners of one store, by id. */
class Listeners {
  #listeners = new Map();
  #nextId = 1;

  get size() {
    return this.#listeners.size;
  }

  add(listener) {
    const id = this.#nextId++;
    this.#listeners.set(id, listener);
    return id;
  }

  /** Says whether `id` was a listener. */
  remove(id) {
    return this.#listeners.delete(id);
  }

  /** Calls every listener with `dispatch`. Never throws. */
  notify(dispatch) {
    for (const [id, listener] of [...this.#listeners]) {
      // One removed by an earlier listener of this round is not called any more.
      if (!this.#listeners.has(id)) continue;
      const failed = (error) =>
        log(
          'error',
          `dispatch listener ${id} failed on an attempt of exporter ${dispatch.exporterId} ` +
            `(exporting goes on): ${describeFailure(error)}`,
        );
      try {
        const result = listener(dispatch);
        if (typeof result?.then === 'function') result.then(undefined, failed);
      } catch (error) {
        failed(error);
      }
    }
  }
}

// ---- the C listener of the library's own exporters ---------------------------------------

/** Stores with a C listener, by the number their userdata holds. */
const receivers = new Map();
let nextKey = 1;
let trampoline = null;

function relay(userdata, exporterId, data, length, eventCount, result) {
  try {
    receivers.get(Number(userdata))?.(Number(exporterId), data, Number(length), Number(eventCount), result === OK);
  } catch {
    // Nothing may unwind into the library; listeners' own failures are logged by notify.
  }
}

/**
 * The C listener of one store: added while the store has listeners and built-in exporters.
 * `receive(exporterId, data, length, eventCount, ok)` runs on the main thread; `data` is a
 * pointer valid only during the call.
 */
class LibraryListener {
  #handle;
  #key = nextKey++;
  #receive;
  #id = null;

  constructor(handle, receive) {
    this.#handle = handle;
    this.#receive = receive;
  }

  get added() {
    return this.#id !== null;
  }

  add() {
    const native = load();
    trampoline ??= native.koffi.register(relay, native.koffi.pointer(native.dispatchFn));
    receivers.set(this.#key, this.#receive);
    const out = [null];
    try {
      check(native.addListener(this.#handle, trampoline, BigInt(this.#key), null, out));
    } catch (error) {
      receivers.delete(this.#key);
      throw error;
    }
    this.#id = out[0];
  }

  remove() {
    // Only SLUICE_ERR_NOT_FOUND can come back: the store closed, which removed it already.
    load().removeListener(this.#handle, this.#id);
    this.forget();
  }

  /** The store closed: the library has dropped the listener. */
  forget() {
    this.#id = null;
    receivers.delete(this.#key);
  }
}

module.exports = { Dispatch, Listeners, LibraryListener };
