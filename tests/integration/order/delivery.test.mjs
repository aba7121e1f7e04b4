// The `delivery` consumer against a real kirana and a local webhook: one
// notification per order with its Idempotency-Key, retries with backoff on
// 5xx and timeouts, no retry on a 4xx, nothing for a cancelled order.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { SRC } from '../lib/harness.mjs';
import { newWorld, product, addToCart, place, cancel, waitStatus, waitFor, assertStock } from './helpers.mjs';

const { Queue, Job } = createRequire(join(SRC, 'package.json'))('bullmq');

let w, k, s, hook, p;
const received = []; // {order, key, body}
const plans = new Map(); // user id → statuses to answer in turn ('hang' waits past the timeout)

before(async () => {
  hook = http.createServer((req, res) => {
    let data = '';
    req.on('data', (d) => (data += d));
    req.on('end', () => {
      const body = JSON.parse(data);
      received.push({ order: body.order.id, key: req.headers['idempotency-key'], type: req.headers['content-type'], body });
      const plan = plans.get(body.order.user_id) || [];
      const next = plan.length > 0 ? plan.shift() : 200;
      if (next === 'hang') setTimeout(() => { res.writeHead(200); res.end(); }, 3000);
      else { res.writeHead(next); res.end(); }
    });
  });
  await new Promise((r) => hook.listen(0, '127.0.0.1', r));
  w = await newWorld('delivery');
  k = await w.start({ order: { delivery: { webhook_url: `http://127.0.0.1:${hook.address().port}/hook`,
    // (a timeout well above a loaded machine's scheduling delays: a slow
    // answer counts as a timeout and is sent again, at least once)
    timeout_ms: 2000, attempts: 4, backoff_ms: 100 } } });
  s = w.session(k);
  p = await product(s, { stock: 100 });
});

after(async () => {
  await w?.close();
  hook?.close();
});

const deliveries = (id) => received.filter((r) => r.order === id);

async function order(u) {
  await addToCart(s, u, p.id, 1);
  const r = await place(s, u);
  assert.equal(r.status, 201, r.body);
  return r.json.id;
}

async function deliveryJob(id) {
  const q = new Queue('delivery', { connection: { host: '127.0.0.1', port: Number(w.env.KIRANA_TEST_REDIS_PORT) },
    prefix: w.prefix });
  try { return await Job.fromId(q, id); } finally { await q.close(); }
}

test('a confirmed order is posted once to the webhook, with the order and its Idempotency-Key', async () => {
  const u = w.user();
  const id = await order(u);
  await waitStatus(s, id, 'confirmed');
  await waitFor(() => deliveries(id).length === 1, 10000, 'the webhook call');
  const [d] = deliveries(id);
  assert.equal(d.key, id);
  assert.equal(d.type, 'application/json');
  assert.equal(d.body.event, 'order.confirmed');
  assert.equal(d.body.order.status, 'confirmed');
  assert.equal(d.body.order.items[0].product_id, p.id);
  await waitFor(async () => (await deliveryJob(id))?.finishedOn > 0, 5000, 'the job to complete');
  assert.deepEqual((await deliveryJob(id)).returnvalue, { order_id: id, notified: true });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(deliveries(id).length, 1);
});

test('5xx and timeouts are retried with backoff until the partner accepts', async () => {
  const u = w.user();
  plans.set(u.id, [500, 'hang', 503]);
  const id = await order(u);
  await waitFor(() => deliveries(id).length === 4, 15000, 'four calls');
  await waitFor(async () => (await deliveryJob(id))?.finishedOn > 0, 5000, 'the job to complete');
  const job = await deliveryJob(id);
  assert.equal(job.attemptsMade, 4);
  assert.deepEqual(job.returnvalue, { order_id: id, notified: true });
  assert.ok(deliveries(id).every((d) => d.key === id), 'the same key each time');
});

test('a 4xx is not retried: the job fails for good with the reason', async () => {
  const u = w.user();
  plans.set(u.id, [422]);
  const id = await order(u);
  await waitFor(async () => (await deliveryJob(id))?.failedReason, 10000, 'the job to fail');
  const job = await deliveryJob(id);
  assert.match(job.failedReason, /HTTP 422/);
  assert.equal(job.attemptsMade, 1);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(deliveries(id).length, 1);
  assert.equal((await waitStatus(s, id, 'confirmed')).status, 'confirmed', 'the order itself stands');
});

test('a delivery job for a cancelled order notifies nobody', async () => {
  const u = w.user();
  const id = await order(u);
  await waitStatus(s, id, 'confirmed');
  await waitFor(() => deliveries(id).length === 1, 10000, 'the first notification');
  assert.equal((await cancel(s, u, id)).status, 200);
  // a duplicate (say, from a Node producer) arriving after the cancel
  const q = new Queue('delivery', { connection: { host: '127.0.0.1', port: Number(w.env.KIRANA_TEST_REDIS_PORT) },
    prefix: w.prefix });
  try {
    const job = await q.add('notify', { order_id: id }, { jobId: `${id}-again` });
    await waitFor(async () => (await Job.fromId(q, job.id))?.finishedOn > 0, 10000, 'the duplicate to complete');
    assert.deepEqual((await Job.fromId(q, job.id)).returnvalue, { order_id: id, notified: false });
  } finally { await q.close(); }
  assert.equal(deliveries(id).length, 1);
  await assertStock(s, p.id, 100);
});
