'use strict';
// The thread-pool budget: waiting calls never take every libuv thread, and neither kind (polls,
// blocking waits) can shut the other out.

const test = require('node:test');
const assert = require('node:assert/strict');
const { PoolBudget } = require('../src/pool');

async function settle() {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

test('with 4 threads: 3 for waiting calls, at most 2 of each kind, one always left to the other kind', async () => {
  const budget = new PoolBudget(4);
  const granted = [];
  const ask = (kind, name) => budget.acquire(kind).then(() => granted.push(name));
  ask('poll', 'p1');
  ask('poll', 'p2');
  ask('poll', 'p3');
  ask('wait', 'w1');
  ask('wait', 'w2');
  await settle();
  assert.deepEqual(granted, ['p1', 'p2', 'w1']);
  assert.deepEqual(budget.running, { poll: 2, wait: 1 });
  assert.equal(budget.queued('poll'), 1);
  budget.release('poll');
  await settle();
  assert.deepEqual(granted, ['p1', 'p2', 'w1', 'p3'], 'first come, first served within the shares');
  budget.release('wait');
  await settle();
  assert.deepEqual(granted, ['p1', 'p2', 'w1', 'p3', 'w2']);
  assert.deepEqual(budget.running, { poll: 2, wait: 1 });
});

test('small pools still run one call of each kind', async () => {
  for (const size of [1, 2, 3]) {
    const budget = new PoolBudget(size);
    const granted = [];
    budget.acquire('poll').then(() => granted.push('poll'));
    budget.acquire('poll').then(() => granted.push('poll 2'));
    budget.acquire('wait').then(() => granted.push('wait'));
    await settle();
    assert.deepEqual(granted, ['poll', 'wait'], `size ${size}`);
  }
});

test('a large pool gives more turns', async () => {
  const budget = new PoolBudget(16);
  assert.equal(budget.total, 15);
  assert.deepEqual(budget.limit, { poll: 14, wait: 14 });
});

test('six exporters waiting for batches hold their share of the pool, and a flush gets a turn', async (t) => {
  const { Store } = require('sluice');
  const { pool } = require('../src/pool');
  let most = { poll: 0, wait: 0, total: 0, queuedPolls: 0 };
  // Seen at every turn granted, the moment the thread is taken.
  const acquire = pool.acquire;
  pool.acquire = async function (kind) {
    await acquire.call(this, kind);
    const { poll, wait } = pool.running;
    most = {
      poll: Math.max(most.poll, poll),
      wait: Math.max(most.wait, wait),
      total: Math.max(most.total, poll + wait),
      queuedPolls: Math.max(most.queuedPolls, pool.queued('poll')),
    };
  };
  t.after(() => {
    pool.acquire = acquire;
  });
  const store = new Store();
  for (let i = 0; i < 6; i++) store.addExporter(() => {}, { flushIntervalMs: 3600000 });
  // Every exporter has a pending event it may not export before its interval: all six poll.
  store.add({ key: 'pending' });
  // With the default 4 threads: two polls at a time, four waiting for a turn.
  const polls = Math.min(6, pool.limit.poll);
  while (most.poll < polls || most.queuedPolls < 6 - polls) await new Promise((r) => setTimeout(r, 5));
  await store.flush(30000);
  assert.deepEqual(most, { poll: polls, wait: 1, total: polls + 1, queuedPolls: 6 - polls });
  for (const e of store.stats().exporters) assert.equal(e.exported, 1);
  await store.close();
});
