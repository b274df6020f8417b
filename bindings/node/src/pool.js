'use strict';
// Every koffi async call runs on libuv's thread pool (UV_THREADPOOL_SIZE threads, 4 by default),
// which fs, dns, zlib and crypto share. The calls that wait inside the library (a poll, or a
// flush, close or remove) take turns here: together they hold at most size - 1 threads (at
// least two), so one stays free for everything else, and each kind holds one fewer than that,
// so that a flush can always get the poll it waits for, and the other way round.

const poolSize = Math.max(1, Number.parseInt(process.env.UV_THREADPOOL_SIZE, 10) || 4);

class PoolBudget {
  constructor(size) {
    this.total = Math.max(2, size - 1);
    this.limit = { poll: Math.max(1, this.total - 1), wait: Math.max(1, this.total - 1) };
    this.running = { poll: 0, wait: 0 };
    this.queue = [];
  }

  /** How many calls of `kind` wait for a turn. */
  queued(kind) {
    return this.queue.reduce((n, entry) => n + (entry.kind === kind ? 1 : 0), 0);
  }

  acquire(kind) {
    return new Promise((resolve) => {
      this.queue.push({ kind, resolve });
      this.#dispatch();
    });
  }

  release(kind) {
    this.running[kind] -= 1;
    this.#dispatch();
  }

  /**
   * Runs the async form of koffi function `fn` once a thread is granted; `args` is called then,
   * so that a deadline can leave out the time spent waiting for the turn.
   */
  async call(kind, fn, args) {
    await this.acquire(kind);
    try {
      return await new Promise((resolve, reject) => {
        fn.async(...args(), (error, result) => (error ? reject(error) : resolve(result)));
      });
    } finally {
      this.release(kind);
    }
  }

  // First come, first served, skipping a kind that has used up its share.
  #dispatch() {
    for (let i = 0; i < this.queue.length;) {
      if (this.running.poll + this.running.wait >= this.total) return;
      const { kind, resolve } = this.queue[i];
      if (this.running[kind] >= this.limit[kind]) {
        i += 1;
        continue;
      }
      this.queue.splice(i, 1);
      this.running[kind] += 1;
      resolve();
    }
  }
}

/** The one budget of the process. */
const pool = new PoolBudget(poolSize);

module.exports = { pool, PoolBudget };
