// The reconciler (worker role) finishing what crashed processes left, on a
// real kirana, the database (PostgreSQL or MongoDB), Redis and queue.
//
// A crash is simulated by writing straight into the database (the
// `orders`, `products` and `order_idempotency` collections) exactly the
// state a process leaves when it dies at that step: an order document and
// the holds or commits it had taken, with the counters moved as the effect
// would have moved them. This is deterministic where killing a process
// mid-placement is a race, and the states are the ones DESIGN.md's effects
// can produce. Killing real processes is covered by crash.test.mjs.
//
// A product is written once per test (every entry it gets at once): a
// second write would read and rewrite the document while the running
// reconciler may be repairing the entries of the first.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { newWorld, product, addToCart, place, send, waitStatus, assertStock, stockOf, ADMIN, ADDRESS } from './helpers.mjs';

let w, k, s;

before(async () => {
  w = await newWorld('recon');
  k = await w.start({ order: { pending_timeout_ms: 1500, stuck_after_ms: 1500, reconcile_interval_ms: 200 } });
  s = w.session(k);
});

after(async () => { await w?.close(); });

async function until(fn, what, ms = 15000) {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const iso = (msAgo) => new Date(Date.now() - msAgo).toISOString();
const newId = () => Date.now().toString(16).padStart(12, '0') + randomBytes(6).toString('hex');

/** Writes an order document as a placement would have (status and history as given). */
async function writeOrder({ id = newId(), user = w.user().id, status, lines, agoMs = 0, extra = {} }) {
  const chain = ['pending', 'placed', 'confirmed', 'packed', 'out_for_delivery', 'delivered'];
  const history = status === 'cancelled' ? ['pending', 'cancelled'] : chain.slice(0, chain.indexOf(status) + 1);
  const at = iso(agoMs);
  const items = lines.map(({ p, qty }) => ({ product_id: p.id, name: p.name, price: p.price, qty,
    line_total: p.price * qty }));
  const doc = { _id: id, user_id: user, status, version: history.length - 1,
    history: history.map((st) => ({ status: st, at })), items, total: items.reduce((a, i) => a + i.line_total, 0),
    currency: 'INR', address: ADDRESS, note: null, cancel_reason: status === 'cancelled' ? 'cancelled_by_user' : null,
    created_at: at, updated_at: at, ...extra };
  await w.insert('orders', doc);
  return id;
}

/** Moves product counters and entries as reserves (kind 'hold') or reserves + commits (kind 'commit') for the
 * orders would: entries [{order, qty, kind}], written in one update of the product. */
async function take(world, p, entries) {
  const ins = await world.ins();
  const d = await ins.findOne('products', { _id: p.id });
  const set = { stock: d.stock, reserved: d.reserved, committed: d.committed, holds: d.holds, commits: d.commits };
  for (const { order, qty, kind } of entries) {
    const [to, arr] = kind === 'hold' ? ['reserved', 'holds'] : ['committed', 'commits'];
    set.stock -= qty;
    set[to] += qty;
    set[arr] = [...set[arr], { order, qty }]; // the key order kirana writes
  }
  assert.equal(await ins.updateOne('products', { _id: p.id }, { $set: set }), 1);
}

test('a half-placed order (pending, holds taken, the process died) is cancelled and its holds released', async () => {
  const a = await product(s, { stock: 10 }), b = await product(s, { stock: 10 });
  // died after reserving a, before b
  const old = await writeOrder({ status: 'pending', lines: [{ p: a, qty: 3 }, { p: b, qty: 1 }], agoMs: 60000 });
  await take(w, a, [{ order: old, qty: 3, kind: 'hold' }]);
  // a placement still in progress (younger than pending_timeout_ms) is left alone at first
  const young = await writeOrder({ status: 'pending', lines: [{ p: b, qty: 2 }] });
  await take(w, b, [{ order: young, qty: 2, kind: 'hold' }]);
  // (the reconciler may already be at work: only the identity is certain)
  await assertStock(s, a.id, 10);

  await until(async () => (await send(s, `GET`, `/orders/${old}`, ADMIN)).json.status === 'cancelled', 'reconciler');
  const o = await send(s, 'GET', `/orders/${old}`, ADMIN);
  assert.equal(o.json.cancel_reason, 'placement_timeout');
  await until(async () => (await stockOf(s, a.id)).reserved === 0, 'release');
  await assertStock(s, a.id, 10, { stock: 10, reserved: 0 });
  assert.equal((await send(s, 'GET', `/orders/${young}`, ADMIN)).json.status, 'pending', 'young order untouched');
  await assertStock(s, b.id, 10, { stock: 8, reserved: 2 });

  // ... until it is old enough
  await until(async () => (await send(s, 'GET', `/orders/${young}`, ADMIN)).json.status === 'cancelled', 'young too');
  await until(async () => (await stockOf(s, b.id)).reserved === 0, 'release of b');
  await assertStock(s, b.id, 10, { stock: 10, reserved: 0 });
});

test('a placed order whose job was lost is finished: confirmed, committed, delivery notified', async () => {
  const a = await product(s, { stock: 10 });
  const id = await writeOrder({ status: 'placed', lines: [{ p: a, qty: 4 }], agoMs: 60000 });
  await take(w, a, [{ order: id, qty: 4, kind: 'hold' }]);
  await waitStatus(s, id, 'confirmed');
  await until(async () => (await stockOf(s, a.id)).committed === 4, 'commit');
  await assertStock(s, a.id, 10, { stock: 6, reserved: 0, committed: 4 });
  await k.waitLog((l) => l.msg?.includes(`order ${id} is ready for the delivery partner`), 10000);
});

test('stock still held or committed for an order whose status says otherwise is put right', async () => {
  const p = await product(s, { stock: 100 });
  // cancel decided, the process died before releasing / un-committing
  const c1 = await writeOrder({ status: 'cancelled', lines: [{ p, qty: 2 }] });
  const c2 = await writeOrder({ status: 'cancelled', lines: [{ p, qty: 3 }] });
  // confirmed and finalized by the books, but a commit never landed
  const c3 = await writeOrder({ status: 'confirmed', lines: [{ p, qty: 4 }], extra: { finalized_at: iso(0) } });
  // out for delivery, shipping interrupted: one hold, and a commit elsewhere
  const q = await product(s, { stock: 100 });
  const c4 = await writeOrder({ status: 'out_for_delivery', lines: [{ p, qty: 5 }, { p: q, qty: 6 }],
    extra: { finalized_at: iso(0) } });
  // and a hold for an order that does not exist at all
  await take(w, p, [{ order: c1, qty: 2, kind: 'hold' }, { order: c2, qty: 3, kind: 'commit' },
    { order: c3, qty: 4, kind: 'hold' }, { order: c4, qty: 5, kind: 'hold' },
    { order: 'ffffffffffffffffffffffff', qty: 7, kind: 'hold' }]);
  await take(w, q, [{ order: c4, qty: 6, kind: 'commit' }]);
  await assertStock(s, p.id, 100);

  await until(async () => {
    const x = await stockOf(s, p.id);
    return x.reserved === 0 && x.committed === 4 && x.shipped === 5;
  }, 'repairs on p');
  const fixed = await assertStock(s, p.id, 100, { stock: 91, reserved: 0, committed: 4, shipped: 5 });
  assert.deepEqual(fixed.commits, [{ order: c3, qty: 4 }]);
  await until(async () => (await stockOf(s, q.id)).shipped === 6, 'repairs on q');
  await assertStock(s, q.id, 100, { stock: 94, committed: 0, shipped: 6 });
  const m = await send(s, 'GET', '/metrics', {});
  assert.match(m.body, /kirana_orders_reconciler_repairs_total \d+/);
});

test('orders placed normally are never touched by the reconciler', async () => {
  const p = await product(s, { stock: 10 });
  const u = w.user();
  await addToCart(s, u, p.id, 2);
  const r = await place(s, u);
  assert.equal(r.status, 201);
  await waitStatus(s, r.json.id, 'confirmed');
  await new Promise((res) => setTimeout(res, 2500)); // several passes, past every age threshold
  const o = await send(s, 'GET', `/orders/${r.json.id}`, ADMIN);
  assert.equal(o.json.status, 'confirmed');
  await assertStock(s, p.id, 10, { stock: 8, reserved: 0, committed: 2 });
  const hist = (await (await w.ins()).findOne('orders', { _id: r.json.id })).history;
  assert.deepEqual(hist.map((e) => e.status), ['pending', 'placed', 'confirmed']);
});

test('an Idempotency-Key whose request died resumes the same order instead of placing a second one', async () => {
  // a world of its own, with a pending timeout long enough that the
  // reconciler does not cancel the dead request's order first
  const w2 = await newWorld('recon2');
  try {
    const k2 = await w2.start({ order: { pending_timeout_ms: 6000, reconcile_interval_ms: 200 } });
    const s2 = w2.session(k2);
    const p = await product(s2, { stock: 10 });
    const body = { address: ADDRESS };
    /** The record a request leaves when it dies `ago` ms after it started. */
    const record = (u, key, id, ago) => w2.insert('order_idempotency', { _id: `r${id}`, user_id: u.id, key,
      request: JSON.stringify(body), state: 'running', owner: 'dead', order_id: id, started_ms: Date.now() - ago,
      expires_ms: Date.now() + 86400000 });
    const writeOrder2 = async (u, id, status, qty) => {
      const at = new Date().toISOString();
      const history = status === 'placed' ? ['pending', 'placed'] : ['pending'];
      const doc = { _id: id, user_id: u.id, status, version: history.length - 1,
        history: history.map((x) => ({ status: x, at })), items: [{ product_id: p.id, name: p.name, price: p.price,
          qty, line_total: p.price * qty }], total: p.price * qty, currency: 'INR', address: ADDRESS, note: null,
        cancel_reason: null, created_at: at, updated_at: at };
      await w2.insert('orders', doc);
      await take(w2, p, [{ order: id, qty, kind: 'hold' }]);
    };

    // died after reserving, before deciding `placed`
    const u = w2.user();
    await addToCart(s2, u, p.id, 3);
    const id = newId();
    await writeOrder2(u, id, 'pending', 3);
    await record(u, 'died', id, 2000);
    const busy = await place(s2, u, 'died', body);
    assert.equal(busy.status, 409, 'busy for half the pending timeout (3 s here)');
    assert.equal(busy.json.code, 'idempotency_key_in_use');
    await new Promise((res) => setTimeout(res, 1200));
    const r = await place(s2, u, 'died', body);
    assert.equal(r.status, 201, r.body);
    assert.equal(r.json.id, id, 'the same order');
    assert.deepEqual((await send(s2, 'GET', '/cart', u.h)).json.items, [], 'the resumed placement cleared the cart');
    await waitStatus(s2, id, 'confirmed');
    // (the worker commits after confirming: p is written next, so let it finish)
    await until(async () => (await stockOf(s2, p.id)).committed === 3, 'the first commit');

    // died after `placed`, before enqueueing the job and answering
    const v = w2.user();
    const id2 = newId();
    await writeOrder2(v, id2, 'placed', 2);
    await record(v, 'died2', id2, 5000);
    const r2 = await place(s2, v, 'died2', body);
    assert.equal(r2.status, 201, r2.body);
    assert.equal(r2.json.id, id2);
    await waitStatus(s2, id2, 'confirmed');
    assert.equal((await place(s2, v, 'died2', body)).headers['idempotent-replayed'], 'true');

    await until(async () => (await stockOf(s2, p.id)).committed === 5, 'commits');
    await assertStock(s2, p.id, 10, { stock: 5, reserved: 0, committed: 5 });
    assert.equal((await send(s2, 'GET', '/orders', u.h)).json.items.length, 1);
    assert.equal((await send(s2, 'GET', '/orders', v.h)).json.items.length, 1);
  } finally {
    await w2.close();
  }
});
