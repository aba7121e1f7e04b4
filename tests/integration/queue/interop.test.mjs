// kirana's queue and Node BullMQ (the pinned version) on the same Redis:
// jobs cross in both directions with the same fields, states and counts.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  bullmq,
  collect,
  nodeSide,
  peerAdd,
  peerConsume,
  peerCounts,
  peerRun,
  queueName,
  sleep,
  until,
} from '../../queue/peer.mjs';

const { Job } = bullmq;
const T = { timeout: 30000 };

test('jobs added by Node are processed by kirana; Node sees the results', T, async () => {
  const name = queueName('n2k');
  const node = await nodeSide(name);
  try {
    const completed = collect(node.events, 'completed');
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await node.queue.add('greet', { i, text: 'héllo' })).id);
    const peer = peerConsume(name, ['--concurrency', '2', '--exit-after', '3']);
    const exit = await peer.exited;
    assert.equal(exit.code, 0, peer.stderr);
    await until(() => completed.length === 3, 5000, 'QueueEvents completed');
    for (const [i, id] of ids.entries()) {
      const ev = completed.find(e => e.jobId === id);
      const rv = typeof ev.returnvalue === 'string' ? JSON.parse(ev.returnvalue) : ev.returnvalue;
      assert.deepEqual(rv, { echo: { i, text: 'héllo' } });
      const job = await Job.fromId(node.queue, id);
      assert.deepEqual(job.returnvalue, { echo: { i, text: 'héllo' } });
      assert.equal(job.attemptsMade, 1);
      assert.equal(job.name, 'greet');
      assert.ok(job.finishedOn >= job.processedOn && job.processedOn >= job.timestamp);
      assert.equal(await job.getState(), 'completed');
    }
  } finally {
    await node.close();
  }
});

test('jobs added by kirana are processed by a Node worker', T, async () => {
  const name = queueName('k2n');
  const node = await nodeSide(name);
  try {
    const completed = collect(node.events, 'completed');
    const id1 = await peerAdd(name, 'order', { order: 'o1', total: 12500, lines: [{ sku: 'a', qty: 2 }] });
    const id2 = await peerAdd(name, 'order', { order: 'o2' }, { jobId: 'order-o2', attempts: 2 });
    assert.match(id1, /^\d+$/);
    assert.equal(id2, 'order-o2');
    const seen = [];
    node.worker(async job => {
      seen.push({ id: job.id, name: job.name, data: job.data, opts: job.opts });
      return { handled: job.data.order };
    });
    await until(() => completed.length === 2, 10000, 'Node to complete both jobs');
    const j1 = seen.find(s => s.id === id1);
    assert.equal(j1.name, 'order');
    assert.deepEqual(j1.data, { order: 'o1', total: 12500, lines: [{ sku: 'a', qty: 2 }] });
    assert.equal(j1.opts.attempts, 0);
    const j2 = seen.find(s => s.id === 'order-o2');
    assert.equal(j2.opts.attempts, 2);
    assert.equal(j2.opts.jobId, 'order-o2');
    assert.deepEqual((await Job.fromId(node.queue, 'order-o2')).returnvalue, { handled: 'o2' });
  } finally {
    await node.close();
  }
});

test('failure reasons are visible to Node; discard fails without retry', T, async () => {
  const name = queueName('fail');
  const node = await nodeSide(name);
  try {
    const failed = collect(node.events, 'failed');
    const a = await node.queue.add('x', { n: 1 });
    const peer = peerConsume(name, ['--mode', 'fail', '--exit-after', '1']);
    assert.equal((await peer.exited).code, 0, peer.stderr);
    await until(() => failed.length === 1, 5000, 'QueueEvents failed');
    assert.equal(failed[0].jobId, a.id);
    assert.equal(failed[0].failedReason, 'kirana failure on attempt 1');
    const job = await Job.fromId(node.queue, a.id);
    assert.equal(job.failedReason, 'kirana failure on attempt 1');
    assert.deepEqual(job.stacktrace, ['kirana failure on attempt 1']);
    assert.equal(job.attemptsMade, 1);
    assert.equal(await job.getState(), 'failed');

    const b = await node.queue.add('x', { n: 2 }, { attempts: 5, backoff: 10 });
    const discarding = peerConsume(name, ['--mode', 'discard', '--exit-after', '1']);
    assert.equal((await discarding.exited).code, 0, discarding.stderr);
    await until(() => failed.length === 2, 5000, 'the discarded job to fail');
    const jb = await Job.fromId(node.queue, b.id);
    assert.equal(jb.failedReason, 'discarded by kirana');
    assert.equal(jb.attemptsMade, 1);
    assert.equal(await jb.getState(), 'failed');
  } finally {
    await node.close();
  }
});

