// Crash recovery: a worker SIGKILLed mid-job loses its lock, a stalled
// check (kirana's or Node's) moves the job back to wait, and it completes
// exactly once from the producer's point of view. Also: a Redis restart
// under a running consumer.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { bullmq, collect, nodeSide, peerAdd, peerConsume, queueName, sleep, sourceDir, until } from '../../queue/peer.mjs';

const { Job } = bullmq;
const T = { timeout: 40000 };
// Short locks and checks keep each recovery within a few seconds.
const fast = { lockDuration: 1000, stalledInterval: 500 };

async function killedKirana(recover) {
  const name = queueName('crash');
  const node = await nodeSide(name);
  try {
    const completed = collect(node.events, 'completed');
    const stalled = collect(node.events, 'stalled');
    const job = await node.queue.add('pay', { order: 'o-1' });
    const doomed = peerConsume(name, ['--mode', 'sleep:60000'], fast);
    await doomed.waitFor(e => e.event === 'start' && e.id === job.id, 5000, 'the job to start');
    doomed.proc.kill('SIGKILL');
    assert.equal((await doomed.exited).signal, 'SIGKILL');
    assert.equal(await (await Job.fromId(node.queue, job.id)).getState(), 'active');
    const t0 = Date.now();
    await recover(name, node, job.id);
    await until(() => completed.some(e => e.jobId === job.id), 15000, 'the recovered job to complete');
    const took = Date.now() - t0;
    await sleep(1500); // a second completion would show up here
    assert.equal(completed.filter(e => e.jobId === job.id).length, 1, 'completed exactly once');
    assert.deepEqual(stalled.map(e => e.jobId), [job.id]);
    const j = await Job.fromId(node.queue, job.id);
    assert.equal(await j.getState(), 'completed');
    assert.equal(j.stalledCounter, 1);
    assert.equal(j.attemptsStarted, 2);
    assert.equal(j.attemptsMade, 1);
    return { took, returnvalue: j.returnvalue };
  } finally {
    await node.close();
  }
}

test('a SIGKILLed kirana worker: another kirana worker recovers the job', T, async () => {
  let rescuer;
  const r = await killedKirana(async name => {
    rescuer = peerConsume(name, ['--exit-after', '1'], fast);
  });
  assert.equal((await rescuer.exited).code, 0, rescuer.stderr);
  assert.deepEqual(r.returnvalue, { echo: { order: 'o-1' } });
  assert.ok(r.took < 8000, `recovery took ${r.took} ms`);
});

test('a SIGKILLed kirana worker: a Node worker recovers the job', T, async () => {
  const r = await killedKirana(async (name, node) => {
    node.worker(async job => ({ node: job.data.order }), { ...fast });
  });
  assert.deepEqual(r.returnvalue, { node: 'o-1' });
});

