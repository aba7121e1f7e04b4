// The soak's client (tests/bench/soak/run.sh starts the servers and the two
// kirana processes, then runs this): creates the catalogue as an admin, then
// for SECONDS sends mixed traffic at about RPS requests per second, CONC in
// flight over 4 HTTP/2 sessions. Each in-flight slot acts for its own buyers
// (no two slots share a buyer, so a buyer's cart is never raced):
//
//   30%  GET /products?limit=20 (every fourth with a category)
//   25%  GET /products/{id}
//   15%  POST /cart/items {product_id, qty 1..3}
//   10%  GET /cart
//   10%  POST /orders (Idempotency-Key; the cart is filled first if empty)
//    7%  GET /orders
//    3%  GET /orders/{id} of one of the buyer's orders
//
// and a restocker tops every product back up to 10 000 every 5 s
// (POST /products/{id}/stock as an admin), and an admin takes every
// confirmed order to delivered (PATCH /orders/{id}/status three times), so
// the products' stock bookkeeping (`commits`) does not grow without end.
// `confirmed` events on the order plugin's channel count the orders the
// worker confirmed. Prints the requests and failures per kind (a failure:
// a network error or a status other than the expected 200/201) and exits 1
// on any failure or an order left unconfirmed 60 s after the end.
//
//   node soak.mjs URL REDIS_PORT CHANNEL SECONDS RPS CONC USERS PRODUCTS
import http2 from 'node:http2';
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const Redis = createRequire(join(root, 'package.json'))('ioredis');
const [url, redisPort, channel, ...nums] = process.argv.slice(2);
const [SECONDS, RPS, CONC, USERS, PRODUCTS] = nums.map(Number);
if (!url || [SECONDS, RPS, CONC, USERS, PRODUCTS].some((n) => !(n > 0)))
  throw new Error('usage: node soak.mjs URL REDIS_PORT CHANNEL SECONDS RPS CONC USERS PRODUCTS');
const run = Date.now().toString(36);
const FULL = 10000;
const sessions = Array.from({ length: 4 }, () => http2.connect(url));
sessions.forEach((s) => s.on('error', (e) => console.error('session error:', e.message)));
let nextSession = 0;

const stats = new Map(); // kind -> {n, fail, statuses}
function count(kind, ok, status) {
  const s = stats.get(kind) ?? { n: 0, fail: 0, statuses: {} };
  s.n++;
  if (!ok) {
    s.fail++;
    s.statuses[status] = (s.statuses[status] ?? 0) + 1;
  }
  stats.set(kind, s);
}

