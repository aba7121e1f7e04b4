'use strict';
// kirana's catalogue, cart and order API as an Express app, run the way a
// Node team runs one in production: node:cluster with one process per core,
// a pg Pool and an ioredis client per process, BullMQ for the order queue
// (worker.js consumes it), NODE_ENV=production. See README.md.
//
// Environment: PORT (default 3000; 0 = any), DATABASE_URL, REDIS_URL,
// JWT_SECRET (the HS256 secret kirana's auth.so signs with), WEB_CONCURRENCY
// (processes; default: one per core), PG_POOL (connections per process,
// default 16), CART_MAX_QTY (default 20), EVENTS_CHANNEL.

const cluster = require('node:cluster');
const os = require('node:os');
const { randomUUID, randomBytes, createSecretKey } = require('node:crypto');
const express = require('express');
const jwt = require('jsonwebtoken');
const Redis = require('ioredis');
const { Pool } = require('pg');
const { Queue } = require('bullmq');
const store = require('./store');

const env = process.env;
const cfg = {
  port: Number(env.PORT ?? 3000),
  host: env.HOST ?? '127.0.0.1',
  dbUrl: env.DATABASE_URL,
  redisUrl: env.REDIS_URL,
  secret: env.JWT_SECRET,
  issuer: env.JWT_ISSUER ?? 'kirana',
  audience: env.JWT_AUDIENCE ?? 'kirana-app',
  processes: Number(env.WEB_CONCURRENCY ?? os.availableParallelism()),
  pgPool: Number(env.PG_POOL ?? 16),
  cartTtlMs: Number(env.CART_TTL_SECONDS ?? 2592000) * 1000,
  cartMaxQty: Number(env.CART_MAX_QTY ?? 20),
  cartMaxLines: Number(env.CART_MAX_LINES ?? 50),
  idemTtlMs: 86400 * 1000,
  pendingTimeoutMs: 60000,
  channel: env.EVENTS_CHANNEL ?? 'kirana:order-events',
};
if (!cfg.dbUrl || !cfg.redisUrl || !cfg.secret || Buffer.byteLength(cfg.secret) < 32) {
  console.error('server.js: DATABASE_URL, REDIS_URL and JWT_SECRET (32+ bytes) are required');
  process.exit(2);
}

if (cluster.isPrimary) {
  const pool = new Pool({ connectionString: cfg.dbUrl, max: 1 });
  store.migrate(pool).then(async () => {
    await pool.end();
    for (let i = 0; i < cfg.processes; i++) cluster.fork();
    let ready = 0;
    cluster.on('listening', (w, addr) => {
      if (++ready === cfg.processes) console.log(`listening on ${addr.address}:${addr.port} (${cfg.processes} processes)`);
    });
    cluster.on('exit', (w, code, signal) => {
      if (!shuttingDown) {
        console.error(`process ${w.process.pid} died (${signal || code}), restarting`);
        cluster.fork();
      }
    });
  }, (e) => {
    console.error('server.js: migration failed:', e.message);
    process.exit(1);
  });
  let shuttingDown = false;
  process.on('SIGTERM', () => {
    shuttingDown = true;
    for (const w of Object.values(cluster.workers)) w.kill('SIGTERM');
  });
  return;
}

// ---- a cluster worker: the HTTP app ----

const pg = new Pool({ connectionString: cfg.dbUrl, max: cfg.pgPool });
const redis = new Redis(cfg.redisUrl, { enableAutoPipelining: true });
const queueConn = new Redis(cfg.redisUrl, { maxRetriesPerRequest: null });
const orderQueue = new Queue('order', { connection: queueConn });
const ctx = { pg, redis, channel: cfg.channel };
// A KeyObject, made once: given a string, jsonwebtoken 9 first tries it as
// a PEM public key on every verify, and that failed parse is most of a
// request's CPU time.
const jwtKey = createSecretKey(Buffer.from(cfg.secret));

// The cart change of kirana's cart.so, as one Lua script (atomic in Redis).
// ARGV: product id, qty, mode, max qty per line, stock, max lines, ttl ms.
// Returns {verdict (0 ok, 1 qty_limit, 2 stock, 3 cart_full), qty, HGETALL}.
redis.defineCommand('cartChange', {
  numberOfKeys: 1,
  lua: `local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local want = tonumber(ARGV[2])
if ARGV[3] == 'add' then want = cur + want end
if want > tonumber(ARGV[4]) then return {1, want, {}} end
if want > tonumber(ARGV[5]) then return {2, want, {}} end
if cur == 0 and want > 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[6]) then return {3, want, {}} end
if want == 0 then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], want) end
redis.call('PEXPIRE', KEYS[1], ARGV[7])
return {0, want, redis.call('HGETALL', KEYS[1])}`,
});

