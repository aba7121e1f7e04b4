// The order benchmark's client (tests/bench/order/run.sh starts the servers
// and kirana, then runs this): N buyers with a 3-line cart each (three of
// the given products, spread evenly) place an order over HTTP/2 (S
// sessions, C requests in flight), and the worker role confirms and commits
// them. It prints
//
//   - POST /orders: requests/s and p50/p99 latency (201s only counted);
//   - end to end (POST sent → `confirmed` published by the worker): orders/s
//     over the whole run, and p50/p99 latency per order.
//
// `confirmed` is observed on the order plugin's pub/sub channel, the same
// message live tracking (SSE) uses, so nothing polls the database.
//
//   node bench.mjs URL REDIS_PORT CHANNEL PRODUCT_IDS(comma) [N] [C] [S]
import http2 from 'node:http2';
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const Redis = createRequire(join(root, 'package.json'))('ioredis');
const [url, redisPort, channel, productList, nArg, cArg, sArg] = process.argv.slice(2);
const N = Number(nArg || 2000), C = Number(cArg || 32), S = Number(sArg || 4);
const products = productList.split(',');
const run = Date.now().toString(36);

const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const ms = (x) => x.toFixed(1);

// carts straight into Redis (cart.so's layout: cart:<user> → product → qty)
const redis = new Redis({ port: Number(redisPort) });
const users = Array.from({ length: N }, (_, i) => `b${run}-${i}`);
for (let i = 0; i < N; i += 500) {
  const p = redis.pipeline();
  users.slice(i, i + 500).forEach((u, j) => {
    // three distinct products per cart, spread over the catalogue
    const k = (i + j) * 3;
    p.hset(`cart:${u}`, products[k % products.length], 1, products[(k + 1) % products.length], 2,
      products[(k + 2) % products.length], 1);
  });
  await p.exec();
}

// `confirmed` events, by order id
const sub = new Redis({ port: Number(redisPort) });
const confirmedAt = new Map();
await sub.subscribe(channel);
sub.on('message', (_, msg) => {
  const m = JSON.parse(msg);
  if (m.history.at(-1)?.status === 'confirmed' && !confirmedAt.has(m.order)) confirmedAt.set(m.order, performance.now());
});

const sessions = Array.from({ length: S }, () => http2.connect(url));
const body = JSON.stringify({ address: { line1: '1 Bench Street', city: 'Bengaluru', pincode: '560001' } });
function place(i) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = sessions[i % S].request({ ':method': 'POST', ':path': '/orders', 'content-type': 'application/json',
      authorization: `Bearer test-user-${users[i]}`, 'idempotency-key': `bench-${i}` });
    let status, data = '';
    req.on('response', (h) => (status = h[':status']));
    req.on('data', (d) => (data += d));
    req.on('end', () => resolve({ status, t0, t1: performance.now(), id: status === 201 ? JSON.parse(data).id : null }));
    req.on('error', reject);
    req.end(body);
  });
}

const results = [];
let next = 0;
const start = performance.now();
await Promise.all(Array.from({ length: C }, async () => {
  while (next < N) results.push(await place(next++));
}));
const postsDone = performance.now();
const ok = results.filter((r) => r.status === 201);
const deadline = Date.now() + 120000;
while (ok.some((r) => !confirmedAt.has(r.id)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
const end = Math.max(...ok.map((r) => confirmedAt.get(r.id) ?? NaN));

const lat = ok.map((r) => r.t1 - r.t0).sort((a, b) => a - b);
const e2e = ok.filter((r) => confirmedAt.has(r.id)).map((r) => confirmedAt.get(r.id) - r.t0).sort((a, b) => a - b);
const bad = results.length - ok.length;
console.log(`orders: ${N} (${C} in flight over ${S} HTTP/2 sessions), 201: ${ok.length}${bad ? `, other: ${bad}` : ''}`);
console.log(`POST /orders        ${(ok.length / ((postsDone - start) / 1000)).toFixed(0).padStart(7)} req/s    ` +
  `p50 ${ms(pct(lat, 0.5))} ms   p99 ${ms(pct(lat, 0.99))} ms`);
console.log(`place -> confirmed  ${(e2e.length / ((end - start) / 1000)).toFixed(0).padStart(7)} orders/s ` +
  `p50 ${ms(pct(e2e, 0.5))} ms   p99 ${ms(pct(e2e, 0.99))} ms   (${e2e.length} confirmed)`);
for (const s of sessions) s.close();
await sub.quit();
await redis.quit();
if (e2e.length !== ok.length || bad) process.exitCode = 1;
