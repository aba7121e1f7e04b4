// GET /orders/{id}/events (server-sent events) over HTTP/2 against real
// kirana processes: two http-only servers and a worker-only one, so events
// published by one process reach streams held by another through Redis
// pub/sub. A client sees the current status first, then every change once
// and in order (id = the order's version), heartbeats, and the end of the
// stream after delivered or cancelled.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { newWorld, product, addToCart, place, send, setStatus, cancel, assertStock, waitStatus, waitFor,
  skipWithoutAtomicUpdates, ADMIN } from './helpers.mjs';

let w, h1, h2, s1, s2, p;

before(async () => {
  w = await newWorld('events');
  // heartbeats every second, to see them in a test
  h1 = await w.start({ roles: ['http'], order: { sse_heartbeat_s: 1 } });
  h2 = await w.start({ roles: ['http'], order: { sse_heartbeat_s: 1 } });
  s1 = w.session(h1);
  s2 = w.session(h2);
  p = await product(s1, { stock: 1000 });
});

after(async () => { await w?.close(); });

/** Opens an SSE stream; collects parsed events and counts comments. */
function watch(session, path, headers) {
  const req = session.request({ ':path': path, accept: 'text/event-stream', ...headers });
  const st = { events: [], comments: 0, ended: false, status: null, headers: null, buf: '', req };
  req.setEncoding('utf8');
  req.on('response', (hd) => { st.headers = hd; st.status = hd[':status']; });
  req.on('data', (d) => {
    st.buf += d;
    let i;
    while ((i = st.buf.indexOf('\n\n')) >= 0) {
      const block = st.buf.slice(0, i);
      st.buf = st.buf.slice(i + 2);
      if (block.startsWith(':')) { st.comments++; continue; }
      const ev = {};
      for (const line of block.split('\n')) {
        const m = /^(\w+): ?(.*)$/.exec(line);
        if (m) ev[m[1]] = m[2];
      }
      ev.data = JSON.parse(ev.data);
      st.events.push(ev);
    }
  });
  req.on('end', () => (st.ended = true));
  req.on('error', () => (st.ended = true));
  return st;
}

const statuses = (st) => st.events.map((e) => e.data.status);
const ids = (st) => st.events.map((e) => e.id);

async function placed(u, session = s1) {
  await addToCart(session, u, p.id, 1);
  const r = await place(session, u);
  assert.equal(r.status, 201, r.body);
  return r.json.id;
}

