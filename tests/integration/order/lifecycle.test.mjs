// An order's life after placing, against a real kirana (http + worker),
// the database (PostgreSQL or MongoDB), Redis and the queue: reading and listing (keyset pages,
// ownership, admin filters), cancelling (restock whatever the worker did,
// exactly once, also while the worker runs), the admin's status changes
// along the state machine (everything else 409) and shipping. The stock
// identity is checked after each test. The race with the worker needs
// atomic single-document updates and is skipped on FerretDB v1.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { newWorld, product, addToCart, place, send, waitStatus, assertStock, stockOf, setStatus, cancel, getOrder,
  skipWithoutAtomicUpdates, ADMIN } from './helpers.mjs';

let w, k, s;

before(async () => {
  w = await newWorld('life');
  k = await w.start();
  s = w.session(k);
});

after(async () => { await w?.close(); });

async function until(fn, what, ms = 10000) {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Places an order of qty units of p for u and waits for the worker. */
async function ordered(u, p, qty = 1, status = 'confirmed') {
  await addToCart(s, u, p.id, qty);
  const r = await place(s, u);
  assert.equal(r.status, 201, r.body);
  if (status) await waitStatus(s, r.json.id, status);
  return r.json;
}

test('GET /orders/{id}: the owner and admins see it; anyone else gets 404 like an unknown id', async () => {
  const p = await product(s, { stock: 5 });
  const u = w.user(), v = w.user();
  const o = await ordered(u, p, 1);
  assert.equal((await getOrder(s, u, o.id)).status, 200);
  const admin = await send(s, 'GET', `/orders/${o.id}`, ADMIN);
  assert.equal(admin.status, 200);
  assert.equal(admin.json.user_id, u.id);
  for (const id of [o.id, '01a2000000000000deadbeef', 'x'.repeat(65), 'bad%20id']) {
    const r = await getOrder(s, v, id);
    assert.equal(r.status, 404, id);
    assert.equal(r.json.code, 'not_found');
  }
  const unknown = await getOrder(s, v, '01a2000000000000deadbeef');
  const others = await getOrder(s, v, o.id);
  assert.equal(others.body.replace(/"detail":"[^"]*"/, ''), unknown.body.replace(/"detail":"[^"]*"/, ''));
  // and the other routes that name the order
  assert.equal((await cancel(s, v, o.id)).status, 404);
  assert.equal((await send(s, 'GET', `/orders/${o.id}/events`, v.h)).status, 404);
  assert.equal((await send(s, 'GET', `/orders/${o.id}`, {})).status, 401);
  // (the worker commits after it confirms)
  await until(async () => (await stockOf(s, p.id)).committed === 1, 'the commit');
  await assertStock(s, p.id, 5, { committed: 1 });
});

test('GET /orders: own orders newest first, keyset pages of `limit`, next_cursor null at the end', async () => {
  const p = await product(s, { stock: 100 });
  const u = w.user(), v = w.user();
  const mine = [];
  for (let i = 0; i < 7; i++) mine.push((await ordered(u, p, 1, null)).id);
  await ordered(v, p, 1, null);
  const seen = [];
  let cursor = null, pages = 0;
  do {
    const r = await send(s, 'GET', `/orders?limit=3${cursor ? `&cursor=${cursor}` : ''}`, u.h);
    assert.equal(r.status, 200, r.body);
    assert.ok(r.json.items.length <= 3);
    seen.push(...r.json.items.map((o) => o.id));
    for (const o of r.json.items) assert.equal(o.user_id, u.id);
    cursor = r.json.next_cursor;
    pages++;
  } while (cursor);
  assert.equal(pages, 3);
  assert.deepEqual(seen, [...mine].reverse(), 'newest first, each once');
  const all = await send(s, 'GET', '/orders', u.h);
  assert.equal(all.json.items.length, 7);
  assert.equal(all.json.next_cursor, null);

  for (const bad of ['limit=0', 'limit=101', 'limit=abc', 'limit=-1', 'limit=', 'cursor=!!', 'cursor=eyJ4IjoxfQ']) {
    const r = await send(s, 'GET', `/orders?${bad}`, u.h);
    assert.equal(r.status, 400, bad);
    assert.equal(r.json.code, 'validation_failed', bad);
  }
  const forbidden = await send(s, 'GET', `/orders?user_id=${u.id}`, v.h);
  assert.equal(forbidden.status, 403, 'a user passing user_id');
  const own = await send(s, 'GET', `/orders?user_id=${u.id}`, u.h);
  assert.equal(own.status, 403, 'even with their own id');

  const adminU = await send(s, 'GET', `/orders?user_id=${u.id}&limit=100`, ADMIN);
  assert.deepEqual(adminU.json.items.map((o) => o.id), [...mine].reverse());
  const adminAll = await send(s, 'GET', '/orders?limit=100', ADMIN);
  assert.ok(adminAll.json.items.some((o) => o.user_id === v.id));
  const times = adminAll.json.items.map((o) => o.created_at);
  assert.deepEqual(times, [...times].sort().reverse(), 'newest first');
  for (const id of mine) await waitStatus(s, id, 'confirmed');
  await until(async () => (await stockOf(s, p.id)).committed === 8, 'commits');
  await assertStock(s, p.id, 100, { stock: 92, committed: 8 });
});

test('cancel from placed, confirmed and packed restocks exactly once; later states and a second cancel are 409', async () => {
  const p = await product(s, { stock: 20 });
  const u = w.user();

  // confirmed (the worker committed): un-committed
  const a = await ordered(u, p, 2);
  await until(async () => (await stockOf(s, p.id)).committed === 2, 'commit');
  let r = await cancel(s, u, a.id);
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.status, 'cancelled');
  assert.equal(r.json.cancel_reason, 'cancelled_by_user');
  await assertStock(s, p.id, 20, { stock: 20, reserved: 0, committed: 0 });
  r = await cancel(s, u, a.id);
  assert.equal(r.status, 409, 'a second cancel');
  assert.equal(r.json.code, 'invalid_transition');
  assert.equal(r.json.current_status, 'cancelled');
  await assertStock(s, p.id, 20, { stock: 20 });

  // packed, cancelled by an admin
  const b = await ordered(u, p, 3);
  assert.equal((await setStatus(s, b.id, 'packed')).status, 200);
  r = await send(s, 'POST', `/orders/${b.id}/cancel`, ADMIN);
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.cancel_reason, 'cancelled_by_admin');
  await assertStock(s, p.id, 20, { stock: 20, committed: 0 });

  // out for delivery: too late
  const c = await ordered(u, p, 1);
  assert.equal((await setStatus(s, c.id, 'packed')).status, 200);
  assert.equal((await setStatus(s, c.id, 'out_for_delivery')).status, 200);
  r = await cancel(s, u, c.id);
  assert.equal(r.status, 409);
  assert.equal(r.json.current_status, 'out_for_delivery');
  await assertStock(s, p.id, 20, { stock: 19, committed: 0, shipped: 1 });
  assert.equal((await setStatus(s, c.id, 'delivered')).status, 200);
  r = await cancel(s, u, c.id);
  assert.equal(r.status, 409);
  await assertStock(s, p.id, 20, { stock: 19, shipped: 1 });
});

