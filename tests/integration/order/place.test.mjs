// POST /orders against a real kirana (roles http + worker), the database
// (PostgreSQL or MongoDB), Redis and the queue: the order body, validation,
// empty carts, shortfalls, Idempotency-Key (replays, other bodies,
// concurrent duplicates) and 200 buyers racing for 10 units. The stock
// identity is checked after each test. The races need atomic
// single-document updates and are skipped on FerretDB v1.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { newWorld, product, addToCart, place, send, waitStatus, assertStock, stockOf, skipWithoutAtomicUpdates, ADMIN,
  ADDRESS } from './helpers.mjs';

let w, k, s;

before(async () => {
  w = await newWorld('place');
  k = await w.start();
  s = w.session(k);
});

after(async () => { await w?.close(); });

const ORDER_KEYS = ['address', 'cancel_reason', 'created_at', 'currency', 'id', 'items', 'note', 'status', 'total',
  'updated_at', 'user_id'];

test('an order from the cart: 201 + Location, server prices, cart cleared, worker confirms and commits', async () => {
  const a = await product(s, { price: 4500, stock: 7 });
  const b = await product(s, { price: 1999, stock: 3 });
  const u = w.user();
  await addToCart(s, u, a.id, 2);
  await addToCart(s, u, b.id, 3);
  const r = await place(s, u, 'k-first', { address: { ...ADDRESS, lat: 12.97, lng: 77.59 }, note: 'ring twice' });
  assert.equal(r.status, 201, r.body);
  assert.equal(r.headers.location, `/orders/${r.json.id}`);
  assert.deepEqual(Object.keys(r.json).sort(), ORDER_KEYS);
  assert.equal(r.json.user_id, u.id);
  assert.equal(r.json.status, 'placed');
  assert.equal(r.json.currency, 'INR');
  assert.equal(r.json.total, 2 * 4500 + 3 * 1999);
  assert.equal(r.json.note, 'ring twice');
  assert.equal(r.json.cancel_reason, null);
  assert.deepEqual(r.json.address, { ...ADDRESS, lat: 12.97, lng: 77.59 });
  const byId = Object.fromEntries(r.json.items.map((i) => [i.product_id, i]));
  assert.deepEqual(byId[a.id], { product_id: a.id, name: a.name, price: 4500, qty: 2, line_total: 9000 });
  assert.deepEqual(byId[b.id], { product_id: b.id, name: b.name, price: 1999, qty: 3, line_total: 5997 });
  assert.match(r.json.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

  const cart = await send(s, 'GET', '/cart', u.h);
  assert.deepEqual(cart.json.items, [], 'the cart is cleared');

  const o = await waitStatus(s, r.json.id, 'confirmed');
  assert.equal(o.total, r.json.total);
  await until(async () => (await stockOf(s, a.id)).committed === 2, 'commit of a');
  await assertStock(s, a.id, 7, { stock: 5, reserved: 0, committed: 2 });
  await assertStock(s, b.id, 3, { stock: 0, reserved: 0, committed: 3 });
  const got = await send(s, 'GET', r.headers.location, u.h);
  assert.equal(got.status, 200);
  assert.equal(got.json.status, 'confirmed');
});

async function until(fn, what, ms = 10000) {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('requests refused before anything is stored: no key, bad key, not JSON', async () => {
  const u = w.user();
  const p = await product(s);
  await addToCart(s, u, p.id, 1);
  let r = await send(s, 'POST', '/orders', u.h, { address: ADDRESS });
  assert.equal(r.status, 400);
  assert.equal(r.json.code, 'idempotency_key_required');
  assert.equal(r.headers['content-type'], 'application/problem+json');
  r = await send(s, 'POST', '/orders', { ...u.h, 'idempotency-key': 'has space' }, { address: ADDRESS });
  assert.equal(r.status, 400);
  assert.equal(r.json.code, 'idempotency_key_invalid');
  r = await send(s, 'POST', '/orders', { ...u.h, 'idempotency-key': 'x'.repeat(256) }, { address: ADDRESS });
  assert.equal(r.status, 400);
  r = await send(s, 'POST', '/orders', { ...u.h, 'idempotency-key': 'nj', 'content-type': 'application/json' }, '[1]');
  assert.equal(r.status, 400);
  r = await send(s, 'POST', '/orders', { 'idempotency-key': 'anon' }, { address: ADDRESS });
  assert.equal(r.status, 401);
  // the key was not used up by the non-JSON body
  r = await place(s, u, 'nj');
  assert.equal(r.status, 201, r.body);
  await assertStock(s, p.id, 10);
});

test('validation: 400 validation_failed naming every bad field; the answer is kept for the key', async () => {
  const u = w.user();
  const cases = [
    [{}, ['address']],
    [{ address: 'x' }, ['address']],
    [{ address: {} }, ['address.city', 'address.line1', 'address.pincode']],
    [{ address: { ...ADDRESS, pincode: '012345' } }, ['address.pincode']],
    [{ address: { ...ADDRESS, pincode: 560001 } }, ['address.pincode']],
    [{ address: { ...ADDRESS, line1: '   ' } }, ['address.line1']],
    [{ address: { ...ADDRESS, city: 'a\nb' } }, ['address.city']],
    [{ address: { ...ADDRESS, line1: 'x'.repeat(201) } }, ['address.line1']],
    [{ address: { ...ADDRESS, lat: 91, lng: 0 } }, ['address.lat']],
    [{ address: { ...ADDRESS, lat: 1, lng: '2' } }, ['address.lng']],
    [{ address: { ...ADDRESS, lat: 1 } }, ['address.lng']],
    [{ address: { ...ADDRESS, zip: 1 } }, ['address.zip']],
    [{ address: ADDRESS, note: 5 }, ['note']],
    [{ address: ADDRESS, note: 'n'.repeat(501) }, ['note']],
    [{ address: ADDRESS, user_id: 'someone' }, ['user_id']],
  ];
  for (const [body, fields] of cases) {
    const key = randomBytes(6).toString('hex');
    const r = await place(s, u, key, body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.json.code, 'validation_failed');
    assert.deepEqual(r.json.errors.map((e) => e.field).sort(), fields, JSON.stringify(body));
    const again = await place(s, u, key, body);
    assert.equal(again.status, 400);
    assert.equal(again.body, r.body, 'replayed');
    assert.equal(again.headers['idempotent-replayed'], 'true');
  }
  const ok = await send(s, 'GET', '/orders', u.h);
  assert.deepEqual(ok.json.items, [], 'nothing was created');
});

test('an empty cart is 422 cart_empty; the answer is replayed for the key', async () => {
  const u = w.user();
  const r = await place(s, u, 'empty');
  assert.equal(r.status, 422);
  assert.equal(r.json.code, 'cart_empty');
  const p = await product(s);
  await addToCart(s, u, p.id, 1);
  const again = await place(s, u, 'empty');
  assert.equal(again.status, 422, 'the first answer stands for the key');
  assert.equal(again.body, r.body);
  assert.equal((await place(s, u, 'empty-2')).status, 201);
});

test('a shortfall: 409 out_of_stock with the short lines; the order is kept cancelled; nothing stays held', async () => {
  const a = await product(s, { stock: 5 });
  const b = await product(s, { stock: 1 });
  const c = await product(s, { stock: 4 });
  const u = w.user();
  await addToCart(s, u, a.id, 2);
  await addToCart(s, u, b.id, 1);
  await addToCart(s, u, c.id, 3);
  // someone else takes b and 2 of c meanwhile
  const v = w.user();
  await addToCart(s, v, b.id, 1);
  await addToCart(s, v, c.id, 2);
  assert.equal((await place(s, v)).status, 201);

  const r = await place(s, u, 'short');
  assert.equal(r.status, 409, r.body);
  assert.equal(r.json.code, 'out_of_stock');
  const lines = Object.fromEntries(r.json.lines.map((l) => [l.product_id, l]));
  assert.equal(r.json.lines.length, 2, r.body);
  assert.deepEqual(lines[b.id], { product_id: b.id, requested: 1, available: 0 });
  assert.deepEqual(lines[c.id], { product_id: c.id, requested: 3, available: 2 });
  assert.equal(typeof r.json.order_id, 'string');
  const o = await send(s, 'GET', `/orders/${r.json.order_id}`, u.h);
  assert.equal(o.json.status, 'cancelled');
  assert.equal(o.json.cancel_reason, 'out_of_stock');
  const cart = await send(s, 'GET', '/cart', u.h);
  assert.equal(cart.json.items.length, 3, 'the cart stays for the user to fix');
  const again = await place(s, u, 'short');
  assert.equal(again.status, 409);
  assert.equal(again.body, r.body, 'the same answer for the same key');

  await assertStock(s, a.id, 5, { stock: 5, reserved: 0 });
  await until(async () => (await stockOf(s, b.id)).committed === 1, 'worker commits the other order');
  await assertStock(s, b.id, 1, { stock: 0, committed: 1 });
  await assertStock(s, c.id, 4, { stock: 2, committed: 2 });
});

test('an inactive or vanished product in the cart is a shortfall with available 0', async () => {
  const a = await product(s, { stock: 5 });
  const u = w.user();
  await addToCart(s, u, a.id, 1);
  assert.equal((await send(s, 'DELETE', `/products/${a.id}`, ADMIN)).status, 204);
  let r = await place(s, u);
  assert.equal(r.status, 409, r.body);
  assert.deepEqual(r.json.lines, [{ product_id: a.id, requested: 1, available: 0 }]);
  await assertStock(s, a.id, 5, { stock: 5, reserved: 0 });

  const v = w.user();
  await w.redis('HSET', `cart:${v.id}`, 'nosuchproduct0000000000', '2');
  r = await place(s, v);
  assert.equal(r.status, 409, r.body);
  assert.deepEqual(r.json.lines, [{ product_id: 'nosuchproduct0000000000', requested: 2, available: 0 }]);
  assert.equal(r.json.order_id, undefined, 'no order for a cart that cannot be priced');
});

test('Idempotency-Key: the same key and body replays 201 with the same body and Location; one order', async () => {
  const p = await product(s, { stock: 10 });
  const u = w.user();
  await addToCart(s, u, p.id, 2);
  const first = await place(s, u, 'same', { address: ADDRESS, note: 'x' });
  assert.equal(first.status, 201);
  // the cart is empty now: only a replay can answer 201
  const again = await place(s, u, 'same', { note: 'x', address: { pincode: ADDRESS.pincode, city: ADDRESS.city,
    line1: ADDRESS.line1 } });
  assert.equal(again.status, 201, 'bodies compare as parsed JSON (key order does not matter)');
  assert.equal(again.body, first.body);
  assert.equal(again.headers.location, first.headers.location);
  assert.equal(again.headers['idempotent-replayed'], 'true');
  const other = await place(s, u, 'same', { address: ADDRESS, note: 'y' });
  assert.equal(other.status, 422);
  assert.equal(other.json.code, 'idempotency_key_reused');
  // keys are per user
  const v = w.user();
  await addToCart(s, v, p.id, 1);
  const theirs = await place(s, v, 'same', { address: ADDRESS, note: 'x' });
  assert.equal(theirs.status, 201);
  assert.notEqual(theirs.json.id, first.json.id);
  assert.equal((await send(s, 'GET', '/orders', u.h)).json.items.length, 1);
  await waitStatus(s, theirs.json.id, 'confirmed');
  await until(async () => (await stockOf(s, p.id)).committed === 3, 'commits');
  await assertStock(s, p.id, 10, { stock: 7, committed: 3 });
});

test('Idempotency-Key replayed 5x concurrently: one order; the others replay it or are told to retry',
  { skip: skipWithoutAtomicUpdates() }, async () => {
  const p = await product(s, { stock: 10 });
  for (let round = 0; round < 5; round++) {
    const u = w.user();
    await addToCart(s, u, p.id, 1);
    const sessions = Array.from({ length: 5 }, () => w.session(k));
    try {
      const key = `dup-${round}`;
      const rs = await Promise.all(sessions.map((x) => place(x, u, key)));
      const created = rs.filter((r) => r.status === 201);
      const busy = rs.filter((r) => r.status === 409);
      assert.equal(created.length + busy.length, 5, rs.map((r) => `${r.status} ${r.body}`).join('\n'));
      assert.ok(created.length >= 1);
      assert.equal(new Set(created.map((r) => r.json.id)).size, 1, 'all 201s are the same order');
      for (const b of busy) {
        assert.equal(b.json.code, 'idempotency_key_in_use');
        assert.equal(b.headers['retry-after'], '1');
      }
      const later = await place(s, u, key);
      assert.equal(later.status, 201);
      assert.equal(later.json.id, created[0].json.id);
      assert.equal((await send(s, 'GET', '/orders', u.h)).json.items.length, 1, 'one order');
    } finally {
      for (const x of sessions) x.close();
    }
  }
  await until(async () => (await stockOf(s, p.id)).committed === 5, 'commits');
  await assertStock(s, p.id, 10, { stock: 5, reserved: 0, committed: 5 });
});

test('200 concurrent buyers over HTTP/2 for 10 units: exactly 10 orders placed, stock 0, never negative',
  { skip: skipWithoutAtomicUpdates() }, async () => {
  const p = await product(s, { stock: 10, price: 9900 });
  const buyers = Array.from({ length: 200 }, () => w.user());
  for (let i = 0; i < buyers.length; i += 50)
    await Promise.all(buyers.slice(i, i + 50).map((u) => addToCart(s, u, p.id, 1)));
  const sessions = Array.from({ length: 4 }, () => w.session(k));
  let negative = false, watching = true;
  const watcher = (async () => {
    while (watching) {
      const x = await stockOf(s, p.id);
      if (x.stock < 0 || x.reserved < 0) negative = true;
    }
  })();
  try {
    const rs = await Promise.all(buyers.map((u, i) => place(sessions[i % 4], u)));
    const statuses = rs.reduce((m, r) => ({ ...m, [r.status]: (m[r.status] || 0) + 1 }), {});
    assert.deepEqual(statuses, { 201: 10, 409: 190 }, JSON.stringify(statuses));
    for (const r of rs.filter((x) => x.status === 409)) {
      assert.equal(r.json.code, 'out_of_stock');
      assert.equal(r.json.lines.length, 1);
      assert.equal(r.json.lines[0].requested, 1);
    }
    const placed = rs.filter((r) => r.status === 201).map((r) => r.json.id);
    assert.equal(new Set(placed).size, 10);
    for (const id of placed) await waitStatus(s, id, 'confirmed');
  } finally {
    watching = false;
    await watcher;
    for (const x of sessions) x.close();
  }
  assert.equal(negative, false, 'stock never went negative');
  await until(async () => (await stockOf(s, p.id)).committed === 10, 'all committed');
  const final = await assertStock(s, p.id, 10, { stock: 0, reserved: 0, committed: 10 });
  assert.deepEqual(final.holds, []);
  const all = await send(s, 'GET', `/orders?limit=100`, ADMIN);
  assert.equal(all.status, 200);
});

test('every product touched by this file still adds up', async () => {
  const ins = await w.ins();
  const all = await ins.find('products');
  assert.ok(all.length > 0);
  for (const p of all) {
    assert.ok(p.stock >= 0 && p.reserved >= 0 && p.committed >= 0 && p.shipped >= 0, JSON.stringify(p));
    assert.equal(p.holds.reduce((a, h) => a + h.qty, 0), p.reserved, JSON.stringify(p));
    assert.equal(p.commits.reduce((a, h) => a + h.qty, 0), p.committed, JSON.stringify(p));
  }
  const orders = await ins.find('orders');
  for (const o of orders.filter((x) => x.status === 'cancelled')) {
    for (const p of all) {
      assert.ok(!p.holds.some((h) => h.order === o._id), `no hold for cancelled ${o._id}`);
      assert.ok(!p.commits.some((h) => h.order === o._id), `no commit for cancelled ${o._id}`);
    }
  }
});