test('a SIGKILLed Node worker: kirana recovers the job', T, async () => {
  const name = queueName('crash-n');
  const node = await nodeSide(name);
  try {
    const completed = collect(node.events, 'completed');
    const job = await node.queue.add('pay', { order: 'o-2' });
    const script = `
      const { Worker } = require('bullmq');
      new Worker(${JSON.stringify(name)}, async () => { console.log('started'); await new Promise(() => {}); },
        { connection: ${JSON.stringify(node.connection)}, lockDuration: 1000, stalledInterval: 500 });`;
    const child = spawn(process.execPath, ['-e', script], { cwd: sourceDir, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((resolve, reject) => {
      child.stdout.on('data', d => String(d).includes('started') && resolve());
      setTimeout(() => reject(new Error('the Node worker did not start the job')), 10000);
    });
    child.kill('SIGKILL');
    const rescuer = peerConsume(name, ['--exit-after', '1'], fast);
    assert.equal((await rescuer.exited).code, 0, rescuer.stderr);
    await until(() => completed.some(e => e.jobId === job.id), 5000, 'completion');
    await sleep(1000);
    assert.equal(completed.filter(e => e.jobId === job.id).length, 1);
    assert.deepEqual((await Job.fromId(node.queue, job.id)).returnvalue, { echo: { order: 'o-2' } });
  } finally {
    await node.close();
  }
});

test('a job that stalls more than maxStalledCount fails as stalled', T, async () => {
  const name = queueName('stall-max');
  const node = await nodeSide(name);
  try {
    const failed = collect(node.events, 'failed');
    const job = await node.queue.add('pay', {});
    for (let i = 0; i < 2; i++) {
      const doomed = peerConsume(name, ['--mode', 'sleep:60000'], fast);
      await doomed.waitFor(e => e.event === 'start', 10000, `start ${i + 1}`);
      doomed.proc.kill('SIGKILL');
      await doomed.exited;
    }
    const rescuer = peerConsume(name, [], { ...fast, maxStalled: 1 });
    await until(() => failed.length === 1, 10000, 'the job to fail');
    assert.equal((await rescuer.stop()).code, 0, rescuer.stderr);
    assert.equal(rescuer.started().length, 0, 'a job over its stall limit is not run again');
    const j = await Job.fromId(node.queue, job.id);
    assert.equal(j.failedReason, 'job stalled more than allowable limit');
  } finally {
    await node.close();
  }
});

test('a job running longer than its lock keeps it: renewed, never taken as stalled', T, async () => {
  const name = queueName('renew');
  const node = await nodeSide(name);
  try {
    const completed = collect(node.events, 'completed');
    const stalled = collect(node.events, 'stalled');
    const job = await node.queue.add('long', { n: 1 });
    const slow = peerConsume(name, ['--mode', 'sleep:3500', '--exit-after', '1'], fast);
    await slow.waitFor(e => e.event === 'start', 5000, 'the job to start');
    // A second worker whose stalled checks would take the job if its lock lapsed.
    const rival = peerConsume(name, [], fast);
    node.worker(async () => 'node', { ...fast });
    assert.equal((await slow.exited).code, 0, slow.stderr);
    await until(() => completed.some(e => e.jobId === job.id), 5000, 'completion');
    assert.equal((await rival.stop()).code, 0, rival.stderr);
    assert.deepEqual(stalled, []);
    assert.equal(rival.started().length, 0);
    assert.equal(completed.filter(e => e.jobId === job.id).length, 1);
    assert.deepEqual((await Job.fromId(node.queue, job.id)).returnvalue, { echo: { n: 1 } });
  } finally {
    await node.close();
  }
});

test('a job still running at the drain timeout is left to another worker', T, async () => {
  const name = queueName('drain-timeout');
  const node = await nodeSide(name);
  try {
    const completed = collect(node.events, 'completed');
    const job = await node.queue.add('slow', { n: 1 });
    const slow = peerConsume(name, ['--mode', 'sleep:20000', '--drain-timeout', '300'], fast);
    await slow.waitFor(e => e.event === 'start', 5000, 'the job to start');
    const t0 = Date.now();
    const exit = await slow.stop();
    assert.equal(exit.code, 0, slow.stderr);
    assert.ok(Date.now() - t0 < 3000, 'the drain timeout was not kept');
    assert.match(slow.stderr, /still running after the drain timeout/);
    assert.equal(await (await Job.fromId(node.queue, job.id)).getState(), 'active');
    const rescuer = peerConsume(name, ['--exit-after', '1'], fast);
    assert.equal((await rescuer.exited).code, 0, rescuer.stderr);
    await until(() => completed.some(e => e.jobId === job.id), 5000, 'completion');
    assert.deepEqual((await Job.fromId(node.queue, job.id)).returnvalue, { echo: { n: 1 } });
  } finally {
    await node.close();
  }
});

function freePort() {
  return new Promise(resolve => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function startRedis(port, dir) {
  const r = spawnSync('redis-server', [
    '--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir,
    '--daemonize', 'yes', '--pidfile', join(dir, 'redis.pid'), '--maxmemory-policy', 'noeviction',
    '--logfile', join(dir, 'redis.log'),
  ]);
  assert.equal(r.status, 0, String(r.stderr));
}

function redisCli(port, ...args) {
  return spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' });
}

test('a consumer carries on after its Redis restarts', T, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kirana-queue-redis-'));
  const port = await freePort();
  const redis = `redis://127.0.0.1:${port}/0`;
  const name = queueName('restart');
  startRedis(port, dir);
  let peer;
  try {
    await until(() => redisCli(port, 'ping').stdout.trim() === 'PONG', 5000, 'redis');
    peer = peerConsume(name, ['--exit-after', '2'], { redis, drainDelay: 1000 });
    await peer.waitFor(e => e.event === 'ready');
    await peerAdd(name, 'a', { n: 1 }, null, { redis });
    await peer.waitFor(e => e.event === 'end', 5000, 'the first job');
    redisCli(port, 'shutdown', 'nosave');
    await until(() => redisCli(port, 'ping').status !== 0 || redisCli(port, 'ping').stdout.trim() !== 'PONG', 5000, 'redis to stop');
    await sleep(300);
    startRedis(port, dir);
    await until(() => redisCli(port, 'ping').stdout.trim() === 'PONG', 5000, 'redis to restart');
    await peerAdd(name, 'b', { n: 2 }, null, { redis });
    const exit = await peer.exited;
    assert.equal(exit.code, 0, peer.stderr);
    assert.equal(peer.started().length, 2);
    assert.match(redisCli(port, 'hget', `bull:${name}:1`, 'returnvalue').stdout, /"n":2/);
  } finally {
    if (peer) await peer.stop();
    redisCli(port, 'shutdown', 'nosave');
    rmSync(dir, { recursive: true, force: true });
  }
});
