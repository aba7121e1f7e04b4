// Attempts and backoff: kirana makes the retry decisions BullMQ's Worker
// makes (attemptsMade, fixed and exponential delays, retry at once without
// a backoff), and Node honours the options kirana stores.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { bullmq, collect, nodeSide, peerAdd, peerConsume, queueName, until } from '../../queue/peer.mjs';

const { Job } = bullmq;
const T = { timeout: 30000 };

function gaps(times) {
  return times.slice(1).map((t, i) => t - times[i]);
}

async function kiranaAttempts(backoff) {
  const name = queueName('retry-k');
  const node = await nodeSide(name);
  try {
    const delayed = collect(node.events, 'delayed');
    const failed = collect(node.events, 'failed');
    const job = await node.queue.add('r', { n: 1 }, { attempts: 3, backoff });
    const peer = peerConsume(name, ['--mode', 'fail', '--exit-after', '3']);
    assert.equal((await peer.exited).code, 0, peer.stderr);
    await until(() => failed.length === 1, 5000, 'the final failure');
    const j = await Job.fromId(node.queue, job.id);
    return {
      state: await j.getState(),
      attemptsMade: j.attemptsMade,
      attempts: peer.started().map(e => e.attempt),
      gaps: gaps(peer.started().map(e => e.at)),
      delayedEvents: delayed.length,
      failedReason: j.failedReason,
      stacktrace: j.stacktrace,
    };
  } finally {
    await node.close();
  }
}

async function nodeAttempts(backoff) {
  const name = queueName('retry-n');
  const node = await nodeSide(name);
  try {
    const delayed = collect(node.events, 'delayed');
    const failed = collect(node.events, 'failed');
    const starts = [];
    const job = await node.queue.add('r', { n: 1 }, { attempts: 3, backoff });
    node.worker(async j => {
      starts.push({ at: Date.now(), attempt: j.attemptsMade });
      throw new Error(`node failure on attempt ${j.attemptsMade + 1}`);
    });
    await until(() => failed.length === 1, 10000, 'the final failure');
    const j = await Job.fromId(node.queue, job.id);
    return {
      state: await j.getState(),
      attemptsMade: j.attemptsMade,
      attempts: starts.map(s => s.attempt),
      gaps: gaps(starts.map(s => s.at)),
      delayedEvents: delayed.length,
    };
  } finally {
    await node.close();
  }
}

test('fixed backoff: same attempts and delays as a Node worker', T, async () => {
  const k = await kiranaAttempts({ type: 'fixed', delay: 300 });
  const n = await nodeAttempts({ type: 'fixed', delay: 300 });
  for (const r of [k, n]) {
    assert.equal(r.state, 'failed');
    assert.equal(r.attemptsMade, 3);
    assert.deepEqual(r.attempts, [0, 1, 2]);
    assert.equal(r.delayedEvents, 2);
    for (const g of r.gaps) assert.ok(g >= 290 && g < 1500, `gap ${g} ms for a 300 ms backoff`);
  }
  assert.equal(k.failedReason, 'kirana failure on attempt 3');
  assert.deepEqual(k.stacktrace, [
    'kirana failure on attempt 1',
    'kirana failure on attempt 2',
    'kirana failure on attempt 3',
  ]);
});

test('exponential backoff doubles the delay, as in Node', T, async () => {
  const k = await kiranaAttempts({ type: 'exponential', delay: 250 });
  const n = await nodeAttempts({ type: 'exponential', delay: 250 });
  for (const r of [k, n]) {
    assert.equal(r.attemptsMade, 3);
    assert.ok(r.gaps[0] >= 240 && r.gaps[0] < 1200, `first gap ${r.gaps[0]}`);
    assert.ok(r.gaps[1] >= 490 && r.gaps[1] < 1600, `second gap ${r.gaps[1]}`);
  }
});

test('without a backoff a failed attempt is retried at once and can then complete', T, async () => {
  const name = queueName('retry-now');
  const node = await nodeSide(name);
  try {
    const completed = collect(node.events, 'completed');
    const job = await node.queue.add('r', { n: 7 }, { attempts: 2 });
    const peer = peerConsume(name, ['--mode', 'fail-once', '--exit-after', '2']);
    assert.equal((await peer.exited).code, 0, peer.stderr);
    await until(() => completed.length === 1, 5000, 'completion');
    const j = await Job.fromId(node.queue, job.id);
    assert.equal(await j.getState(), 'completed');
    assert.equal(j.attemptsMade, 2);
    assert.deepEqual(j.returnvalue, { echo: { n: 7 } });
    assert.equal(j.failedReason, 'kirana failure on attempt 1');
    const gap = gaps(peer.started().map(e => e.at))[0];
    assert.ok(gap < 500, `retry without backoff took ${gap} ms`);
  } finally {
    await node.close();
  }
});

test('attempts and backoff set by kirana are honoured by a Node worker', T, async () => {
  const name = queueName('retry-k2n');
  const node = await nodeSide(name);
  try {
    const failed = collect(node.events, 'failed');
    const id = await peerAdd(name, 'r', { n: 1 }, { attempts: 3, backoff: 200 });
    const starts = [];
    node.worker(async () => {
      starts.push(Date.now());
      throw new Error('nope');
    });
    await until(() => failed.length === 1, 10000, 'the final failure');
    const j = await Job.fromId(node.queue, id);
    assert.equal(j.attemptsMade, 3);
    assert.deepEqual(j.opts.backoff, { type: 'fixed', delay: 200 });
    for (const g of gaps(starts)) assert.ok(g >= 190 && g < 1500, `gap ${g}`);
  } finally {
    await node.close();
  }
});