// ---- problems (RFC 9457), as kirana writes them ----

const TITLES = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  409: 'Conflict', 413: 'Content Too Large', 422: 'Unprocessable Content', 500: 'Internal Server Error',
  503: 'Service Unavailable',
};
function problem(res, status, code, detail, extra = {}) {
  const body = { type: `https://kirana.dev/problems/${code}`, title: TITLES[status] ?? 'Error', status, detail, code };
  for (const [k, v] of Object.entries(extra)) if (!(k in body) || k === 'detail') body[k] = v;
  res.status(status).type('application/problem+json').send(JSON.stringify(body));
}
const invalid = (res, errors) => problem(res, 400, 'validation_failed', 'the request is not valid', { errors });

// ---- authentication: kirana's access tokens ----

async function principal(req) {
  const h = req.get('authorization');
  if (!h || !/^bearer /i.test(h)) return null;
  let c;
  try {
    c = jwt.verify(h.slice(7).trim(), jwtKey, {
      algorithms: ['HS256'], issuer: cfg.issuer, audience: cfg.audience, clockTolerance: 30,
    });
  } catch {
    return null;
  }
  if (c.typ !== 'access' || !c.sub || !c.jti || !c.sid || !c.role || !Number.isInteger(c.iat)) return null;
  // the deny-list auth.so writes on logout and refresh-token reuse
  if ((await redis.exists(`auth:deny:jti:${c.jti}`, `auth:deny:sid:${c.sid}`)) > 0) return null;
  return { userId: c.sub, role: c.role, sessionId: c.sid, tokenId: c.jti };
}

const wrap = (fn) => (req, res, next) => fn(req, res).catch(next);

function requireUser(req, res, next) {
  principal(req).then((user) => {
    if (!user) {
      res.set('www-authenticate', 'Bearer');
      return problem(res, 401, 'unauthorized', 'a valid access token is required');
    }
    req.user = user;
    next();
  }, next);
}

// ---- products ----

const PUBLIC = ['name', 'description', 'price', 'unit', 'category', 'image_url', 'stock'];
function productView(d) {
  const v = { id: d._id };
  for (const k of PUBLIC) v[k] = d[k] ?? null;
  return v;
}
const idPlausible = (s) => typeof s === 'string' && s.length >= 1 && s.length < 64 && /^[\x21-\x7e]+$/.test(s);
const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
function unb64(s) {
  try {
    const v = JSON.parse(Buffer.from(s, 'base64url').toString());
    return Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string' ? v : null;
  } catch {
    return null;
  }
}

const app = express();
app.disable('x-powered-by');
app.disable('etag'); // kirana sends none; an ETag costs a hash of every body
app.use((req, res, next) => {
  res.set('x-request-id', randomUUID());
  next();
});
app.use(express.json({ limit: '1mb' }));

app.get('/products', wrap(async (req, res) => {
  const q = req.query;
  const errors = [];
  let limit = 20;
  if (q.limit !== undefined) {
    limit = /^[0-9]{1,3}$/.test(q.limit) ? Number(q.limit) : 0;
    if (limit < 1 || limit > 100) errors.push({ field: 'limit', message: 'must be an integer from 1 to 100' });
  }
  const cursor = q.cursor !== undefined ? unb64(String(q.cursor)) : undefined;
  if (cursor === null) errors.push({ field: 'cursor', message: 'is not a cursor from this server' });
  if (q.q !== undefined && String(q.q).length > 100) errors.push({ field: 'q', message: 'at most 100 characters' });
  if (errors.length) return invalid(res, errors);
  const where = [`doc->'active' = 'true'`];
  const args = [];
  if (q.category !== undefined) {
    args.push(String(q.category));
    where.push(`doc->>'category' = $${args.length}`);
  }
  if (q.q) {
    args.push(`%${String(q.q).replace(/[\\%_]/g, '\\$&')}%`);
    where.push(`doc->>'name' ILIKE $${args.length}`);
  }
  if (cursor) {
    args.push(cursor[0], cursor[1]);
    where.push(`((doc->>'name') COLLATE "C", id) > ($${args.length - 1}, $${args.length})`);
  }
  args.push(limit + 1);
  const { rows } = await pg.query(
    `SELECT doc FROM products WHERE ${where.join(' AND ')} ORDER BY (doc->>'name') COLLATE "C", id LIMIT $${args.length}`,
    args,
  );
  const more = rows.length > limit;
  const items = rows.slice(0, limit).map((r) => productView(r.doc));
  const last = items[items.length - 1];
  res.json({ items, next_cursor: more ? b64([last.name, last.id]) : null });
}));

