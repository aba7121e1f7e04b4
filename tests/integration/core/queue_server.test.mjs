// The queue inside the real server: a plugin's consumer runs only with the
// worker role, jobs cross between kirana and Node BullMQ, SIGTERM drains.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { startKirana, baseConfig, FIXTURES, SRC, h2req, serversEnv, sleep, waitFor, parseMetrics } from '../lib/harness.mjs';

const { Queue, QueueEvents, Worker, Job } = createRequire(join(SRC, 'package.json'))('bullmq');
const srv = serversEnv();
const connection = { host: '127.0.0.1', port: Number(srv.KIRANA_TEST_REDIS_PORT) };
const qname = (t) => `kt-${t}-${randomBytes(4).toString('hex')}`;

function config(queue, roles) {
  return baseConfig({
    roles,
    queue: { redis: srv.KIRANA_TEST_REDIS_URL, stalled_interval_ms: 1000, lock_duration_ms: 2000 },
    server: { shutdown_timeout_ms: 5000 },
    plugins: [{ name: 'testkit', path: `${FIXTURES}/testkit.so`, mount: '/t', config: { consume: queue } }],
  });
}

test('a Node job is processed by the plugin consumer; its result is visible to QueueEvents', async () => {
  const name = qname('n2k');
  const k = await startKirana(config(name, ['http', 'worker']));
  const q = new Queue(name, { connection });
  // Read the (new, test-only) queue's event stream from its start: from '$'
  // the first read may come after the job already finished.
  const ev = new QueueEvents(name, { connection, lastEventId: '0-0' });
  await ev.waitUntilReady();
  try {
    const job = await q.add('greet', { hello: 'world' });
    const result = await job.waitUntilFinished(ev, 30000);
    assert.deepEqual(result, { echo: { hello: 'world' }, attempt: 0 });
    const again = await Job.fromId(q, job.id);
    assert.equal(again.finishedOn > 0, true);
    const m = parseMetrics((await h2req(k.url, { path: '/metrics' })).body);
    assert.equal(m[`kirana_queue_jobs_total{queue="${name}",state="completed"}`], 1);
  } finally {
    await ev.close(); await q.obliterate({ force: true }); await q.close();
    assert.equal((await k.stop()).code, 0); k.cleanup();
  }
});

test('a job added by a kirana route is processed by a Node worker', async () => {
  const name = qname('k2n');
  const k = await startKirana(config('unused-' + name, ['http']));
  const seen = [];
  const w = new Worker(name, async (job) => { seen.push(job.data); return { ok: job.name }; }, { connection });
  try {
    const r = await h2req(k.url, { method: 'POST', path: '/t/enqueue', body: { queue: name, name: 'ship', data: { order: 'o1' }, opts: { jobId: 'o1', attempts: 3 } } });
    assert.equal(r.status, 201, r.body);
    assert.equal(r.json.id, 'o1');
    await waitFor(() => seen.length === 1, 10000, 'the Node worker');
    assert.deepEqual(seen[0], { order: 'o1' });
    const dup = await h2req(k.url, { method: 'POST', path: '/t/enqueue', body: { queue: name, name: 'ship', data: { order: 'o1' }, opts: { jobId: 'o1' } } });
    assert.equal(dup.json.id, 'o1');
    await sleep(300);
    assert.equal(seen.length, 1, 'the same jobId is one job');
    const bad = await h2req(k.url, { method: 'POST', path: '/t/enqueue', body: { queue: name, name: 'x', data: {}, opts: { attemps: 3 } } });
    assert.equal(bad.status, 400, 'unknown job option refused');
  } finally {
    await w.close();
    const q = new Queue(name, { connection }); await q.obliterate({ force: true }); await q.close();
    await k.stop(); k.cleanup();
  }
});

test('without the worker role the consumer takes no jobs', async () => {
  const name = qname('norole');
  const k = await startKirana(config(name, ['http']));
  const q = new Queue(name, { connection });
  try {
    await q.add('x', {});
    await sleep(700);
    assert.equal((await q.getJobCounts('wait')).wait, 1);
  } finally { await q.obliterate({ force: true }); await q.close(); await k.stop(); k.cleanup(); }
});

test('SIGTERM lets a running job finish before exit', async () => {
  const name = qname('drain');
  const k = await startKirana(config(name, ['worker']));
  const q = new Queue(name, { connection });
  try {
    const job = await q.add('slow', { sleep_ms: 800 });
    await waitFor(async () => (await q.getJobCounts('active')).active === 1, 5000, 'job to start');
    k.proc.kill('SIGTERM');
    const e = await waitFor(() => k.exited, 10000, 'exit');
    assert.equal(e.code, 0);
    const done = await Job.fromId(q, job.id);
    assert.deepEqual(done.returnvalue, { echo: { sleep_ms: 800 }, attempt: 0 });
  } finally { await q.obliterate({ force: true }); await q.close(); k.cleanup(); }
});
