'use strict';
// The order worker: BullMQ Workers for the `order` and `delivery` queues,
// one process beside the HTTP cluster (what kirana's `worker` role does).
//
//   order     placed → confirmed, commit every line, add `delivery`, mark
//             finalized_at; a cancelled order only gets its stock settled
//   delivery  POST to DELIVERY_WEBHOOK_URL if set (else nothing)
//
// Environment: DATABASE_URL, REDIS_URL, ORDER_CONCURRENCY (default 8),
// DELIVERY_CONCURRENCY (4), PG_POOL (default 16), EVENTS_CHANNEL,
// DELIVERY_WEBHOOK_URL.

const Redis = require('ioredis');
const { Pool } = require('pg');
const { Queue, Worker, UnrecoverableError } = require('bullmq');
const store = require('./store');

const env = process.env;
if (!env.DATABASE_URL || !env.REDIS_URL) {
  console.error('worker.js: DATABASE_URL and REDIS_URL are required');
  process.exit(2);
}
const pg = new Pool({ connectionString: env.DATABASE_URL, max: Number(env.PG_POOL ?? 16) });
const redis = new Redis(env.REDIS_URL, { enableAutoPipelining: true });
const connection = new Redis(env.REDIS_URL, { maxRetriesPerRequest: null });
const ctx = { pg, redis, channel: env.EVENTS_CHANNEL ?? 'kirana:order-events' };
const deliveryQueue = new Queue('delivery', { connection });

async function finalize(job) {
  const id = job.data.order_id;
  if (typeof id !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw new UnrecoverableError('no order id');
  // the usual case first: a placed order is decided without a read
  let doc = await store.transition(ctx, id, 'placed', 'confirmed');
  for (let round = 0; !doc || (doc.status === 'placed' && round < 8); round++) {
    doc = (await store.transition(ctx, id, 'placed', 'confirmed')) ?? (await store.loadOrder(ctx, id));
    if (!doc) throw new UnrecoverableError(`no order ${id}`);
  }
  switch (doc.status) {
    case 'cancelled':
      // the cancel settles its own stock; this finishes what a crashed one left
      await store.eachLine(ctx, 'release', doc);
      await store.eachLine(ctx, 'uncommit', doc);
      return;
    case 'confirmed':
    case 'packed':
      await store.eachLine(ctx, 'commit', doc);
      break;
    default:
      throw new Error(`order ${id} is ${doc.status}`); // still being placed: retried
  }
  await deliveryQueue.add('notify', { order_id: id }, { jobId: id, ...store.DELIVERY_JOB, ...store.KEEP });
  await pg.query(
    `UPDATE orders SET doc = doc || jsonb_build_object('finalized_at', $2::text) WHERE id = $1 AND NOT doc ? 'finalized_at'`,
    [id, store.iso()]);
}

async function notify(job) {
  const url = env.DELIVERY_WEBHOOK_URL;
  if (!url) return;
  const order = await store.loadOrder(ctx, job.data.order_id);
  if (!order || order.status === 'cancelled') return;
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': order._id },
    body: JSON.stringify({ event: 'order.confirmed', order: store.orderView(order) }),
    signal: AbortSignal.timeout(5000),
  });
  if (r.status >= 500 || r.status === 408 || r.status === 429) throw new Error(`webhook answered ${r.status}`);
  if (r.status >= 400) throw new UnrecoverableError(`webhook answered ${r.status}`);
}

const workers = [
  new Worker('order', finalize, { connection, concurrency: Number(env.ORDER_CONCURRENCY ?? 8) }),
  new Worker('delivery', notify, { connection, concurrency: Number(env.DELIVERY_CONCURRENCY ?? 4) }),
];
for (const w of workers) w.on('failed', (job, err) => console.error(`${w.name} ${job?.id}: ${err.message}`));
Promise.all(workers.map((w) => w.waitUntilReady())).then(() => console.log('workers ready'));

process.on('SIGTERM', async () => {
  await Promise.allSettled(workers.map((w) => w.close()));
  await Promise.allSettled([deliveryQueue.close(), pg.end(), redis.quit(), connection.quit()]);
  process.exit(0);
});