test('delayed jobs wait their delay in both directions', T, async () => {
  const name = queueName('delay');
  const node = await nodeSide(name);
  try {
    const a = await node.queue.add('late', { by: 'node' }, { delay: 1000 });
    const kId = await peerAdd(name, 'late', { by: 'kirana' }, { delay: 800 });
    assert.equal(await (await Job.fromId(node.queue, kId)).getState(), 'delayed');
    const counts = await node.queue.getJobCounts('delayed');
    assert.equal(counts.delayed, 2);
    const peer = peerConsume(name, ['--exit-after', '2']);
    assert.equal((await peer.exited).code, 0, peer.stderr);
    for (const id of [a.id, kId]) {
      const job = await Job.fromId(node.queue, id);
      const delay = id === a.id ? 1000 : 800;
      assert.equal(await job.getState(), 'completed');
      assert.ok(job.processedOn - job.timestamp >= delay, `job ${id} ran ${job.processedOn - job.timestamp} ms after add`);
      assert.ok(job.processedOn - job.timestamp < delay + 1500, `job ${id} ran late`);
    }
    // A kirana-added delayed job run by Node.
    const completed = collect(node.events, 'completed');
    const t0 = Date.now();
    const kId2 = await peerAdd(name, 'late', { by: 'kirana' }, { delay: 600 });
    node.worker(async () => 'done');
    await until(() => completed.some(e => e.jobId === kId2), 10000, 'Node to run the delayed job');
    assert.ok(Date.now() - t0 >= 600);
  } finally {
    await node.close();
  }
});

test('priorities order jobs the same way for both', T, async () => {
  const name = queueName('prio');
  const node = await nodeSide(name);
  try {
    await node.queue.add('p10', {}, { priority: 10, jobId: 'p10' });
    await peerAdd(name, 'p1', {}, { priority: 1, jobId: 'p1' });
    await node.queue.add('p5', {}, { priority: 5, jobId: 'p5' });
    await peerAdd(name, 'none', {}, { jobId: 'none' });
    assert.equal((await node.queue.getJobCounts('prioritized')).prioritized, 3);
    const peer = peerConsume(name, ['--concurrency', '1', '--exit-after', '4']);
    assert.equal((await peer.exited).code, 0, peer.stderr);
    assert.deepEqual(peer.started().map(e => e.id), ['none', 'p1', 'p5', 'p10']);
  } finally {
    await node.close();
  }
});

test('removeOnComplete and removeOnFail are honoured', T, async () => {
  const name = queueName('remove');
  const node = await nodeSide(name);
  try {
    const gone = await node.queue.add('x', {}, { removeOnComplete: true });
    const kept = [];
    for (let i = 0; i < 4; i++) kept.push((await node.queue.add('x', { i }, { removeOnComplete: 2 })).id);
    const kGone = await peerAdd(name, 'x', {}, { removeOnComplete: true });
    const peer = peerConsume(name, ['--exit-after', '6']);
    assert.equal((await peer.exited).code, 0, peer.stderr);
    assert.equal(await Job.fromId(node.queue, gone.id), undefined);
    assert.equal(await Job.fromId(node.queue, kGone), undefined);
    const left = (await node.queue.getCompleted()).map(j => j.id).sort();
    assert.deepEqual(left, kept.slice(2).sort());

    const failGone = await node.queue.add('y', {}, { removeOnFail: true });
    const failKept = await peerAdd(name, 'y', {}, { removeOnFail: false });
    const failing = peerConsume(name, ['--mode', 'fail', '--exit-after', '2']);
    assert.equal((await failing.exited).code, 0, failing.stderr);
    assert.equal(await Job.fromId(node.queue, failGone.id), undefined);
    assert.equal(await (await Job.fromId(node.queue, failKept)).getState(), 'failed');

    // kirana's removeOnComplete, honoured by a Node worker.
    const completed = collect(node.events, 'completed');
    const kByNode = await peerAdd(name, 'z', {}, { removeOnComplete: true });
    node.worker(async () => 1);
    await until(() => completed.some(e => e.jobId === kByNode), 10000, 'Node to complete');
    await sleep(50);
    assert.equal(await Job.fromId(node.queue, kByNode), undefined);
  } finally {
    await node.close();
  }
});

test('a jobId is added once, whoever adds it', T, async () => {
  const name = queueName('dedup');
  const node = await nodeSide(name);
  try {
    assert.equal(await peerAdd(name, 'x', { v: 1 }, { jobId: 'order-42' }), 'order-42');
    assert.equal(await peerAdd(name, 'x', { v: 2 }, { jobId: 'order-42' }), 'order-42');
    assert.equal((await node.queue.add('x', { v: 3 }, { jobId: 'order-42' })).id, 'order-42');
    assert.equal((await node.queue.getJobCounts('waiting')).waiting, 1);
    assert.deepEqual((await Job.fromId(node.queue, 'order-42')).data, { v: 1 });
    const r = await peerRun(['add', name, 'x', '{}', '{"jobId":"12"}']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /KR_EINVAL/);
    const bad = await peerRun(['add', name, 'x', '{}', '{"attempts":"3"}']);
    assert.match(bad.stderr, /attempts/);
  } finally {
    await node.close();
  }
});

