// cart.so over HTTP/2 against a real kirana, its database (PostgreSQL, or
// MongoDB under KIRANA_TEST_DB=mongo) and Redis: every
// cart rule, ownership (BOLA attempts), bad quantities, limits, products
// that go away, sliding expiry and concurrent changes to one cart.
// testkit is the authenticator: "Bearer test-<role>-<id>".
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startKirana, baseConfig, serversEnv, FIXTURES, h2req, h2connect, execFileP } from '../lib/harness.mjs';
import { freshDatabase } from '../lib/db.mjs';

const RUN = randomBytes(4).toString('hex'); // the Redis server is shared: keep users apart
const ADMIN = { authorization: 'Bearer test-admin-boss' };
let env, db, k, k2, s, s2;
let users = 0;

// A fresh user: {id, auth headers}.
function newUser() {
  const id = `u${RUN}-${++users}`;
  return { id, h: { authorization: `Bearer test-user-${id}` } };
}

const plugins = (cartConfig) => [
  { name: 'testkit', path: `${FIXTURES}/testkit.so`, mount: '/t', config: { authenticator: true } },
  { name: 'product', path: 'product.so', mount: '/products' },
  { name: 'cart', path: 'cart.so', mount: '/cart', config: cartConfig },
];

before(async () => {
  env = serversEnv();
  db = await freshDatabase('cart');
  const common = { server: { workers: 8 }, db: { uri: db.uri }, redis: { url: env.KIRANA_TEST_REDIS_URL } };
  // defaults (20 per line, 50 lines, 30 days), and a second server on the
  // same data with other limits
  k = await startKirana(baseConfig({ ...common, plugins: plugins({}) }));
  k2 = await startKirana(baseConfig({ ...common, plugins: plugins({ max_qty_per_item: 100, max_lines: 5, ttl_seconds: 60 }) }));
  s = h2connect(k.url);
  s2 = h2connect(k2.url);
  s.setMaxListeners(0);
  s2.setMaxListeners(0);
});

after(async () => {
  s?.close();
  s2?.close();
  for (const x of [k, k2]) {
    if (!x) continue;
    const e = await x.stop();
    x.cleanup();
    assert.equal(e.code, 0, 'clean exit (no sanitizer report)');
  }
  await db?.drop();
});

const req = (sess, method, path, headers, body) =>
  h2req(sess, { method, path, headers: { 'content-type': 'application/json', ...headers }, body });
const getCart = (u, sess = s) => req(sess, 'GET', '/cart', u.h);
const add = (u, product_id, qty, sess = s) => req(sess, 'POST', '/cart/items', u.h, { product_id, qty });
const put = (u, id, qty, sess = s) => req(sess, 'PUT', `/cart/items/${id}`, u.h, { qty });
const remove = (u, id, sess = s) => req(sess, 'DELETE', `/cart/items/${id}`, u.h);
const qtyOf = (cart, id) => cart.items.find((i) => i.product_id === id)?.qty;
const redis = (...args) => execFileP('redis-cli', ['-p', env.KIRANA_TEST_REDIS_PORT, ...args]).then((r) => r.stdout.trim());

async function product(fields) {
  const r = await req(s, 'POST', '/products', ADMIN, { price: 1000, stock: 100, ...fields });
  assert.equal(r.status, 201, r.body);
  return r.json;
}

test('every cart route needs a logged-in user', async () => {
  const p = await product({ name: 'Anon test' });
  const routes = [['GET', '/cart'], ['DELETE', '/cart'], ['POST', '/cart/items', { product_id: p.id, qty: 1 }],
    ['PUT', `/cart/items/${p.id}`, { qty: 1 }], ['DELETE', `/cart/items/${p.id}`]];
  for (const [method, path, body] of routes) {
    for (const h of [{}, { authorization: 'Bearer nope' }, { authorization: 'Basic dTpw' }]) {
      const r = await req(s, method, path, h, body);
      assert.equal(r.status, 401, `${method} ${path} ${JSON.stringify(h)}`);
      assert.equal(r.headers['content-type'], 'application/problem+json');
    }
  }
});

