// sdk/examples/wishlist (wishlist.so) over HTTP/2 against a real kirana and
// its database (PostgreSQL, or MongoDB under KIRANA_TEST_DB=mongo), beside product.so, which owns the `products` collection the
// wishlist reads: user-only routes, validation, unknown and deactivated
// products, per-user lists, the item limit and the unique index under
// concurrent requests, its metrics, and the popularity ranking through the
// real queue and Redis. testkit is the authenticator ("Bearer test-<role>-<id>").
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createConnection, createServer } from 'node:net';
import {
  startKirana, baseConfig, serversEnv, runKirana, tempDir, writeConfig, FIXTURES, h2req, h2connect, parseMetrics,
  waitFor, sleep,
} from '../lib/harness.mjs';
import { freshDatabase } from '../lib/db.mjs';

const ADMIN = { authorization: 'Bearer test-admin-boss' };
const RUN = randomBytes(4).toString('hex');
let env, db, k, s;
let users = 0;
let limitCreated = null; // 201s of the concurrent-limit test's concurrent adds, for the metrics test
let limitExtra = 0; // and its one add after them (when they left room)

function newUser() {
  const id = `w${RUN}-${++users}`;
  return { id, h: { authorization: `Bearer test-user-${id}` } };
}

const plugins = (wishlistConfig) => [
  { name: 'testkit', path: `${FIXTURES}/testkit.so`, mount: '/t', config: { authenticator: true } },
  { name: 'product', path: 'product.so', mount: '/products' },
  { name: 'wishlist', path: 'wishlist.so', mount: '/wishlist', config: wishlistConfig },
];

before(async () => {
  env = serversEnv();
  db = await freshDatabase('wishlist');
  k = await startKirana(baseConfig({ server: { workers: 8 }, db: { uri: db.uri }, plugins: plugins({ max_items: 5 }) }));
  s = h2connect(k.url);
  s.setMaxListeners(0);
});

after(async () => {
  s?.close();
  if (k) {
    const e = await k.stop();
    k.cleanup();
    assert.equal(e.code, 0, 'clean exit (no sanitizer report)');
  }
  await db?.drop();
});

const get = (path, headers) => h2req(s, { path, headers });
const send = (method, path, body, headers) =>
  h2req(s, { method, path, headers: { 'content-type': 'application/json', ...headers }, body });

async function newProduct(fields = {}) {
  const r = await send('POST', '/products', { name: `P ${++users}`, price: 1000 + users, stock: 5, ...fields }, ADMIN);
  assert.equal(r.status, 201, r.body);
  return r.json;
}

const add = (u, product_id, extra = {}) => send('POST', '/wishlist/items', { product_id, ...extra }, u.h);

test('every route needs a user; an empty list shows the configured limit', async () => {
  for (const [method, path] of [['GET', '/wishlist'], ['POST', '/wishlist/items'], ['DELETE', '/wishlist/items/x']]) {
    const r = await h2req(s, { method, path });
    assert.equal(r.status, 401, `${method} ${path}`);
    assert.equal(r.headers['content-type'], 'application/problem+json');
  }
  const u = newUser();
  const r = await get('/wishlist', u.h);
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(r.json, { items: [], count: 0, max_items: 5 });
});