test('job counts agree with getJobCounts', T, async () => {
  const name = queueName('counts');
  const node = await nodeSide(name);
  try {
    await node.queue.add('ok', {});
    await node.queue.add('ok', {});
    const peer = peerConsume(name, ['--exit-after', '2']);
    assert.equal((await peer.exited).code, 0, peer.stderr);
    await node.queue.add('bad', {});
    const failing = peerConsume(name, ['--mode', 'fail', '--exit-after', '1']);
    assert.equal((await failing.exited).code, 0, failing.stderr);
    await node.queue.add('w', {});
    await peerAdd(name, 'w', {}, { priority: 3 });
    await node.queue.add('d', {}, { delay: 60000 });
    await peerAdd(name, 'd', {}, { delay: 60000 });
    const n = await node.queue.getJobCounts('waiting', 'prioritized', 'paused', 'active', 'delayed', 'completed', 'failed');
    const k = await peerCounts(name);
    assert.deepEqual(k, {
      waiting: n.waiting + n.prioritized + n.paused,
      active: n.active,
      delayed: n.delayed,
      completed: n.completed,
      failed: n.failed,
    });
    assert.deepEqual(k, { waiting: 2, active: 0, delayed: 2, completed: 2, failed: 1 });
  } finally {
    await node.close();
  }
});

test('kirana workers are listed by Queue.getWorkers; a process without the worker role does not consume', T, async () => {
  const name = queueName('workers');
  const node = await nodeSide(name);
  try {
    const idle = peerConsume(name, ['--role', 'http']);
    await idle.waitFor(e => e.event === 'ready');
    await node.queue.add('x', {});
    await sleep(500);
    assert.equal(idle.started().length, 0);
    assert.equal((await idle.stop()).code, 0, idle.stderr);

    const peer = peerConsume(name, ['--exit-after', '2']);
    await peer.waitFor(e => e.event === 'end', 5000, 'the waiting job to run');
    await until(async () => (await node.queue.getWorkers()).length >= 1, 5000, 'getWorkers to list kirana');
    const workers = await node.queue.getWorkers();
    assert.equal(workers[0].rawname, `bull:${Buffer.from(name).toString('base64')}`);
    assert.equal(workers[0].name, name);
    await node.queue.add('y', {});
    assert.equal((await peer.exited).code, 0, peer.stderr);
  } finally {
    await node.close();
  }
});

test('SIGTERM drains: running jobs finish, nothing new starts', T, async () => {
  const name = queueName('drain');
  const node = await nodeSide(name);
  try {
    const completed = collect(node.events, 'completed');
    const a = await node.queue.add('slow', { n: 1 });
    const b = await node.queue.add('slow', { n: 2 });
    const peer = peerConsume(name, ['--concurrency', '2', '--mode', 'sleep:800']);
    await until(() => peer.started().length === 2, 5000, 'both jobs to start');
    const c = await node.queue.add('later', { n: 3 });
    const t0 = Date.now();
    const exit = await peer.stop();
    assert.equal(exit.code, 0, peer.stderr);
    assert.ok(Date.now() - t0 < 5000, 'drain took too long');
    await until(() => completed.length >= 2, 5000, 'the running jobs to complete');
    for (const id of [a.id, b.id]) assert.equal(await (await Job.fromId(node.queue, id)).getState(), 'completed');
    assert.ok(peer.started(c.id).length === 0 || completed.some(e => e.jobId === c.id));
    assert.equal(peer.events.at(-1).event, 'exit');
  } finally {
    await node.close();
  }
});

test('metrics count outcomes and read job counts', T, async () => {
  const name = queueName('metrics');
  const node = await nodeSide(name);
  try {
    await node.queue.add('a', {}, { attempts: 2 });
    await node.queue.add('b', {}, { delay: 60000 });
    const peer = peerConsume(name, ['--mode', 'fail', '--exit-after', '2', '--metrics']);
    assert.equal((await peer.exited).code, 0, peer.stderr);
    const text = peer.events.find(e => e.event === 'metrics').text;
    const value = re => Number((text.match(re) || [])[1]);
    assert.equal(value(new RegExp(`kirana_queue_jobs_total\\{queue="${name}",state="retried"\\} (\\d+)`)), 1);
    assert.equal(value(new RegExp(`kirana_queue_jobs_total\\{queue="${name}",state="failed"\\} (\\d+)`)), 1);
    assert.equal(value(new RegExp(`kirana_queue_jobs_total\\{queue="${name}",state="completed"\\} (\\d+)`)), 0);
    assert.equal(value(new RegExp(`kirana_queue_job_duration_seconds_count\\{queue="${name}"\\} (\\d+)`)), 2);
    assert.equal(value(new RegExp(`kirana_queue_jobs\\{queue="${name}",state="delayed"\\} (\\d+)`)), 1);
    assert.equal(value(new RegExp(`kirana_queue_jobs\\{queue="${name}",state="waiting"\\} (\\d+)`)), 0);
  } finally {
    await node.close();
  }
});
