'use strict';
// What server.js and worker.js share: the PostgreSQL schema, the order
// state machine and the stock effects. The tables have kirana's layout
// (one table per collection, `id text PRIMARY KEY, doc jsonb`), so the
// documents are the ones kirana's product and order plugins read and write.

const { randomBytes } = require('node:crypto');

const SCHEMA = `
CREATE TABLE IF NOT EXISTS products (id text COLLATE "C" PRIMARY KEY, doc jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS orders (id text COLLATE "C" PRIMARY KEY, doc jsonb NOT NULL);
CREATE TABLE IF NOT EXISTS order_idempotency (id text COLLATE "C" PRIMARY KEY, doc jsonb NOT NULL);
CREATE INDEX IF NOT EXISTS products_active_name ON products (((doc->>'name') COLLATE "C"), id)
  WHERE doc->'active' = 'true';
CREATE INDEX IF NOT EXISTS products_category_name ON products ((doc->>'category'), ((doc->>'name') COLLATE "C"), id)
  WHERE doc->'active' = 'true';
CREATE INDEX IF NOT EXISTS orders_user_created ON orders ((doc->>'user_id'), (doc->>'created_at') DESC, id DESC);
CREATE UNIQUE INDEX IF NOT EXISTS order_idempotency_user_key ON order_idempotency ((doc->>'user_id'), (doc->>'key'));
`;

async function migrate(pool) {
  const c = await pool.connect();
  try {
    await c.query('SELECT pg_advisory_lock(4242)');
    await c.query(SCHEMA);
    await c.query('SELECT pg_advisory_unlock(4242)');
  } finally {
    c.release();
  }
}

const iso = (ms = Date.now()) => new Date(ms).toISOString();

// kirana's order id: 12 hex digits of ms time, 12 random.
const newOrderId = () => Date.now().toString(16).padStart(12, '0') + randomBytes(6).toString('hex');

// One guarded update of the order document: the decision. null when the
// order is not in `from` (someone else decided first).
async function transition(ctx, id, from, to, extra = {}) {
  const at = iso();
  const { rows } = await ctx.pg.query(
    `UPDATE orders SET doc = doc || jsonb_build_object(
       'status', $3::text, 'updated_at', $4::text, 'version', (doc->>'version')::int + 1,
       'history', doc->'history' || jsonb_build_array(jsonb_build_object('status', $3::text, 'at', $4::text)))
       || $5::jsonb
     WHERE id = $1 AND doc->>'status' = $2 RETURNING doc`,
    [id, from, to, at, JSON.stringify(extra)],
  );
  if (rows.length === 0) return null;
  const doc = rows[0].doc;
  // live tracking (SSE) listens on this channel, as kirana's does
  ctx.redis.publish(ctx.channel, JSON.stringify({ order: id, history: doc.history })).catch(() => {});
  return doc;
}

async function loadOrder(ctx, id) {
  const { rows } = await ctx.pg.query('SELECT doc FROM orders WHERE id = $1', [id]);
  return rows.length ? rows[0].doc : null;
}

// The stock effects of DESIGN.md, each one guarded single-row update,
// idempotent per (product, order). Each resolves true when it applied.
const pullOrder = (field) =>
  `(SELECT coalesce(jsonb_agg(e), '[]'::jsonb) FROM jsonb_array_elements(doc->'${field}') e WHERE e->>'order' <> $3)`;
const has = (field) => `doc->'${field}' @> jsonb_build_array(jsonb_build_object('order', $3::text))`;

const EFFECTS = {
  reserve: `UPDATE products SET doc = doc || jsonb_build_object(
      'stock', (doc->>'stock')::bigint - $2, 'reserved', (doc->>'reserved')::bigint + $2,
      'holds', doc->'holds' || jsonb_build_array(jsonb_build_object('order', $3::text, 'qty', $2::bigint)))
    WHERE id = $1 AND doc->'active' = 'true' AND (doc->>'stock')::bigint >= $2 AND NOT ${has('holds')}
    RETURNING id`,
  release: `UPDATE products SET doc = doc || jsonb_build_object(
      'stock', (doc->>'stock')::bigint + $2, 'reserved', (doc->>'reserved')::bigint - $2, 'holds', ${pullOrder('holds')})
    WHERE id = $1 AND ${has('holds')} RETURNING id`,
  commit: `UPDATE products SET doc = doc || jsonb_build_object(
      'reserved', (doc->>'reserved')::bigint - $2, 'committed', (doc->>'committed')::bigint + $2,
      'holds', ${pullOrder('holds')},
      'commits', doc->'commits' || jsonb_build_array(jsonb_build_object('order', $3::text, 'qty', $2::bigint)))
    WHERE id = $1 AND ${has('holds')} RETURNING id`,
  uncommit: `UPDATE products SET doc = doc || jsonb_build_object(
      'stock', (doc->>'stock')::bigint + $2, 'committed', (doc->>'committed')::bigint - $2, 'commits', ${pullOrder('commits')})
    WHERE id = $1 AND ${has('commits')} RETURNING id`,
};

async function effect(ctx, name, productId, qty, orderId) {
  const { rowCount } = await ctx.pg.query(EFFECTS[name], [productId, qty, orderId]);
  return rowCount === 1;
}

async function eachLine(ctx, name, order) {
  for (const l of order.items) await effect(ctx, name, l.product_id, l.qty, order._id);
}

// What clients see of an order.
function orderView(d) {
  const a = d.address || {};
  const address = {};
  for (const k of ['line1', 'city', 'pincode', 'lat', 'lng']) if (k in a) address[k] = a[k];
  return {
    id: d._id,
    user_id: d.user_id,
    status: d.status,
    items: d.items.map((l) => ({
      product_id: l.product_id, name: l.name, price: l.price, qty: l.qty, line_total: l.line_total,
    })),
    total: d.total,
    currency: d.currency,
    address,
    note: d.note ?? null,
    cancel_reason: d.cancel_reason ?? null,
    created_at: d.created_at,
    updated_at: d.updated_at,
  };
}

const ORDER_JOB = { attempts: 10, backoff: { type: 'exponential', delay: 500 } };
const DELIVERY_JOB = { attempts: 8, backoff: { type: 'exponential', delay: 2000 } };
// Finished jobs are kept (bounded) so that a late duplicate add stays a no-op.
const KEEP = { removeOnComplete: 100000, removeOnFail: 100000 };

module.exports = {
  migrate, iso, newOrderId, transition, loadOrder, effect, eachLine, orderView, ORDER_JOB, DELIVERY_JOB, KEEP,
};