test('add, re-add, list, remove', async () => {
  const u = newUser();
  const p = await newProduct({ name: 'Basmati rice', price: 18900 });
  let r = await add(u, p.id, { note: 'for biryani' });
  assert.equal(r.status, 201, r.body);
  assert.equal(r.headers.location, `/wishlist/items/${p.id}`);
  assert.deepEqual(Object.keys(r.json).sort(), ['added_at', 'available', 'name', 'note', 'price', 'product_id']);
  assert.equal(r.json.name, 'Basmati rice');
  assert.equal(r.json.price, 18900);
  assert.equal(r.json.available, true);
  assert.equal(r.json.note, 'for biryani');
  assert.match(r.json.added_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

  r = await add(u, p.id, { note: 'changed my mind' });
  assert.equal(r.status, 200, 'adding twice answers the existing entry');
  assert.equal(r.json.note, 'for biryani');

  await sleep(5); // added_at has millisecond resolution: keep the order certain
  const q = await newProduct({ name: 'Saffron', stock: 0 });
  assert.equal((await add(u, q.id)).status, 201);
  r = await get('/wishlist', u.h);
  assert.equal(r.status, 200);
  assert.equal(r.json.count, 2);
  assert.deepEqual(r.json.items.map((i) => [i.product_id, i.available]), [[q.id, false], [p.id, true]]);

  r = await h2req(s, { method: 'DELETE', path: `/wishlist/items/${p.id}`, headers: u.h });
  assert.equal(r.status, 204);
  assert.equal(r.body, '');
  r = await h2req(s, { method: 'DELETE', path: `/wishlist/items/${p.id}`, headers: u.h });
  assert.equal(r.status, 404);
  assert.equal(r.json.code, 'not_found');
  assert.equal((await get('/wishlist', u.h)).json.count, 1);
});

test('unknown and deactivated products are 404; a deactivated wish shows unavailable', async () => {
  const u = newUser();
  let r = await add(u, 'ffffffffffffffffffffffff');
  assert.equal(r.status, 404);
  assert.equal(r.json.detail, 'no such product');
  const p = await newProduct();
  assert.equal((await add(u, p.id)).status, 201);
  assert.equal((await h2req(s, { method: 'DELETE', path: `/products/${p.id}`, headers: ADMIN })).status, 204);
  r = await get('/wishlist', u.h);
  assert.equal(r.json.items[0].product_id, p.id);
  assert.equal(r.json.items[0].available, false);
  assert.equal(r.json.items[0].name, p.name, 'the product is kept, inactive');
  const v = newUser();
  assert.equal((await add(v, p.id)).status, 404, 'an inactive product cannot be added');
  // it can still be taken out
  assert.equal((await h2req(s, { method: 'DELETE', path: `/wishlist/items/${p.id}`, headers: u.h })).status, 204);
});

test('validation: 400 problem naming every bad field', async () => {
  const u = newUser();
  let r = await send('POST', '/wishlist/items', { product_id: 7, note: 'x'.repeat(141), extra: true }, u.h);
  assert.equal(r.status, 400);
  assert.equal(r.headers['content-type'], 'application/problem+json');
  assert.equal(r.json.code, 'validation_failed');
  assert.deepEqual(r.json.errors.map((e) => `${e.field}: ${e.message}`).sort(),
    ['extra: not a known field', 'note: too long', 'product_id: must be a string']);
  r = await send('POST', '/wishlist/items', { product_id: '../etc' }, u.h);
  assert.deepEqual(r.json.errors, [{ field: 'product_id', message: 'not a product id' }]);
  r = await send('POST', '/wishlist/items', '["not an object"]', u.h);
  assert.equal(r.status, 400);
  assert.equal((await get('/wishlist', u.h)).json.count, 0);
});

test('lists are per user', async () => {
  const a = newUser(), b = newUser();
  const p = await newProduct(), q = await newProduct();
  assert.equal((await add(a, p.id)).status, 201);
  assert.equal((await add(b, q.id)).status, 201);
  assert.deepEqual((await get('/wishlist', a.h)).json.items.map((i) => i.product_id), [p.id]);
  assert.deepEqual((await get('/wishlist', b.h)).json.items.map((i) => i.product_id), [q.id]);
  // b cannot take a's entry out: it is not in b's list
  assert.equal((await h2req(s, { method: 'DELETE', path: `/wishlist/items/${p.id}`, headers: b.h })).status, 404);
  assert.equal((await get('/wishlist', a.h)).json.count, 1);
});

test('the limit holds under concurrent adds, and refusals are 409 wishlist_full', async () => {
  const u = newUser();
  const ps = [];
  for (let i = 0; i < 12; i++) ps.push(await newProduct());
  const rs = await Promise.all(ps.map((p) => add(u, p.id)));
  const created = rs.filter((r) => r.status === 201).length;
  limitCreated = created;
  for (const r of rs.filter((x) => x.status !== 201)) {
    assert.equal(r.status, 409, r.body);
    assert.equal(r.json.code, 'wishlist_full');
    assert.equal(r.json.max_items, 5);
  }
  const list = (await get('/wishlist', u.h)).json;
  assert.ok(list.count <= 5, `at most 5 entries, got ${list.count}`);
  assert.equal(list.count, created, 'every 201 is an entry, every refusal left none');
  // with room, one more add goes in
  const refusedIds = ps.map((p) => p.id).filter((id) => !list.items.some((i) => i.product_id === id));
  if (list.count < 5) {
    assert.equal((await add(u, refusedIds[0])).status, 201);
    limitExtra = 1;
  }
});

test('one entry per product under concurrent adds of the same product (unique index)', async () => {
  const u = newUser();
  const p = await newProduct();
  const rs = await Promise.all(Array.from({ length: 10 }, () => add(u, p.id)));
  assert.deepEqual(rs.map((r) => r.status).sort(), [200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
  assert.ok(rs.every((r) => r.json.product_id === p.id));
  assert.equal((await get('/wishlist', u.h)).json.count, 1);
});

test('metrics count adds, removals and refusals', async () => {
  // The tests above ran in order on this server: 6 adds besides the
  // concurrent-limit test's, 2 removals, and that test's refusals.
  assert.notEqual(limitCreated, null, 'runs after the limit test');
  const m = parseMetrics((await get('/metrics')).body);
  assert.equal(m.kirana_wishlist_items_added_total, 6 + limitCreated + limitExtra);
  assert.equal(m.kirana_wishlist_items_removed_total, 2);
  assert.equal(m.kirana_wishlist_full_total, 12 - limitCreated);
});

test('a config out of range is refused with its file position', async () => {
  const dir = tempDir();
  const cfg = writeConfig(dir, baseConfig({ db: { uri: db.uri }, plugins: plugins({ max_items: 0 }) }));
  const r = await runKirana(['--check-config', cfg]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /kirana\.yaml:\d+:\d+: plugins\[2\]\.config\.max_items: .*1/);
});

test('popular: true needs Redis and the queue, and says so', async () => {
  const dir = tempDir();
  const cfg = writeConfig(dir, baseConfig({ db: { uri: db.uri }, plugins: plugins({ popular: true }) }));
  const r = await runKirana(['--check-config', cfg]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /wishlist with popular: true needs redis\.url and queue\.redis/);
  assert.match(r.stderr, /plugin "wishlist" .*init failed/);
});

/** A private Redis on a free port (the ranking's key, wishlist:popular, is
 * one per Redis: on the shared server another run of this file, such as the
 * MongoDB one, would rank its own products beside these). {url, stop()}. */
async function privateRedis() {
  const port = await new Promise((resolve, reject) => {
    const srv = createServer().once('error', reject);
    srv.listen(0, '127.0.0.1', () => { const p = srv.address().port; srv.close(() => resolve(p)); });
  });
  const child = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '',
    '--appendonly', 'no', '--dir', tempDir('kirana-wl-redis-')], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async () => { child.kill('SIGTERM'); await exited; };
  try {
    await waitFor(() => new Promise((resolve) => {
      const c = createConnection({ host: '127.0.0.1', port }, () => { c.destroy(); resolve(true); });
      c.once('error', () => resolve(false));
    }), 10000, 'the private redis-server');
  } catch (e) { await stop(); throw e; }
  return { url: `redis://127.0.0.1:${port}/0`, stop };
}

test('popular: recounts run by the worker role rank products in Redis', async () => {
  const prefix = `kt-wl-${RUN}`;
  const redis = await privateRedis();
  const k2 = await startKirana(baseConfig({
    roles: ['http', 'worker'],
    db: { uri: db.uri },
    redis: { url: redis.url },
    queue: { redis: redis.url, prefix },
    plugins: plugins({ popular: true, popular_top: 2 }),
  })).catch(async (e) => { await redis.stop(); throw e; });
  const s2 = h2connect(k2.url);
  s2.setMaxListeners(0);
  try {
    const req = (method, path, headers, body) =>
      h2req(s2, { method, path, headers: { 'content-type': 'application/json', ...headers }, body });
    const p = await newProduct(), q = await newProduct(), r3 = await newProduct();
    const [a, b, c] = [newUser(), newUser(), newUser()];
    for (const [u, prod] of [[a, p], [b, p], [c, p], [a, q], [b, q], [a, r3]])
      assert.equal((await req('POST', '/wishlist/items', u.h, { product_id: prod.id })).status, 201);
    // The ranking is shared by every process (one Redis key), so look for
    // these products' counts rather than the whole top.
    const ranked = async () => (await req('GET', '/wishlist/popular', a.h)).json.items;
    const want = [{ product_id: p.id, wishes: 3 }, { product_id: q.id, wishes: 2 }];
    await waitFor(async () => JSON.stringify((await ranked()).filter((i) => [p.id, q.id].includes(i.product_id))) === JSON.stringify(want),
      15000, 'the worker to recount');
    assert.equal((await ranked()).length, 2, 'popular_top');
    // two of p's three wishes go, and r3's only one: r3 leaves the ranking
    assert.equal((await req('DELETE', `/wishlist/items/${p.id}`, a.h)).status, 204);
    assert.equal((await req('DELETE', `/wishlist/items/${p.id}`, b.h)).status, 204);
    assert.equal((await req('DELETE', `/wishlist/items/${r3.id}`, a.h)).status, 204);
    const after = [{ product_id: q.id, wishes: 2 }, { product_id: p.id, wishes: 1 }];
    await waitFor(async () => JSON.stringify(await ranked()) === JSON.stringify(after), 15000, 'the recounts after removals');
    // one recount per change: 6 adds and 3 removals
    const completed = async () =>
      parseMetrics((await h2req(s2, { path: '/metrics' })).body)['kirana_queue_jobs_total{queue="wishlist",state="completed"}'];
    await waitFor(async () => (await completed()) === 9, 15000, '9 completed recounts');
  } finally {
    s2.close();
    const e = await k2.stop();
    k2.cleanup();
    await redis.stop();
    assert.equal(e.code, 0);
  }
});