app.get('/products/:id', wrap(async (req, res) => {
  const { rows } = await pg.query('SELECT doc FROM products WHERE id = $1', [req.params.id]);
  if (rows.length === 0 || rows[0].doc.active !== true) return problem(res, 404, 'not_found', 'no such product');
  res.json(productView(rows[0].doc));
}));

// ---- cart ----

const cartKey = (userId) => `cart:${userId}`;

function linesFrom(flat) {
  const lines = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const qty = /^[1-9][0-9]*$/.test(flat[i + 1]) ? Number(flat[i + 1]) : 0;
    if (qty >= 1) lines.push({ productId: String(flat[i]), qty });
  }
  return lines.sort((a, b) => (a.productId < b.productId ? -1 : a.productId > b.productId ? 1 : 0));
}

async function cartView(lines) {
  const byId = new Map();
  if (lines.length) {
    const { rows } = await pg.query(
      `SELECT id, doc->'name' AS name, doc->'price' AS price, doc->'stock' AS stock, doc->'active' AS active
       FROM products WHERE id = ANY($1)`,
      [lines.map((l) => l.productId)],
    );
    for (const r of rows) byId.set(r.id, r);
  }
  let total = 0;
  const items = lines.map((l) => {
    const p = byId.get(l.productId);
    const price = p && Number.isInteger(p.price) ? p.price : null;
    const available = !!p && p.active === true && p.stock >= l.qty;
    const lineTotal = price !== null ? price * l.qty : null;
    if (available && lineTotal !== null) total += lineTotal;
    return { product_id: l.productId, name: p ? p.name : null, price, qty: l.qty, line_total: lineTotal, available };
  });
  return { items, total, currency: 'INR' };
}

function checkQty(body, min, errors) {
  const q = body.qty;
  if (q === undefined) errors.push({ field: 'qty', message: 'is required' });
  else if (typeof q !== 'number' || !Number.isInteger(q) || q < min || q > 1000000)
    errors.push({ field: 'qty', message: `must be an integer from ${min} to 1000000` });
}

function unknownFields(body, allowed, errors) {
  for (const k of Object.keys(body)) if (!allowed.includes(k)) errors.push({ field: k, message: 'is not a known field' });
}

const isObject = (b) => b !== null && typeof b === 'object' && !Array.isArray(b);

app.get('/cart', requireUser, wrap(async (req, res) => {
  const key = cartKey(req.user.userId);
  // one round trip, as kirana's cart.so does it
  const [[err, hash]] = await redis.pipeline().hgetall(key).pexpire(key, cfg.cartTtlMs).exec();
  if (err) throw err;
  res.json(await cartView(linesFrom(Object.entries(hash).flat())));
}));

app.post('/cart/items', requireUser, wrap(async (req, res) => {
  const body = req.body;
  if (!isObject(body)) return problem(res, 400, 'invalid_request', 'the body must be a JSON object');
  const errors = [];
  unknownFields(body, ['product_id', 'qty'], errors);
  if (body.product_id === undefined) errors.push({ field: 'product_id', message: 'is required' });
  else if (!idPlausible(body.product_id)) errors.push({ field: 'product_id', message: 'must be a product id' });
  checkQty(body, 1, errors);
  if (errors.length) return invalid(res, errors);
  const { rows } = await pg.query(`SELECT doc->'active' AS active, doc->'stock' AS stock FROM products WHERE id = $1`,
    [body.product_id]);
  if (rows.length === 0 || rows[0].active !== true) return problem(res, 404, 'not_found', 'no such product');
  const stock = Number(rows[0].stock);
  const [verdict, qty, flat] = await redis.cartChange(cartKey(req.user.userId), body.product_id, body.qty, 'add',
    cfg.cartMaxQty, stock, cfg.cartMaxLines, cfg.cartTtlMs);
  if (verdict === 1)
    return problem(res, 409, 'qty_limit', `at most ${cfg.cartMaxQty} of one product per cart`,
      { product_id: body.product_id, requested: qty, max_qty_per_item: cfg.cartMaxQty });
  if (verdict === 2)
    return problem(res, 409, 'insufficient_stock', `only ${stock} available`,
      { product_id: body.product_id, requested: qty, available: stock });
  if (verdict === 3)
    return problem(res, 409, 'cart_full', `a cart holds at most ${cfg.cartMaxLines} different products`,
      { max_lines: cfg.cartMaxLines });
  res.json(await cartView(linesFrom(flat)));
}));

