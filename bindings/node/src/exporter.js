'use strict';
// Drives one pull exporter from the event loop: poll off the main thread (a koffi async call
// that waits at most POLL_WAIT_MS), hand the batch to the user's function, report the outcome
// with sluice_batch_complete. Batching, triggers, retry and backoff stay in the library.
//
// The loop runs only while it has work: events pending for this exporter, or a flush, close or
// removal of its store waiting for it. Between two polls it yields through an unref'd timer, so a
// process with nothing else to do reaches 'beforeExit' (where open stores are closed) at most
// one poll wait after its last event.

const { load } = require('./library');
const { status } = require('./errors');
const { pool } = require('./pool');

const POLL_WAIT_MS = 250;
// When other exporters wait for a turn on the thread pool, shorter waits rotate faster.
const POLL_WAIT_SHARED_MS = 50;

function yieldToLoop() {
  return new Promise((resolve) => setTimeout(resolve, 1).unref());
}

/** The events of a batch, whatever its format: jsonl is one object per line, each line ending in \n. */
function parseEvents(text, format) {
  if (format === 'jsonl') return JSON.parse(`[${text.slice(0, -1).replaceAll('\n', ',')}]`);
  return JSON.parse(text);
}

function describeFailure(error) {
  if (error instanceof Error) return error.message || error.name;
  return `the exporter rejected with ${String(error)}`;
}

class PullExporter {
  /**
   * @param owner `{ handle, busy(), pending(id), attempted(batch, exported) }` of the store
   * @param exporter the user's function `(events, batch) => unknown | Promise<unknown>`
   */
  constructor(owner, id, exporter, format) {
    this.owner = owner;
    this.id = id;
    this.exporter = exporter;
    this.format = format;
    this.running = false;
    this.stopped = false;
    /** The message of the user's last failure (the library only knows that it failed). */
    this.lastError = null;
  }

  /** Starts the loop unless it runs or has stopped. */
  wake() {
    if (this.running || this.stopped) return;
    this.running = true;
    this.#run()
      .catch((error) => {
        this.stopped = true;
        process.emitWarning(`sluice: exporter ${this.id} stopped: ${error?.stack ?? error}`);
      })
      .finally(() => {
        this.running = false;
      });
  }

  /** No more batches reach the user's function. */
  stop() {
    this.stopped = true;
  }

  async #run() {
    // The condition and the end of the loop run without a pause: an add() between them is not lost.
    while (!this.stopped && (this.owner.busy() || this.owner.pending(this.id) > 0)) {
      const code = await this.#pollOnce();
      if (code === status.TIMEOUT) {
        await yieldToLoop();
      } else if (code !== status.OK) {
        // CLOSED or NOT_FOUND: the store shut down or the exporter was removed.
        this.stopped = true;
      }
    }
  }

  async #pollOnce() {
    const native = load();
    const out = [null];
    const code = await pool.call('poll', native.poll, () => {
      const waitMs = pool.queued('poll') > 0 ? POLL_WAIT_SHARED_MS : POLL_WAIT_MS;
      return [this.owner.handle, this.id, waitMs, out];
    });
    if (code === status.OK) await this.#export(out[0]);
    return code;
  }

  async #export(batchHandle) {
    const native = load();
    let exported = false;
    let batch = null;
    try {
      if (this.stopped) return;
      const length = [0];
      const data = native.batchData(batchHandle, length);
      const text = native.koffi.decode.string(data, length[0]);
      batch = new Batch(this.id, Number(native.batchEventCount(batchHandle)), this.format, text);
      const result = await this.exporter(parseEvents(text, this.format), batch);
      exported = result !== false;
      if (!exported) this.lastError = 'the exporter returned false';
    } catch (error) {
      this.lastError = describeFailure(error);
    } finally {
      // Listeners hear of the attempt before it counts, as the library's own exporters do: a
      // flush that sees it counted has seen them called.
      if (batch) this.owner.attempted(batch, exported);
      // CLOSED or NOT_FOUND here only say that the outcome no longer counts; the batch is freed.
      native.batchComplete(batchHandle, exported);
    }
  }
}

/** What an exporter function gets beside the parsed events. */
class Batch {
  #data = null;

  constructor(exporterId, eventCount, format, text) {
    this.exporterId = exporterId;
    this.eventCount = eventCount;
    this.format = format;
    /** The batch as the library laid it out: a JSON array, or JSON lines. */
    this.text = text;
  }

  /** The same bytes as `text`, as a Buffer (made on first use). */
  get data() {
    this.#data ??= Buffer.from(this.text, 'utf8');
    return this.#data;
  }
}

module.exports = { PullExporter, Batch, parseEvents };