test('add, increment, set, remove, clear: each change answers the whole cart', async () => {
  const u = newUser();
  const milk = await product({ name: 'Milk 1 L', price: 6400, stock: 50 });
  const eggs = await product({ name: 'Eggs x6', price: 4200, stock: 50 });
  let r = await getCart(u);
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { items: [], total: 0, currency: 'INR' });

  r = await add(u, milk.id, 2);
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(r.json, { items: [{ product_id: milk.id, name: 'Milk 1 L', price: 6400, qty: 2, line_total: 12800,
    available: true }], total: 12800, currency: 'INR' });
  r = await add(u, milk.id, 3);
  assert.equal(qtyOf(r.json, milk.id), 5, 'POST adds to the line');
  r = await add(u, eggs.id, 1);
  assert.equal(r.json.items.length, 2);
  assert.equal(r.json.total, 5 * 6400 + 4200);
  r = await put(u, milk.id, 1);
  assert.equal(r.status, 200);
  assert.equal(qtyOf(r.json, milk.id), 1, 'PUT sets the line');
  assert.equal(r.json.total, 6400 + 4200);
  r = await put(u, milk.id, 0);
  assert.equal(r.status, 200);
  assert.equal(qtyOf(r.json, milk.id), undefined, 'PUT 0 removes the line');
  r = await put(u, milk.id, 4);
  assert.equal(qtyOf(r.json, milk.id), 4, 'PUT on a product not in the cart adds it');
  r = await remove(u, eggs.id);
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.items.map((i) => i.product_id), [milk.id]);
  r = await remove(u, eggs.id);
  assert.equal(r.status, 200, 'removing a line that is not there is fine');
  assert.equal(await redis('HGET', `cart:${u.id}`, milk.id), '4', 'hash cart:<user> field product id → qty');

  r = await req(s, 'DELETE', '/cart', u.h);
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { items: [], total: 0, currency: 'INR' });
  assert.deepEqual((await getCart(u)).json.items, []);
  assert.equal(await redis('EXISTS', `cart:${u.id}`), '0');
});

test('quantities must be positive integers (floats, strings, negative, zero, huge are 400)', async () => {
  const u = newUser();
  const p = await product({ name: 'Bread' });
  assert.equal((await add(u, p.id, 1)).status, 200);
  const raw = (method, path, text) => req(s, method, path, u.h, text);
  const badQty = ['0', '-1', '-0.5', '1.5', '2.0', '1e2', '"2"', '"two"', 'null', 'true', '[]', '{}', '1000001',
    '9007199254740993', '99999999999999999999999'];
  for (const q of badQty) {
    const r = await raw('POST', '/cart/items', `{"product_id":"${p.id}","qty":${q}}`);
    assert.equal(r.status, 400, `POST qty ${q}`);
    if (r.json.code === 'validation_failed') assert.deepEqual(r.json.errors.map((e) => e.field), ['qty']);
    else assert.equal(r.json.code, 'invalid_request', 'unparseable number: the JSON itself is refused');
  }
  for (const q of badQty.slice(1)) {
    assert.equal((await raw('PUT', `/cart/items/${p.id}`, `{"qty":${q}}`)).status, 400, `PUT qty ${q}`);
  }
  for (const body of ['{"qty":1}', '{"product_id":5,"qty":1}', '{"product_id":"","qty":1}', `{"product_id":"${p.id}"}`,
    `{"product_id":"${p.id}","qty":1,"price":1}`, '[]', 'not json', '']) {
    assert.equal((await raw('POST', '/cart/items', body)).status, 400, body);
  }
  assert.equal((await raw('PUT', `/cart/items/${p.id}`, '{}')).status, 400);
  assert.equal((await raw('PUT', `/cart/items/${p.id}`, '{"qty":1,"product_id":"x"}')).status, 400);
  const r = await getCart(u);
  assert.deepEqual(r.json.items.map((i) => i.qty), [1], 'no refused request changed the cart');
});