// ---- orders ----

const textOk = (s) => typeof s === 'string' && [...s].length >= 1 && !/[\x00-\x1f\x7f]/.test(s) && /[^ ]/.test(s);
function checkText(v, field, max, required, errors) {
  if (v === undefined || v === null) {
    if (required) errors.push({ field, message: 'is required' });
  } else if (typeof v !== 'string') errors.push({ field, message: 'must be a string' });
  else if (!textOk(v) || [...v].length > max)
    errors.push({ field, message: `must be 1 to ${max} characters of text without control characters` });
}

function validatePlace(body, errors) {
  unknownFields(body, ['address', 'note'], errors);
  const a = body.address;
  if (a === undefined) errors.push({ field: 'address', message: 'is required' });
  else if (!isObject(a)) errors.push({ field: 'address', message: 'must be an object' });
  else {
    for (const k of Object.keys(a))
      if (!['line1', 'city', 'pincode', 'lat', 'lng'].includes(k))
        errors.push({ field: `address.${k}`, message: 'is not a known field' });
    checkText(a.line1, 'address.line1', 200, true, errors);
    checkText(a.city, 'address.city', 100, true, errors);
    if (a.pincode === undefined) errors.push({ field: 'address.pincode', message: 'is required' });
    else if (typeof a.pincode !== 'string' || !/^[1-9][0-9]{5}$/.test(a.pincode))
      errors.push({ field: 'address.pincode', message: 'must be a string of 6 digits not starting with 0' });
    for (const [k, lim] of [['lat', 90], ['lng', 180]])
      if (a[k] !== undefined && (typeof a[k] !== 'number' || a[k] < -lim || a[k] > lim))
        errors.push({ field: `address.${k}`, message: `must be between -${lim} and ${lim}` });
    if ((a.lat === undefined) !== (a.lng === undefined))
      errors.push({ field: a.lat === undefined ? 'address.lat' : 'address.lng', message: 'lat and lng go together' });
  }
  checkText(body.note, 'note', 500, false, errors);
  if (errors.length) return null;
  const address = { line1: a.line1, city: a.city, pincode: a.pincode };
  if (a.lat !== undefined) Object.assign(address, { lat: a.lat, lng: a.lng });
  return { address, note: body.note ?? null };
}

// JSON with sorted keys: two bodies are the same request when these match.
function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isObject(v)) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

// Idempotency-Key records live in PostgreSQL beside the orders (a unique
// index on (user_id, key)), for the reason kirana's README gives.
async function claimKey(userId, key, request) {
  for (let i = 0; i < 5; i++) {
    const now = Date.now();
    const rec = {
      user_id: userId, key, request, state: 'running', owner: randomBytes(16).toString('hex'),
      order_id: store.newOrderId(), started_ms: now, expires_ms: now + cfg.idemTtlMs,
    };
    rec._id = randomBytes(12).toString('hex');
    const ins = await pg.query(
      'INSERT INTO order_idempotency (id, doc) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING id', [rec._id, rec]);
    if (ins.rowCount === 1) return { verdict: 'owned', rec };
    const { rows } = await pg.query(
      `SELECT doc FROM order_idempotency WHERE doc->>'user_id' = $1 AND doc->>'key' = $2`, [userId, key]);
    if (rows.length === 0) continue;
    const old = rows[0].doc;
    if (old.expires_ms < now) {
      await pg.query(`DELETE FROM order_idempotency WHERE id = $1 AND (doc->>'expires_ms')::bigint = $2`,
        [old._id, old.expires_ms]);
      continue;
    }
    if (old.state === 'running' && old.started_ms > now - cfg.pendingTimeoutMs / 2) return { verdict: 'in_use' };
    if (old.request !== request) return { verdict: 'mismatch' };
    if (old.state === 'done') return { verdict: 'replay', answer: old.answer };
    // the first attempt died or failed: take the record over, same order id
    const owner = randomBytes(16).toString('hex');
    const up = await pg.query(
      `UPDATE order_idempotency SET doc = doc || jsonb_build_object('owner', $3::text, 'state', 'running',
         'started_ms', $4::bigint) WHERE id = $1 AND doc->>'owner' = $2`, [old._id, old.owner, owner, now]);
    if (up.rowCount === 1) return { verdict: 'owned', rec: { ...old, owner }, resumed: true };
  }
  return { verdict: 'in_use' };
}