test('status changes: only confirmed → packed → out_for_delivery → delivered; the rest is 409; shipping moves stock', async () => {
  const p = await product(s, { stock: 10 });
  const q = await product(s, { stock: 10 });
  const u = w.user();
  await addToCart(s, u, p.id, 2);
  await addToCart(s, u, q.id, 1);
  const placed = await place(s, u);
  assert.equal(placed.status, 201);
  const id = placed.json.id;
  await waitStatus(s, id, 'confirmed');
  await until(async () => (await stockOf(s, q.id)).committed === 1, 'commits');

  const refused = [['confirmed', 'delivered'], ['confirmed', 'out_for_delivery'], ['confirmed', 'placed'],
    ['confirmed', 'pending'], ['confirmed', 'confirmed'], ['confirmed', 'cancelled']];
  for (const [from, to] of refused) {
    const r = await setStatus(s, id, to);
    assert.equal(r.status, 409, `${from} → ${to}`);
    assert.equal(r.json.code, 'invalid_transition');
    assert.equal(r.json.current_status, from);
  }
  let r = await setStatus(s, id, 'packed');
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.status, 'packed');
  assert.equal((await setStatus(s, id, 'packed')).status, 409, 'packed → packed');
  assert.equal((await setStatus(s, id, 'delivered')).status, 409, 'packed → delivered');
  r = await setStatus(s, id, 'out_for_delivery');
  assert.equal(r.status, 200);
  await assertStock(s, p.id, 10, { stock: 8, reserved: 0, committed: 0, shipped: 2 });
  await assertStock(s, q.id, 10, { stock: 9, committed: 0, shipped: 1 });
  assert.equal((await setStatus(s, id, 'packed')).status, 409, 'no way back');
  r = await setStatus(s, id, 'delivered');
  assert.equal(r.status, 200);
  assert.equal(r.json.status, 'delivered');
  assert.equal((await setStatus(s, id, 'delivered')).status, 409);
  assert.equal((await setStatus(s, id, 'out_for_delivery')).status, 409);

  // bad bodies, unknown orders, users
  assert.equal((await setStatus(s, id, 'shipped')).status, 400);
  assert.equal((await send(s, 'PATCH', `/orders/${id}/status`, ADMIN, { status: 'packed', x: 1 })).status, 400);
  assert.equal((await send(s, 'PATCH', `/orders/${id}/status`, ADMIN, {})).status, 400);
  assert.equal((await setStatus(s, '01a2000000000000deadbeef', 'packed')).status, 404);
  assert.equal((await setStatus(s, id, 'packed', u.h)).status, 403, 'admins only');
  await assertStock(s, p.id, 10, { stock: 8, shipped: 2 });
});