test('limits: 20 per line, stock, unknown and inactive products', async () => {
  const u = newUser();
  const rice = await product({ name: 'Rice', stock: 100 });
  let r = await add(u, rice.id, 15);
  assert.equal(r.status, 200);
  r = await add(u, rice.id, 6);
  assert.equal(r.status, 409);
  assert.equal(r.json.code, 'qty_limit');
  assert.deepEqual([r.json.requested, r.json.max_qty_per_item], [21, 20]);
  assert.equal((await put(u, rice.id, 21)).status, 409);
  assert.equal(qtyOf((await getCart(u)).json, rice.id), 15, 'a refused change leaves the line');
  assert.equal((await add(u, rice.id, 5)).status, 200);
  assert.equal((await add(u, rice.id, 1)).status, 409);
  const other = newUser();
  r = await add(other, rice.id, 21);
  assert.equal(r.status, 409, 'a quantity above the line limit is a conflict, not a bad request');

  const eggs = await product({ name: 'Duck eggs', stock: 5 });
  r = await add(u, eggs.id, 6);
  assert.equal(r.status, 409);
  assert.equal(r.json.code, 'insufficient_stock');
  assert.deepEqual([r.json.product_id, r.json.requested, r.json.available], [eggs.id, 6, 5]);
  assert.match(r.json.detail, /5/);
  assert.equal((await add(u, eggs.id, 3)).status, 200);
  r = await add(u, eggs.id, 3);
  assert.equal(r.status, 409, 'the check is on the resulting quantity');
  assert.deepEqual([r.json.requested, r.json.available], [6, 5]);
  assert.equal((await put(u, eggs.id, 5)).status, 200);
  assert.equal((await put(u, eggs.id, 6)).status, 409);

  for (const id of ['000000000000000000000000', 'no-such-product']) {
    r = await add(u, id, 1);
    assert.equal(r.status, 404, id);
    assert.equal(r.json.code, 'not_found');
    assert.equal((await put(u, id, 1)).status, 404);
  }
  const gone = await product({ name: 'Seasonal' });
  assert.equal((await req(s, 'DELETE', `/products/${gone.id}`, ADMIN)).status, 204);
  assert.equal((await add(u, gone.id, 1)).status, 404, 'inactive product');
  assert.equal((await put(u, gone.id, 1)).status, 404);
});

test('at most 50 different products; growing an existing line still works when full', async () => {
  const u = newUser();
  const ps = [];
  for (let i = 0; i < 51; i++) ps.push(await product({ name: `Line ${i}`, price: 100 + i }));
  for (let i = 0; i < 50; i++) assert.equal((await add(u, ps[i].id, 1)).status, 200, `line ${i}`);
  let r = await add(u, ps[50].id, 1);
  assert.equal(r.status, 409);
  assert.equal(r.json.code, 'cart_full');
  assert.equal(r.json.max_lines, 50);
  assert.equal((await put(u, ps[50].id, 1)).status, 409);
  assert.equal((await add(u, ps[0].id, 1)).status, 200);
  assert.equal((await remove(u, ps[1].id)).status, 200);
  r = await add(u, ps[50].id, 1);
  assert.equal(r.status, 200);
  assert.equal(r.json.items.length, 50);
  assert.equal(r.json.total, ps.reduce((t, p, i) => t + (i === 1 ? 0 : p.price * (i === 0 ? 2 : 1)), 0));
});