function request(kind, method, path, { token, body, headers = {}, expect = [200] } = {}) {
  return new Promise((resolve) => {
    const h = { ':method': method, ':path': path, ...headers };
    if (token) h.authorization = `Bearer ${token}`;
    if (body !== undefined) h['content-type'] = 'application/json';
    const req = sessions[nextSession++ % sessions.length].request(h);
    let status, data = '';
    req.setEncoding('utf8');
    req.on('response', (r) => (status = r[':status']));
    req.on('data', (d) => (data += d));
    req.on('end', () => {
      const ok = expect.includes(status);
      count(kind, ok, status);
      let json = null;
      try { json = data ? JSON.parse(data) : null; } catch { /* counted by status */ }
      resolve({ ok, status, json });
    });
    req.on('error', (e) => {
      count(kind, false, `error ${e.code ?? e.message}`);
      resolve({ ok: false, status: 0, json: null });
    });
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const admin = `test-admin-soak${run}`;
const categories = ['fruit', 'dairy', 'bakery', 'snacks'];
const products = [];
for (let i = 0; i < PRODUCTS; i++) {
  const r = await request('setup', 'POST', '/products', {
    token: admin, expect: [201],
    body: { name: `Soak item ${i}`, price: 1000 + i, stock: FULL, category: categories[i % categories.length] },
  });
  if (!r.ok) throw new Error(`creating a product failed: ${r.status}`);
  products.push(r.json.id);
}

const sub = new Redis({ port: Number(redisPort) });
const confirmed = new Set();
const toFulfil = []; // confirmed orders the admin is to take to delivered
let delivered = 0;
await sub.subscribe(channel);
sub.on('message', (_, msg) => {
  const m = JSON.parse(msg);
  if (m.history?.some((h) => h.status === 'confirmed') && !confirmed.has(m.order)) {
    confirmed.add(m.order);
    toFulfil.push(m.order);
  }
});

const placed = new Set();
const pick = (xs) => xs[Math.floor(Math.random() * xs.length)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const address = { line1: '1 Soak Street', city: 'Bengaluru', pincode: '560001' };
let orderSeq = 0;

async function addToCart(user, buyer) {
  const r = await request('cart add', 'POST', '/cart/items',
    { token: user, body: { product_id: pick(products), qty: 1 + Math.floor(Math.random() * 3) } });
  if (r.ok) buyer.lines++;
}

async function act(buyer) {
  const user = `test-user-${buyer.id}`;
  let x = Math.random() * 100;
  if (x >= 55 && x < 70 && buyer.lines >= 8) x = 85; // keep carts small: order instead
  if (x < 30) {
    const q = Math.random() < 0.25 ? `&category=${pick(categories)}` : '';
    await request('list products', 'GET', `/products?limit=20${q}`);
  } else if (x < 55) {
    await request('product', 'GET', `/products/${pick(products)}`);
  } else if (x < 70) {
    await addToCart(user, buyer);
  } else if (x < 80) {
    await request('cart get', 'GET', '/cart', { token: user });
  } else if (x < 90) {
    if (buyer.lines === 0) await addToCart(user, buyer);
    const r = await request('place order', 'POST', '/orders',
      { token: user, body: { address }, headers: { 'idempotency-key': `soak-${run}-${orderSeq++}` }, expect: [201] });
    if (r.ok) {
      placed.add(r.json.id);
      buyer.orders.push(r.json.id);
      if (buyer.orders.length > 20) buyer.orders.shift();
    }
    buyer.lines = 0;
  } else if (x < 97) {
    await request('list orders', 'GET', '/orders', { token: user });
  } else if (buyer.orders.length > 0) {
    await request('order', 'GET', `/orders/${pick(buyer.orders)}`, { token: user });
  } else {
    await request('list orders', 'GET', '/orders', { token: user });
  }
}

const start = Date.now();
const end = start + SECONDS * 1000;
const perSlotGap = (1000 * CONC) / RPS; // ms between one slot's requests
async function slot(k) {
  const buyers = [];
  for (let u = k; u < USERS; u += CONC) buyers.push({ id: `s${run}-${u}`, lines: 0, orders: [] });
  if (buyers.length === 0) buyers.push({ id: `s${run}-x${k}`, lines: 0, orders: [] });
  let t = Date.now() + Math.random() * perSlotGap;
  while (Date.now() < end) {
    const wait = t - Date.now();
    if (wait > 0) await sleep(wait);
    t += perSlotGap;
    await act(pick(buyers));
  }
}

// An admin takes confirmed orders along packed → out_for_delivery →
// delivered (the product's committed stock becomes shipped), 4 at a time.
async function fulfiller() {
  const one = async () => {
    while (restocking || toFulfil.length > 0) {
      const id = toFulfil.shift();
      if (id === undefined) {
        await sleep(200);
        continue;
      }
      let ok = true;
      for (const status of ['packed', 'out_for_delivery', 'delivered'])
        if (ok) ok = (await request('fulfil', 'PATCH', `/orders/${id}/status`, { token: admin, body: { status } })).ok;
      delivered += ok;
    }
  };
  await Promise.all([one(), one(), one(), one()]);
}

let restocking = true;
async function restocker() {
  while (restocking) {
    for (const id of products) {
      const r = await request('stock read', 'GET', `/products/${id}`, { token: admin });
      const delta = r.ok ? FULL - r.json.stock : 0;
      if (delta > 0)
        await request('restock', 'POST', `/products/${id}/stock`, { token: admin, body: { delta } });
    }
    await sleep(5000);
  }
}

const progress = setInterval(() => {
  const n = [...stats.values()].reduce((a, s) => a + s.n, 0);
  const f = [...stats.values()].reduce((a, s) => a + s.fail, 0);
  console.log(`  t=${Math.round((Date.now() - start) / 1000)}s requests ${n} failures ${f} ` +
    `orders placed ${placed.size} confirmed ${[...placed].filter((id) => confirmed.has(id)).length} delivered ${delivered}`);
}, 60000);
const r = restocker();
const f = fulfiller();
await Promise.all(Array.from({ length: CONC }, (_, k) => slot(k)));
const elapsed = (Date.now() - start) / 1000;
const waitUntil = Date.now() + 60000;
while ([...placed].some((id) => !confirmed.has(id)) && Date.now() < waitUntil) await sleep(100);
restocking = false;
await r;
await f;
clearInterval(progress);
const unconfirmed = [...placed].filter((id) => !confirmed.has(id)).length;

let total = 0, failed = 0;
console.log(`${'kind'.padEnd(16)} ${'requests'.padStart(9)} ${'failed'.padStart(7)}  failures by status`);
for (const [kind, s] of [...stats.entries()].sort()) {
  total += s.n;
  failed += s.fail;
  console.log(`${kind.padEnd(16)} ${String(s.n).padStart(9)} ${String(s.fail).padStart(7)}  ${JSON.stringify(s.statuses)}`);
}
console.log(`total ${total} requests in ${elapsed.toFixed(0)} s (${(total / elapsed).toFixed(1)} req/s), ${failed} failed`);
console.log(`orders: ${placed.size} placed, ${placed.size - unconfirmed} confirmed by the worker, ${unconfirmed} not confirmed, ` +
  `${delivered} taken to delivered by the admin`);
sessions.forEach((s) => s.close());
sub.disconnect();
process.exit(failed > 0 || unconfirmed > 0 ? 1 : 0);
