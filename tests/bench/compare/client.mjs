// The HTTP/1.1 client of tests/bench/compare/run.sh (keep-alive
// connections, the same for both servers):
//
//   client.mjs tokens SECRET PREFIX N            N access tokens (HS256, auth.so's claims and id
//                                                sizes: 22-character jti and sid), one a line
//   client.mjs seed BASE TOKEN N                 N products through POST /products; prints their ids
//   client.mjs check BASE TOKEN IDS_FILE         one pass over every benchmarked route with checks;
//                                                prints the shape of each answer (keys and types)
//   client.mjs fill BASE TOKENS_FILE IDS_FILE LINES CONC
//                                                each user's cart gets LINES lines (qty 1)
//   client.mjs orders BASE TOKENS_FILE CONC      POST /orders once per user, CONC at a time;
//                                                prints "req/s p50_us p99_us succeeded"
//
// Exits non-zero when an answer is not what the API promises.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';

const require = createRequire(new URL('../node-reference/package.json', import.meta.url));
const [cmd, ...args] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const ADDRESS = { line1: '12 MG Road', city: 'Bengaluru', pincode: '560001' };

function request(base, method, path, { token, body, headers = {} } = {}) {
  const url = new URL(path, base);
  const data = body !== undefined ? JSON.stringify(body) : undefined;
  const h = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  if (data !== undefined) {
    h['content-type'] = 'application/json';
    h['content-length'] = Buffer.byteLength(data);
  }
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: h, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json = null;
        try {
          json = text ? JSON.parse(text) : null;
        } catch {
          /* left null: the checks say so */
        }
        resolve({ status: res.statusCode, headers: res.headers, json, text });
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

function fail(msg) {
  console.error(`client.mjs: ${msg}`);
  process.exit(1);
}

function expect(cond, what, r) {
  if (!cond) fail(`${what}${r ? ` (got ${r.status} ${r.text.slice(0, 300)})` : ''}`);
}

// Keys and value types, recursively (arrays by their first element).
function shape(v) {
  if (Array.isArray(v)) return v.length ? [shape(v[0])] : [];
  if (v !== null && typeof v === 'object')
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, shape(v[k])]));
  return v === null ? 'null' : typeof v;
}

const lines = (file) => readFileSync(file, 'utf8').split('\n').filter(Boolean);

async function pool(items, conc, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(conc, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  }));
}

async function tokens(secret, prefix, n) {
  const jwt = require('jsonwebtoken');
  const now = Math.floor(Date.now() / 1000);
  const out = [];
  for (let i = 0; i < Number(n); i++) {
    out.push(jwt.sign({
      iss: 'kirana', aud: 'kirana-app', sub: `${prefix}${i}`, iat: now, nbf: now, exp: now + 6 * 3600,
      jti: randomBytes(16).toString('base64url'), sid: randomBytes(16).toString('base64url'), role: 'user', typ: 'access',
    }, secret, { algorithm: 'HS256' }));
  }
  console.log(out.join('\n'));
}