test('gone, inactive or short products stay in the cart, unavailable and out of the total', async () => {
  const u = newUser();
  const a = await product({ name: 'Paneer', price: 9000, stock: 10 });
  const b = await product({ name: 'Butter', price: 5600, stock: 10 });
  await add(u, a.id, 2);
  await add(u, b.id, 3);
  assert.equal((await getCart(u)).json.total, 2 * 9000 + 3 * 5600);

  assert.equal((await req(s, 'DELETE', `/products/${a.id}`, ADMIN)).status, 204);
  let r = await getCart(u);
  const line = r.json.items.find((i) => i.product_id === a.id);
  assert.deepEqual([line.available, line.qty], [false, 2]);
  assert.equal(r.json.total, 3 * 5600);

  assert.equal((await req(s, 'POST', `/products/${b.id}/stock`, ADMIN, { delta: -8 })).status, 200);
  r = await getCart(u);
  assert.equal(r.json.items.find((i) => i.product_id === b.id).available, false, 'stock 2 < qty 3');
  assert.equal(r.json.total, 0);
  assert.equal((await put(u, b.id, 2)).status, 200);
  assert.equal((await req(s, 'PATCH', `/products/${b.id}`, ADMIN, { price: 6000, name: 'Salted butter' })).status, 200);
  r = await getCart(u);
  assert.deepEqual(r.json.items.find((i) => i.product_id === b.id),
    { product_id: b.id, name: 'Salted butter', price: 6000, qty: 2, line_total: 12000, available: true },
    'current name and price from the catalogue');
  assert.equal(r.json.total, 12000);

  // a line whose product is gone from the store altogether
  await redis('HSET', `cart:${u.id}`, 'vanished-product', '1');
  r = await getCart(u);
  assert.deepEqual(r.json.items.find((i) => i.product_id === 'vanished-product'),
    { product_id: 'vanished-product', name: null, price: null, qty: 1, line_total: null, available: false });
  assert.equal(r.json.total, 12000);
  assert.equal((await remove(u, 'vanished-product')).status, 200, 'removable though it no longer exists');
  assert.equal((await put(u, a.id, 0)).status, 200, 'PUT 0 on an inactive product removes it');
  assert.equal((await put(u, a.id, 1)).status, 404, 'but it cannot come back');
  r = await getCart(u);
  assert.deepEqual(r.json.items.map((i) => i.product_id), [b.id]);
});

test('users only ever see and change their own cart (BOLA attempts)', async () => {
  const alice = newUser();
  const bob = newUser();
  const p = await product({ name: 'Shared item' });
  await add(alice, p.id, 3);
  assert.deepEqual((await getCart(bob)).json.items, []);
  assert.deepEqual((await req(s, 'GET', `/cart?user_id=${alice.id}`, bob.h)).json.items, [], 'query ignored');
  assert.ok([404, 405].includes((await req(s, 'GET', `/cart/${alice.id}`, bob.h)).status), 'no cart id in URLs');
  assert.equal((await req(s, 'POST', '/cart/items', bob.h, { product_id: p.id, qty: 1, user_id: alice.id })).status, 400);
  assert.equal((await req(s, 'DELETE', '/cart', bob.h)).status, 200);
  assert.equal((await remove(bob, p.id)).status, 200);
  assert.equal((await put(bob, p.id, 0)).status, 200);
  const mine = await add(bob, p.id, 1);
  assert.deepEqual(mine.json.items.map((i) => i.qty), [1], "bob's change answers bob's cart");
  assert.deepEqual((await getCart(alice)).json.items.map((i) => i.qty), [3], "alice's cart is untouched");
  assert.deepEqual((await getCart({ h: ADMIN })).json.items.filter((i) => i.product_id === p.id), [],
    'an admin is a user with a cart of their own');
});

