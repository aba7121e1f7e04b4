// What must hold after every fault, read from the database (orders), the
// admin view of each product (its documented stock counters) and the queue
// Redis (BullMQ's key layout: <prefix>:<queue>:wait|active|delayed|...).
import { sleep } from '../../integration/lib/harness.mjs';
import { ADMIN, until } from './system.mjs';
import { client } from './load.mjs';

const QUEUES = ['order', 'delivery'];

export async function ordersOf(w) {
  return JSON.parse(await w.sql(`SELECT coalesce(json_agg(json_build_object('id', id, 'user', doc->>'user_id',
    'status', doc->>'status', 'reason', doc->>'cancel_reason', 'items', doc->'items', 'fin', doc->>'finalized_at')),
    '[]') FROM orders`));
}

/** Jobs not yet ended, per queue. */
async function openJobs(w) {
  const r = w.queueRedis, out = {};
  for (const q of QUEUES) {
    const k = `${w.prefix}:${q}`;
    const [wait, active, paused, delayed, prio] = await Promise.all([r.llen(`${k}:wait`), r.llen(`${k}:active`),
      r.llen(`${k}:paused`), r.zcard(`${k}:delayed`), r.zcard(`${k}:prioritized`)]);
    out[q] = wait + active + paused + delayed + prio;
  }
  return out;
}

/**
 * Waits until nothing is in flight any more: no order pending or placed,
 * every confirmed order finalized, nothing reserved, no job waiting,
 * active or delayed. Resolves the time it took (or throws on timeout).
 */
export async function quiesce(w, ms = 90000) {
  const t0 = Date.now();
  let last = '';
  try {
    await until(async () => {
      const row = await w.sql(`SELECT
        (SELECT count(*) FROM orders WHERE doc->>'status' IN ('pending', 'placed')
           OR (doc->>'status' = 'confirmed' AND doc->>'finalized_at' IS NULL)),
        (SELECT coalesce(sum((doc->>'reserved')::bigint), 0) FROM products)`).catch((e) => `sql: ${e.message}`);
      const jobs = await openJobs(w).catch((e) => ({ error: e.message }));
      last = `orders in flight|reserved: ${row}; open jobs: ${JSON.stringify(jobs)}`;
      return row === '0|0' && Object.values(jobs).every((n) => n === 0);
    }, ms, 'quiescence');
  } catch (e) {
    throw new Error(`${e.message} (${last})`);
  }
  return Date.now() - t0;
}

/** The admin view of each product (Map id → view, or null), read while the http process runs. */
export async function productViews(w, products) {
  const c = client(w);
  const views = new Map();
  for (const id of products.initial.keys()) {
    let p = null;
    for (let i = 0; i < 20 && !p; i++) {
      const r = await c.request('GET', `/products/${id}`, ADMIN);
      if (r.status === 200) p = r.json;
      else await sleep(200);
    }
    views.set(id, p);
  }
  c.close();
  return views;
}