async function finishKey(rec, answer) {
  const state = answer.status >= 500 ? 'failed' : 'done';
  await pg.query(
    `UPDATE order_idempotency SET doc = doc || jsonb_build_object('state', $3::text, 'answer', $4::jsonb)
     WHERE id = $1 AND doc->>'owner' = $2`, [rec._id, rec.owner, state, answer]);
}

const created = (doc) => ({ status: 201, body: store.orderView(doc), location: `/orders/${doc._id}` });
const outOfStock = (lines, orderId) => ({
  status: 409, code: 'out_of_stock', detail: 'some items are not available in the quantity ordered',
  extra: orderId ? { lines, order_id: orderId } : { lines },
});

async function enqueueFinalize(orderId) {
  await orderQueue.add('finalize', { order_id: orderId }, { jobId: orderId, ...store.ORDER_JOB, ...store.KEEP });
}

// The answer an order that is no longer pending stands for.
async function settled(doc) {
  if (doc.status === 'cancelled') {
    if (doc.cancel_reason === 'out_of_stock') return outOfStock(doc.shortfall ?? [], doc._id);
    return { status: 409, code: 'order_cancelled', detail: 'the order was cancelled before it was placed',
      extra: { order_id: doc._id } };
  }
  if (doc.status === 'placed') await enqueueFinalize(doc._id).catch(() => {});
  return created(doc);
}

async function shortLines(order, first) {
  const ids = order.items.slice(first).map((l) => l.product_id);
  const { rows } = await pg.query(
    `SELECT id, doc->'stock' AS stock, doc->'active' AS active, doc->'holds' AS holds FROM products WHERE id = ANY($1)`,
    [ids]);
  const byId = new Map(rows.map((r) => [r.id, r]));
  const out = [];
  for (let i = first; i < order.items.length; i++) {
    const l = order.items[i];
    const p = byId.get(l.product_id);
    if (p && (p.holds || []).some((h) => h.order === order._id)) {
      if (i === first) return null; // reserved by an earlier attempt
      continue;
    }
    const avail = p && p.active === true ? Math.max(0, p.stock) : 0;
    if (i === first || avail < l.qty) out.push({ product_id: l.product_id, requested: l.qty, available: avail });
  }
  return out.length ? out : null;
}

async function placePending(userId, order) {
  for (let i = 0; i < order.items.length; i++) {
    const l = order.items[i];
    if (await store.effect(ctx, 'reserve', l.product_id, l.qty, order._id)) continue;
    const lines = await shortLines(order, i);
    if (!lines) continue;
    const after = (await store.transition(ctx, order._id, 'pending', 'cancelled',
      { cancel_reason: 'out_of_stock', shortfall: lines })) ?? (await store.loadOrder(ctx, order._id));
    if (after.status === 'cancelled') await store.eachLine(ctx, 'release', after);
    return settled(after);
  }
  const placed = await store.transition(ctx, order._id, 'pending', 'placed');
  if (placed) {
    // the order stands from here on: these failures are only logged
    await redis.del(cartKey(userId)).catch((e) => console.error(`order ${order._id}: clearing the cart: ${e.message}`));
    await enqueueFinalize(order._id).catch((e) => console.error(`order ${order._id}: enqueue: ${e.message}`));
    return created(placed);
  }
  const after = await store.loadOrder(ctx, order._id);
  if (after.status === 'cancelled') await store.eachLine(ctx, 'release', after);
  return settled(after);
}

