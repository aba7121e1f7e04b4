// Shared by the order integration tests: kirana with testkit (authenticator:
// "Bearer test-<role>-<id>"), product.so, cart.so and order.so on a fresh
// database (PostgreSQL, or MongoDB / FerretDB under KIRANA_TEST_DB=mongo:
// lib/db.mjs), with a queue prefix and an events channel of its own (test
// files may run in parallel against one Redis), plus helpers for products,
// carts, orders and the stock identity. The stored documents are read
// through lib/inspect.mjs, so every check works on both backends.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { baseConfig, execFileP, FIXTURES, h2connect, h2req, serversEnv, startKirana, waitFor } from '../lib/harness.mjs';
import { freshDatabase } from '../lib/db.mjs';
import { backendKind, inspector, skipWithoutAtomicUpdates } from '../lib/inspect.mjs';

export { backendKind, skipWithoutAtomicUpdates };

/** For node:test's `skip` option on cases that need PostgreSQL itself (not
 * just a document store): false on PostgreSQL, else the reason. */
export const skipUnlessPostgres = (why) => (backendKind() === 'postgresql' ? false : `needs PostgreSQL: ${why}`);

// Integers as kirana writes them: int64 where int32 is too small (the Node
// driver would write a double, which kirana reads back as a real).
async function toBson(v) {
  const { Long } = await import('mongodb');
  const conv = (x) => {
    if (Number.isInteger(x) && (x > 2147483647 || x < -2147483648)) return Long.fromNumber(x);
    if (Array.isArray(x)) return x.map(conv);
    if (x !== null && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, e]) => [k, conv(e)]));
    return x;
  };
  return conv(v);
}

/** Inserts doc (with a string _id) into coll as kirana would store it. */
async function insertDoc(db, coll, doc) {
  if (typeof doc?._id !== 'string') throw new Error('insertDoc: the document needs a string _id');
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(coll)) throw new Error(`insertDoc: bad collection name ${coll}`);
  if (db.uri.startsWith('mongodb')) {
    const { MongoClient } = await import('mongodb');
    const client = new MongoClient(db.uri, { serverSelectionTimeoutMS: 10000 });
    try {
      await client.db().collection(coll).insertOne(await toBson(doc));
    } finally {
      await client.close();
    }
    return;
  }
  const lit = (x) => `'${String(x).replace(/'/g, "''")}'`;
  await execFileP('psql', [db.uri, '-qAtX', '-v', 'ON_ERROR_STOP=1', '-c',
    `INSERT INTO "${coll}" (id, doc) VALUES (${lit(doc._id)}, ${lit(JSON.stringify(doc))}::jsonb)`]);
}

export const ADMIN = { authorization: 'Bearer test-admin-boss' };
export const ADDRESS = { line1: '12 MG Road', city: 'Bengaluru', pincode: '560001' };

/** Deep merge of plain objects (arrays and scalars replace). */
export function merge(a, b) {
  const out = { ...a };
  for (const [k, v] of Object.entries(b || {})) {
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && a[k] && typeof a[k] === 'object' ? merge(a[k], v) : v;
  }
  return out;
}

/** A test-file-wide setting: database, prefixes, users, processes. */
export async function newWorld(tag) {
  const env = serversEnv();
  const db = await freshDatabase(`ord_${tag}`);
  const run = randomBytes(4).toString('hex');
  let users = 0;
  const w = {
    env, db, run, procs: [], sessions: [],
    prefix: `kt-${tag}-${run}`,
    channel: `kt:${tag}:${run}:order-events`,
    /** A fresh user: {id, h (auth header)}. */
    user() {
      const id = `u${run}-${++users}`;
      return { id, h: { authorization: `Bearer test-user-${id}` } };
    },
    /** kirana with the four plugins. opts: roles, order (merged into the order config), db, queue, server, env. */
    async start(opts = {}) {
      const config = baseConfig({
        roles: opts.roles || ['http', 'worker'],
        server: { workers: 16, shutdown_timeout_ms: 5000, ...(opts.server || {}) },
        db: { uri: db.uri, pool_size: 20, ...(opts.db || {}) },
        redis: { url: env.KIRANA_TEST_REDIS_URL, pool_size: 20 },
        queue: { redis: env.KIRANA_TEST_REDIS_URL, prefix: w.prefix, stalled_interval_ms: 1000, lock_duration_ms: 2000,
          ...(opts.queue || {}) },
        log: { level: 'info', access: false },
        plugins: [
          { name: 'testkit', path: `${FIXTURES}/testkit.so`, mount: '/t', config: { authenticator: true } },
          { name: 'product', path: 'product.so', mount: '/products' },
          { name: 'cart', path: 'cart.so', mount: '/cart', config: { max_qty_per_item: 1000 } },
          { name: 'order', path: 'order.so', mount: '/orders',
            config: merge({ events_channel: w.channel, reconcile_interval_ms: 500 }, opts.order || {}) },
        ],
      });
      const k = await startKirana(config, { env: opts.env });
      k.roles = config.roles;
      k.queuePrefix = config.queue.prefix;
      w.procs.push(k);
      return k;
    },
    session(k) {
      const s = h2connect(k.url);
      s.setMaxListeners(0);
      s.world = w; // for place and waitStatus
      s.kirana = k;
      w.sessions.push(s);
      return s;
    },
    /** On FerretDB v1, waits until the worker has finished with the order (its
     * last write, `finalized_at`): a change racing that write could be lost
     * there (no atomic single-document updates, FerretDB #3040). Elsewhere
     * the race is safe and this returns at once, as it does when no worker
     * runs (on the queue of `via`, the process the order was placed on). */
    async settled(id, ms = 15000, via = null) {
      const working = w.procs.some((k) => !k.exited && k.roles.includes('worker') &&
        (!via || k.queuePrefix === via.queuePrefix));
      if (backendKind() !== 'ferretdb' || !working) return;
      const ins = await w.ins();
      await waitFor(async () => (await ins.findOne('orders', { _id: id }))?.finalized_at != null, ms,
        `the worker to finish order ${id}`);
    },
    redis(...args) {
      return execFileP('redis-cli', ['-p', env.KIRANA_TEST_REDIS_PORT, ...args]).then((r) => r.stdout.trim());
    },
    /** The test database's inspector (lib/inspect.mjs), made on first use. */
    async ins() {
      w.inspector ??= inspector(db);
      return w.inspector;
    },
    /** Writes a document straight into a collection (a state a dead process left). */
    insert(coll, doc) {
      return insertDoc(db, coll, doc);
    },
    async close() {
      for (const s of w.sessions) s.close();
      if (w.inspector) await (await w.inspector).close();
      const exits = [];
      for (const k of w.procs) {
        if (!k.exited) exits.push(await k.stop());
        k.cleanup();
      }
      await w.redis('EVAL', "for _,k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end", '0', `${w.prefix}:*`)
        .catch(() => {});
      await db.drop();
      for (const e of exits) assert.equal(e.code, 0, `clean exit (no sanitizer report): ${JSON.stringify(e)}`);
    },
  };
  return w;
}