test('the owner sees placed, then every change made by any process, in order, then the end', async () => {
  const u = w.user();
  const id = await placed(u);
  const st = watch(s2, `/orders/${id}/events`, u.h);
  await waitFor(() => st.events.length === 1, 5000, 'the first event');
  assert.equal(st.status, 200);
  assert.equal(st.headers['content-type'], 'text/event-stream');
  assert.deepEqual(st.events[0], { event: 'status', id: '1', data: st.events[0].data });
  assert.deepEqual(Object.keys(st.events[0].data), ['status', 'at']);
  assert.equal(st.events[0].data.status, 'placed');
  assert.match(st.events[0].data.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

  // the worker process confirms; an admin on the other server moves it on
  const worker = await w.start({ roles: ['worker'] });
  await waitFor(() => st.events.length === 2, 10000, 'confirmed');
  await w.settled(id);
  for (const to of ['packed', 'out_for_delivery', 'delivered']) assert.equal((await setStatus(s1, id, to)).status, 200);
  await waitFor(() => st.ended, 10000, 'the stream to end after delivered');
  assert.deepEqual(statuses(st), ['placed', 'confirmed', 'packed', 'out_for_delivery', 'delivered']);
  assert.deepEqual(ids(st), ['1', '2', '3', '4', '5']);
  const at = st.events.map((e) => e.data.at);
  assert.deepEqual(at, [...at].sort(), 'times in order');
  const o = await send(s1, 'GET', `/orders/${id}`, ADMIN);
  assert.equal(o.json.updated_at, at[4]);
  await worker.stop();
  await assertStock(s1, p.id, 1000);
});

test('a late subscriber starts at the current status; a terminal order sends one event and ends', async () => {
  const u = w.user();
  const id = await placed(u);
  assert.equal((await cancel(s1, u, id)).status, 200);
  const st = watch(s1, `/orders/${id}/events`, u.h);
  await waitFor(() => st.ended, 5000, 'the stream to end');
  assert.deepEqual(statuses(st), ['cancelled']);
  assert.deepEqual(ids(st), ['2']);
});

test('cancel ends the stream; admins may watch any order; others get 404 and no stream', async () => {
  const u = w.user(), v = w.user();
  const id = await placed(u);
  const mine = watch(s1, `/orders/${id}/events`, u.h);
  const admin = watch(s2, `/orders/${id}/events`, ADMIN);
  const other = await send(s1, 'GET', `/orders/${id}/events`, v.h);
  assert.equal(other.status, 404);
  assert.equal(other.headers['content-type'], 'application/problem+json');
  assert.equal((await send(s1, 'GET', `/orders/${id}/events`, {})).status, 401);
  assert.equal((await send(s1, 'GET', '/orders/01a2000000000000deadbeef/events', u.h)).status, 404);
  await waitFor(() => mine.events.length === 1 && admin.events.length === 1, 5000, 'first events');
  assert.equal((await cancel(s2, u, id)).status, 200);
  await waitFor(() => mine.ended && admin.ended, 5000, 'both streams to end');
  for (const st of [mine, admin]) {
    assert.deepEqual(statuses(st), ['placed', 'cancelled']);
    assert.deepEqual(ids(st), ['1', '2']);
  }
});

test('heartbeat comments keep an idle stream open', async () => {
  const u = w.user();
  const id = await placed(u);
  const st = watch(s1, `/orders/${id}/events`, u.h);
  await waitFor(() => st.events.length === 1, 5000, 'the first event');
  const before = st.comments;
  await waitFor(() => st.comments >= before + 2, 5000, 'two heartbeats');
  assert.equal(st.ended, false);
  st.req.close();
  assert.equal((await cancel(s1, u, id)).status, 200, 'a change after the client left is fine');
});

// (cancels race the worker here on purpose: not on FerretDB v1)
test('many streams over HTTP/2 on two servers: each sees exactly its order\'s changes, in order',
  { skip: skipWithoutAtomicUpdates() }, async () => {
  const users = Array.from({ length: 40 }, () => w.user());
  const orders = [];
  for (const u of users) orders.push(await placed(u));
  // 160 streams: every order watched twice on each server (h2o allows 100 per connection)
  const extra = [w.session(h1), w.session(h2)];
  const sessions = [s1, s2, ...extra];
  const streams = [];
  orders.forEach((id, i) => {
    for (let j = 0; j < 4; j++) streams.push({ i, st: watch(sessions[j], `/orders/${id}/events`, users[i].h) });
  });
  await waitFor(() => streams.every(({ st }) => st.events.length === 1), 10000, 'all streams open');
  // half are cancelled, half go all the way; changes interleave across orders
  const worker = await w.start({ roles: ['worker'] });
  await Promise.all(orders.map(async (id, i) => {
    if (i % 2) return assert.equal((await cancel(i % 4 === 1 ? s1 : s2, users[i], id)).status, 200);
    await waitStatus(s1, id, 'confirmed');
    for (const to of ['packed', 'out_for_delivery', 'delivered'])
      assert.equal((await setStatus(i % 4 ? s1 : s2, id, to)).status, 200);
  }));
  await waitFor(() => streams.every(({ st }) => st.ended), 15000, 'every stream to end');
  for (const { i, st } of streams) {
    const want = i % 2 ? ['placed', 'cancelled'] : ['placed', 'confirmed', 'packed', 'out_for_delivery', 'delivered'];
    const got = statuses(st);
    // a cancel can beat the worker's confirm, or follow it
    if (i % 2 && got.length === 3) want.splice(1, 0, 'confirmed');
    assert.deepEqual(got, want, `order ${orders[i]}`);
    assert.deepEqual(ids(st), want.map((_, n) => String(n + 1)));
  }
  await worker.stop();
  await assertStock(s1, p.id, 1000);
});