async function check(base, token, idsFile) {
  const ids = lines(idsFile);
  const shapes = {};
  let r = await request(base, 'GET', '/products');
  expect(r.status === 200 && r.json?.items?.length === 20 && typeof r.json.next_cursor === 'string',
    'GET /products: 200 with 20 items and a next_cursor', r);
  const names = r.json.items.map((p) => p.name);
  expect(names.every((n, i) => i === 0 || names[i - 1] < n), 'GET /products: ordered by name', r);
  shapes['GET /products'] = shape(r.json);
  const seen = new Set(r.json.items.map((p) => p.id));
  for (let cursor = r.json.next_cursor; cursor !== null;) {
    const page = await request(base, 'GET', `/products?cursor=${encodeURIComponent(cursor)}&limit=100`);
    expect(page.status === 200, 'GET /products?cursor: 200', page);
    for (const p of page.json.items) seen.add(p.id);
    cursor = page.json.next_cursor;
  }
  expect(seen.size === ids.length && ids.every((id) => seen.has(id)), 'the pages walk the whole catalogue once');
  expect((await request(base, 'GET', '/products?limit=0')).status === 400, 'GET /products?limit=0: 400');

  r = await request(base, 'GET', `/products/${ids[0]}`);
  expect(r.status === 200 && r.json.id === ids[0] && Number.isInteger(r.json.price) && !('holds' in r.json),
    'GET /products/{id}: the public view', r);
  shapes['GET /products/{id}'] = shape(r.json);
  expect((await request(base, 'GET', '/products/nope')).status === 404, 'GET /products/nope: 404');

  expect((await request(base, 'GET', '/cart')).status === 401, 'GET /cart without a token: 401');
  expect((await request(base, 'GET', '/cart', { token: `${token}x` })).status === 401, 'GET /cart, bad signature: 401');
  r = await request(base, 'POST', '/cart/items', { token, body: { product_id: ids[0], qty: 0 } });
  expect(r.status === 400 && r.json?.errors?.[0]?.field === 'qty', 'POST /cart/items qty 0: 400 naming qty', r);
  r = await request(base, 'POST', '/cart/items', { token, body: { product_id: 'nope', qty: 1 } });
  expect(r.status === 404, 'POST /cart/items unknown product: 404', r);
  for (const id of ids.slice(0, 3)) {
    r = await request(base, 'POST', '/cart/items', { token, body: { product_id: id, qty: 2 } });
    expect(r.status === 200, 'POST /cart/items: 200', r);
  }
  r = await request(base, 'POST', '/cart/items', { token, body: { product_id: ids[0], qty: 1 } });
  expect(r.status === 200 && r.json.items.length === 3 && r.json.items.find((l) => l.product_id === ids[0]).qty === 3,
    'POST /cart/items adds to the line', r);
  shapes['POST /cart/items'] = shape(r.json);
  r = await request(base, 'GET', '/cart', { token });
  const total = r.json.items.reduce((s, l) => s + l.price * l.qty, 0);
  expect(r.status === 200 && r.json.total === total && r.json.currency === 'INR' &&
    r.json.items.every((l, i, a) => l.available && (i === 0 || a[i - 1].product_id < l.product_id)),
  'GET /cart: priced lines in product-id order and their total', r);
  shapes['GET /cart'] = shape(r.json);

  expect((await request(base, 'POST', '/orders', { token, body: { address: ADDRESS } })).status === 400,
    'POST /orders without an Idempotency-Key: 400');
  r = await request(base, 'POST', '/orders', { token, body: { address: { ...ADDRESS, pincode: '012345' } },
    headers: { 'idempotency-key': randomBytes(8).toString('hex') } });
  expect(r.status === 400 && r.json.errors[0].field === 'address.pincode', 'POST /orders bad pincode: 400', r);
  const key = randomBytes(8).toString('hex');
  r = await request(base, 'POST', '/orders', { token, body: { address: ADDRESS }, headers: { 'idempotency-key': key } });
  expect(r.status === 201 && r.json.status === 'placed' && r.json.total === total && r.json.items.length === 3 &&
    r.headers.location === `/orders/${r.json.id}`, 'POST /orders: 201, placed, the cart total', r);
  shapes['POST /orders'] = shape(r.json);
  const order = r.json;
  r = await request(base, 'POST', '/orders', { token, body: { address: ADDRESS }, headers: { 'idempotency-key': key } });
  expect(r.status === 201 && r.json.id === order.id && r.headers['idempotent-replayed'] === 'true',
    'POST /orders again with the key: the same order replayed', r);
  r = await request(base, 'GET', '/cart', { token });
  expect(r.status === 200 && r.json.items.length === 0, 'the cart is empty after the order', r);
  r = await request(base, 'POST', '/orders', { token, body: { address: ADDRESS },
    headers: { 'idempotency-key': randomBytes(8).toString('hex') } });
  expect(r.status === 422 && r.json.code === 'cart_empty', 'POST /orders on an empty cart: 422 cart_empty', r);
  const end = Date.now() + 15000;
  for (;;) {
    r = await request(base, 'GET', `/orders/${order.id}`, { token });
    expect(r.status === 200, 'GET /orders/{id}: 200', r);
    if (r.json.status === 'confirmed') break;
    expect(Date.now() < end, `order ${order.id} confirmed by the worker within 15 s`, r);
    await new Promise((ok) => setTimeout(ok, 50));
  }
  const p = await request(base, 'GET', `/products/${ids[0]}`);
  expect(p.json.stock === 1000000000 - 3, 'the product\'s stock went down by the order\'s 3', p);
  console.log(JSON.stringify(shapes));
}

async function seed(base, token, n) {
  const ids = [];
  for (let i = 1; i <= Number(n); i++) {
    const k = String(i).padStart(3, '0');
    const r = await request(base, 'POST', '/products', { token, body: {
      name: `Product ${k}`, price: 1000 + i, stock: 1000000000, unit: '1 pc', category: `c${i % 10}`,
      description: `benchmark item ${k}` } });
    expect(r.status === 201 && typeof r.json.id === 'string', 'POST /products (admin): 201', r);
    ids.push(r.json.id);
  }
  console.log(ids.join('\n'));
}

async function fill(base, tokensFile, idsFile, n, conc) {
  const ids = lines(idsFile);
  const toks = lines(tokensFile);
  await pool(toks, Number(conc), async (token, u) => {
    for (let i = 0; i < Number(n); i++) {
      const r = await request(base, 'POST', '/cart/items', { token, body: { product_id: ids[(u * 7 + i * 13) % ids.length], qty: 1 } });
      expect(r.status === 200, 'POST /cart/items while filling carts: 200', r);
    }
  });
}

async function orders(base, tokensFile, conc) {
  const toks = lines(tokensFile);
  const lat = [];
  let ok = 0;
  const t0 = process.hrtime.bigint();
  await pool(toks, Number(conc), async (token) => {
    const s = process.hrtime.bigint();
    const r = await request(base, 'POST', '/orders', { token, body: { address: ADDRESS },
      headers: { 'idempotency-key': randomBytes(12).toString('hex') } });
    lat.push(Number(process.hrtime.bigint() - s) / 1000);
    if (r.status === 201 && r.json.status === 'placed') ok++;
    else if (ok + lat.length < 5) console.error(`client.mjs: POST /orders answered ${r.status} ${r.text.slice(0, 200)}`);
  });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  lat.sort((a, b) => a - b);
  const q = (f) => Math.round(lat[Math.min(lat.length - 1, Math.floor(lat.length * f))]);
  console.log(`${(toks.length / secs).toFixed(1)} ${q(0.5)} ${q(0.99)} ${ok}`);
}

const cmds = { tokens, seed, check, fill, orders };
if (!cmds[cmd]) fail(`unknown command ${cmd}`);
await cmds[cmd](...args);
agent.destroy();