export const send = (s, method, path, headers = {}, body) =>
  h2req(s, { method, path, headers: body !== undefined ? { 'content-type': 'application/json', ...headers } : headers, body });

/** A product created by the admin; returns its admin view. */
export async function product(s, fields = {}) {
  const r = await send(s, 'POST', '/products', ADMIN, { name: `P ${randomBytes(3).toString('hex')}`, price: 2500,
    stock: 10, ...fields });
  assert.equal(r.status, 201, r.body);
  return r.json;
}

/** The admin view of a product (stock bookkeeping included). */
export async function stockOf(s, id) {
  const r = await send(s, 'GET', `/products/${id}`, ADMIN);
  assert.equal(r.status, 200, r.body);
  return r.json;
}

/**
 * Asserts the stock identity: stock + reserved + committed + shipped equals
 * what was put in, nothing is negative, and holds/commits add up to the
 * reserved/committed counters. expect (optional) pins the counters.
 */
export async function assertStock(s, id, total, expect = {}) {
  const p = await stockOf(s, id);
  assert.equal(p.stock + p.reserved + p.committed + p.shipped, total, `identity for ${id}: ${JSON.stringify(p)}`);
  for (const k of ['stock', 'reserved', 'committed', 'shipped']) assert.ok(p[k] >= 0, `${k} >= 0: ${JSON.stringify(p)}`);
  assert.equal(p.holds.reduce((a, h) => a + h.qty, 0), p.reserved, `holds add up: ${JSON.stringify(p)}`);
  assert.equal(p.commits.reduce((a, c) => a + c.qty, 0), p.committed, `commits add up: ${JSON.stringify(p)}`);
  for (const [k, v] of Object.entries(expect)) assert.equal(p[k], v, `${k} of ${id}: ${JSON.stringify(p)}`);
  return p;
}

export async function addToCart(s, u, productId, qty) {
  const r = await send(s, 'POST', '/cart/items', u.h, { product_id: productId, qty });
  assert.equal(r.status, 200, r.body);
  return r.json;
}

/** POST /orders. On FerretDB, with a worker running, a 201 also waits for the
 * worker to finish the order (world.settled), so that the next request of a
 * test never races the worker on one product there. */
export async function place(s, u, key = randomBytes(8).toString('hex'), body = { address: ADDRESS }) {
  const r = await send(s, 'POST', '/orders', { ...u.h, 'idempotency-key': key }, body);
  if (r.status === 201 && s.world) await s.world.settled(r.json.id, 15000, s.kirana);
  return r;
}

export const getOrder = (s, u, id) => send(s, 'GET', `/orders/${id}`, u.h);

/** Waits until the order (read as admin) has the status; for `confirmed`
 * on FerretDB also until the worker is done with it (world.settled). */
export async function waitStatus(s, id, status, ms = 15000) {
  let last;
  await waitFor(async () => {
    last = await send(s, 'GET', `/orders/${id}`, ADMIN);
    return last.json?.status === status;
  }, ms, `order ${id} to be ${status} (last: ${last?.json?.status})`);
  if (status === 'confirmed' && s.world) await s.world.settled(id, ms);
  return last.json;
}

export const setStatus = (s, id, status, h = ADMIN) => send(s, 'PATCH', `/orders/${id}/status`, h, { status });
export const cancel = (s, u, id) => send(s, 'POST', `/orders/${id}/cancel`, u.h);

export { h2req, h2connect, waitFor };