async function place(userId, orderId, resumed, clean) {
  if (resumed) {
    const doc = await store.loadOrder(ctx, orderId);
    if (doc) return doc.status === 'pending' ? placePending(userId, doc) : settled(doc);
  }
  const lines = linesFrom(await redis.hgetall(cartKey(userId)).then((o) => Object.entries(o).flat()));
  if (lines.length === 0) return { status: 422, code: 'cart_empty', detail: 'the cart is empty' };
  const { rows } = await pg.query(
    `SELECT id, doc->'name' AS name, doc->'price' AS price FROM products WHERE id = ANY($1)`,
    [lines.map((l) => l.productId)]);
  const byId = new Map(rows.map((r) => [r.id, r]));
  const missing = lines.filter((l) => !byId.has(l.productId))
    .map((l) => ({ product_id: l.productId, requested: l.qty, available: 0 }));
  if (missing.length) return outOfStock(missing);
  const now = store.iso();
  let total = 0;
  const items = lines.map((l) => {
    const p = byId.get(l.productId);
    total += p.price * l.qty;
    return { product_id: l.productId, name: p.name, price: p.price, qty: l.qty, line_total: p.price * l.qty };
  });
  const order = {
    _id: orderId, user_id: userId, status: 'pending', version: 0, history: [{ status: 'pending', at: now }],
    items, total, currency: 'INR', address: clean.address, note: clean.note, cancel_reason: null,
    created_at: now, updated_at: now,
  };
  const ins = await pg.query('INSERT INTO orders (id, doc) VALUES ($1, $2) ON CONFLICT DO NOTHING', [orderId, order]);
  const doc = ins.rowCount === 1 ? order : await store.loadOrder(ctx, orderId);
  return doc.status === 'pending' ? placePending(userId, doc) : settled(doc);
}

function send(res, a, replayed) {
  if (replayed) res.set('idempotent-replayed', 'true');
  if (a.location) res.set('location', a.location);
  if (a.code) return problem(res, a.status, a.code, a.detail, a.extra);
  res.status(a.status).json(a.body);
}

app.post('/orders', requireUser, wrap(async (req, res) => {
  const key = req.get('idempotency-key');
  if (key === undefined) return problem(res, 400, 'idempotency_key_required', 'the Idempotency-Key header is required');
  if (!/^[\x21-\x7e]{1,255}$/.test(key))
    return problem(res, 400, 'idempotency_key_invalid', 'Idempotency-Key is 1 to 255 printable characters');
  const body = req.body;
  if (!isObject(body)) return problem(res, 400, 'invalid_request', 'the body must be a JSON object');
  const userId = req.user.userId;
  const claim = await claimKey(userId, key, canonical(body));
  if (claim.verdict === 'in_use') {
    res.set('retry-after', '1');
    return problem(res, 409, 'idempotency_key_in_use', 'a request with this Idempotency-Key is still running');
  }
  if (claim.verdict === 'mismatch')
    return problem(res, 422, 'idempotency_key_reused', 'this Idempotency-Key was used with another body');
  if (claim.verdict === 'replay') return send(res, claim.answer, true);
  let answer;
  const errors = [];
  const clean = validatePlace(body, errors);
  try {
    answer = clean
      ? await place(userId, claim.rec.order_id, claim.resumed, clean)
      : { status: 400, code: 'validation_failed', detail: 'the request is not valid', extra: { errors } };
  } catch (e) {
    await finishKey(claim.rec, { status: 500 }).catch(() => {});
    throw e;
  }
  await finishKey(claim.rec, answer);
  send(res, answer, false);
}));

app.get('/orders/:id', requireUser, wrap(async (req, res) => {
  const doc = await store.loadOrder(ctx, req.params.id);
  if (!doc || (doc.user_id !== req.user.userId && req.user.role !== 'admin'))
    return problem(res, 404, 'not_found', 'no such order');
  res.json(store.orderView(doc));
}));

app.get('/healthz', (req, res) => res.json({ status: 'ok' }));

app.use((req, res) => problem(res, 404, 'not_found', 'no such route'));

// eslint-disable-next-line no-unused-vars
app.use((err, req, res, next) => {
  if (err.type === 'entity.too.large') return problem(res, 413, 'too_big', 'the body is too large');
  if (err.type === 'entity.parse.failed') return problem(res, 400, 'invalid_request', 'the body is not JSON');
  if (err.code === 'ECONNREFUSED' || err.code === '57P01' || /Connection is closed/.test(err.message)) {
    res.set('retry-after', '1');
    return problem(res, 503, 'unavailable', 'a dependency is unavailable');
  }
  console.error(`${req.method} ${req.path}: ${err.stack || err}`);
  problem(res, 500, 'internal', 'internal error');
});

const server = app.listen(cfg.port, cfg.host);
// longer than any load balancer's idle timeout, so the client closes first
server.keepAliveTimeout = 65000;
server.headersTimeout = 66000;
process.on('SIGTERM', () => {
  server.close(async () => {
    await Promise.allSettled([orderQueue.close(), pg.end(), redis.quit(), queueConn.quit()]);
    process.exit(0);
  });
});