test('placed → packed is refused until the worker confirmed; a placed order can be cancelled before the worker', async () => {
  // an http-only server: no worker, so the order stays placed
  const k2 = await w.start({ roles: ['http'], order: { events_channel: `${w.channel}-2` }, queue: { prefix: `${w.prefix}-2` } });
  const s2 = w.session(k2);
  const p = await product(s2, { stock: 4 });
  const u = w.user();
  await addToCart(s2, u, p.id, 4);
  const r = await place(s2, u);
  assert.equal(r.status, 201);
  assert.equal((await setStatus(s2, r.json.id, 'packed')).status, 409);
  await assertStock(s2, p.id, 4, { stock: 0, reserved: 4 });
  const c = await cancel(s2, u, r.json.id);
  assert.equal(c.status, 200);
  await assertStock(s2, p.id, 4, { stock: 4, reserved: 0, committed: 0 });
  const e = await k2.stop();
  assert.equal(e.code, 0);
});

test('cancel racing the worker: every order ends cancelled and all stock is back, whatever the worker did',
  { skip: skipWithoutAtomicUpdates() }, async () => {
  const p = await product(s, { stock: 60 });
  const q = await product(s, { stock: 60 });
  const users = Array.from({ length: 30 }, () => w.user());
  for (const u of users) {
    await addToCart(s, u, p.id, 2);
    await addToCart(s, u, q.id, 1);
  }
  // place and cancel at once, while the worker confirms and commits
  const outcomes = await Promise.all(users.map(async (u, i) => {
    const r = await place(s, u);
    assert.equal(r.status, 201, r.body);
    if (i % 3 === 1) await new Promise((res) => setTimeout(res, 5));
    if (i % 3 === 2) await waitStatus(s, r.json.id, 'confirmed');
    const c = await cancel(s, u, r.json.id);
    assert.equal(c.status, 200, c.body);
    return r.json.id;
  }));
  for (const id of outcomes) {
    const o = await send(s, 'GET', `/orders/${id}`, ADMIN);
    assert.equal(o.json.status, 'cancelled');
  }
  // both sides of the race happened: some were cancelled before the
  // worker confirmed them, some after (their commits were undone)
  const histories = (await (await w.ins()).find('orders', { _id: { $in: outcomes } })).map((o) => o.history);
  assert.equal(histories.length, outcomes.length);
  const confirmedFirst = histories.filter((h) => h.some((e) => e.status === 'confirmed')).length;
  assert.ok(confirmedFirst >= 10, `cancelled after the worker: ${confirmedFirst}`);
  // late jobs find the orders cancelled and change nothing
  await new Promise((res) => setTimeout(res, 500));
  await assertStock(s, p.id, 60, { stock: 60, reserved: 0, committed: 0, shipped: 0 });
  await assertStock(s, q.id, 60, { stock: 60, reserved: 0, committed: 0 });
});