/** The invariants; resolves [{name, ok, detail}] and figures. */
export async function verify(w, { products, views, load, health, recovery, exits, extra = [] }) {
  const checks = [];
  const check = (name, ok, detail = '') => checks.push({ name, ok: !!ok, detail: ok ? '' : detail });
  const orders = await ordersOf(w);
  const byId = new Map(orders.map((o) => [o.id, o]));

  // stock identity and stock against the orders, from the admin view
  const bad = [], mismatch = [];
  const want = new Map();
  for (const o of orders) {
    if (o.status !== 'confirmed') continue;
    for (const it of o.items) want.set(it.product_id, (want.get(it.product_id) || 0) + it.qty);
  }
  for (const [id, initial] of products.initial) {
    const p = views.get(id);
    if (!p) { bad.push(`${id}: no admin view`); continue; }
    const sum = p.stock + p.reserved + p.committed + p.shipped;
    if (sum !== initial || ['stock', 'reserved', 'committed', 'shipped'].some((k) => !(p[k] >= 0)))
      bad.push(`${id}: stock ${p.stock} + reserved ${p.reserved} + committed ${p.committed} + shipped ${p.shipped} != ${initial}`);
    const committed = want.get(id) || 0;
    if (p.committed !== committed || p.reserved !== 0 || p.shipped !== 0 || p.stock !== initial - committed)
      mismatch.push(`${id}: committed ${p.committed} reserved ${p.reserved} stock ${p.stock}, confirmed orders hold ${committed} of ${initial}`);
  }
  check('stock identity', !bad.length, bad.join('; '));
  check('stock = confirmed orders', !mismatch.length, mismatch.join('; '));

  // every accepted order exists once and was confirmed; nothing doubled
  const accepted = load.orders;
  const missing = accepted.filter((a) => byId.get(a.id)?.status !== 'confirmed' || !byId.get(a.id)?.fin);
  const dupIds = accepted.length - new Set(accepted.map((a) => a.id)).size;
  check('accepted orders confirmed', !missing.length && !dupIds,
    `${missing.length} accepted orders not confirmed: ${JSON.stringify(missing.slice(0, 3).map((a) => byId.get(a.id) || a.id))}; ${dupIds} ids answered twice`);
  const perUser = new Map();
  for (const o of orders) perUser.set(o.user, (perUser.get(o.user) || 0) + 1);
  const doubled = [...perUser].filter(([, n]) => n > 1);
  check('no order doubled', !doubled.length, `users with more than one order (one key each): ${JSON.stringify(doubled.slice(0, 5))}`);
  const odd = orders.filter((o) => !(o.status === 'confirmed' && o.fin) &&
    !(o.status === 'cancelled' && ['out_of_stock', 'placement_timeout'].includes(o.reason)));
  check('orders in a final state', !odd.length, JSON.stringify(odd.slice(0, 3)));

  // every job ended, failures with a reason
  const open = await openJobs(w);
  const noReason = [];
  const jobs = {};
  const ended = new Set();
  for (const q of QUEUES) {
    const k = `${w.prefix}:${q}`;
    const failed = await w.queueRedis.zrange(`${k}:failed`, 0, -1);
    const completed = await w.queueRedis.zrange(`${k}:completed`, 0, -1);
    if (q === 'order') for (const id of [...failed, ...completed]) ended.add(id);
    jobs[q] = { completed: completed.length, failed: failed.length };
    for (const id of failed) {
      if (!(await w.queueRedis.hget(`${k}:${id}`, 'failedReason'))) noReason.push(`${q}/${id}`);
    }
  }
  check('jobs completed or failed with a reason', Object.values(open).every((n) => n === 0) && !noReason.length,
    `open ${JSON.stringify(open)}, failed without reason: ${noReason.slice(0, 5).join(' ')}`);

  check('every request answered', !load.lost.length && !load.unexpected.length,
    `unanswered after retries: ${JSON.stringify(load.lost.slice(0, 3))}; unexpected: ${JSON.stringify(load.unexpected.slice(0, 3))}`);
  check('/healthz within 1 s', health.failed === 0 && health.slow === 0,
    `${health.failed} failed, ${health.slow} slow of ${health.probes} (max ${health.maxMs} ms): ${health.errors.slice(0, 3).join(', ')}`);
  check('recovered without restart', recovery.placedMs !== null && recovery.confirmedMs !== null,
    `probe order placed after ${recovery.placedMs} ms, confirmed after ${recovery.confirmedMs} ms`);
  check('clean exits', exits.every((e) => e.code === 0),
    exits.filter((e) => e.code !== 0).map((e) => `${e.roles}: ${e.code}/${e.signal} ${e.tail}`).join('\n'));
  for (const x of extra) check(x.name, x.ok, x.detail);

  const count = (s) => orders.filter((o) => o.status === s).length;
  const figures = {
    users: load.users, placed: accepted.length, answers: load.statuses, confirmed: count('confirmed'),
    out_of_stock: orders.filter((o) => o.reason === 'out_of_stock').length,
    timed_out: orders.filter((o) => o.reason === 'placement_timeout').length,
    requests: load.requests, failed: load.failed, failedWindow: load.failedWindow, failedByKind: load.failedByKind,
    jobs, recovery, healthMaxMs: health.maxMs,
    // confirmed by the reconciler alone: their job was never added (queue down while placing)
    jobless: orders.filter((o) => o.status === 'confirmed' && !ended.has(o.id)).length,
  };
  return { checks, figures };
}