test('concurrent changes to one cart: no lost update, limits hold', async () => {
  const p = await product({ name: 'Hot item', stock: 1000 });
  // 50 increments at once, limit 100 per line: all land
  const u = newUser();
  let rs = await Promise.all(Array.from({ length: 50 }, () => add(u, p.id, 1, s2)));
  assert.deepEqual([...new Set(rs.map((r) => r.status))], [200]);
  assert.equal(qtyOf((await getCart(u, s2)).json, p.id), 50);
  assert.deepEqual(rs.map((r) => qtyOf(r.json, p.id)).sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i + 1),
    'each answer saw its own increment');

  // 50 at once against the default 20 per line: exactly 20 land
  const v = newUser();
  rs = await Promise.all(Array.from({ length: 50 }, () => add(v, p.id, 1)));
  assert.equal(rs.filter((r) => r.status === 200).length, 20);
  assert.equal(rs.filter((r) => r.status === 409 && r.json.code === 'qty_limit').length, 30);
  assert.equal(qtyOf((await getCart(v)).json, p.id), 20);

  // 30 at once against stock 10: exactly 10 land
  const scarce = await product({ name: 'Scarce', stock: 10 });
  const w = newUser();
  rs = await Promise.all(Array.from({ length: 30 }, () => add(w, scarce.id, 1)));
  assert.equal(rs.filter((r) => r.status === 200).length, 10);
  assert.equal(rs.filter((r) => r.status === 409 && r.json.code === 'insufficient_stock').length, 20);
  assert.equal(qtyOf((await getCart(w)).json, scarce.id), 10);

  // 12 new lines at once against 5 lines: exactly 5 land
  const many = [];
  for (let i = 0; i < 12; i++) many.push(await product({ name: `Many ${i}` }));
  const x = newUser();
  rs = await Promise.all(many.map((m) => add(x, m.id, 1, s2)));
  assert.equal(rs.filter((r) => r.status === 200).length, 5);
  assert.equal(rs.filter((r) => r.status === 409 && r.json.code === 'cart_full').length, 7);
  assert.equal((await getCart(x, s2)).json.items.length, 5);

  // a set among increments: Redis runs them in some order; with j
  // increments before the set, the increments answer 11..10+j and
  // 6..25-j, and the line ends at 25-j
  const y = newUser();
  await add(y, p.id, 10, s2);
  rs = await Promise.all([...Array.from({ length: 20 }, () => add(y, p.id, 1, s2)), put(y, p.id, 5, s2)]);
  assert.deepEqual([...new Set(rs.map((r) => r.status))], [200]);
  assert.equal(qtyOf(rs[20].json, p.id), 5);
  const seen = rs.slice(0, 20).map((r) => qtyOf(r.json, p.id)).sort((a, b) => a - b);
  const final = qtyOf((await getCart(y, s2)).json, p.id);
  const j = 25 - final;
  const range = (from, to) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
  assert.deepEqual(seen, [...range(11, 10 + j), ...range(6, 25 - j)].sort((a, b) => a - b),
    `answers ${seen} fit no serial order ending at ${final}`);
});

test('the cart expires after its idle time; reads and changes renew it', async () => {
  const u = newUser();
  const p = await product({ name: 'Expiring' });
  assert.equal((await add(u, p.id, 1, s2)).status, 200);
  const key = `cart:${u.id}`;
  const ttl = Number(await redis('PTTL', key));
  assert.ok(ttl > 55000 && ttl <= 60000, `ttl ${ttl} (ttl_seconds: 60)`);
  await redis('PEXPIRE', key, '5000');
  assert.equal((await getCart(u, s2)).status, 200);
  assert.ok(Number(await redis('PTTL', key)) > 55000, 'a read renews');
  await redis('PEXPIRE', key, '5000');
  await put(u, p.id, 2, s2);
  assert.ok(Number(await redis('PTTL', key)) > 55000, 'a change renews');
  // default: 30 days
  const v = newUser();
  await add(v, p.id, 1);
  const days = Number(await redis('PTTL', `cart:${v.id}`)) / 86400000;
  assert.ok(days > 29.9 && days <= 30, `${days} days`);
  // an expired cart is an empty cart
  await redis('PEXPIRE', key, '1');
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual((await getCart(u, s2)).json.items, []);
});

test('a Redis that forgot the change script (restart, SCRIPT FLUSH) gets it again', async () => {
  const u = newUser();
  const p = await product({ name: 'Scripted' });
  assert.equal((await add(u, p.id, 1)).status, 200);
  await redis('SCRIPT', 'FLUSH');
  const r = await add(u, p.id, 1);
  assert.equal(r.status, 200, r.body);
  assert.equal(qtyOf(r.json, p.id), 2);
  assert.equal((await add(u, p.id, 1)).status, 200);
});
