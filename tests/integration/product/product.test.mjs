// product.so over HTTP/2 against a real kirana, its database (PostgreSQL, or
// MongoDB under KIRANA_TEST_DB=mongo) and Redis: the
// catalogue's views by role, admin-only writes, validation, deactivation,
// guarded restocks, search and keyset pagination (also while products are
// being inserted). testkit is the authenticator: "Bearer test-<role>-<id>".
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startKirana, baseConfig, serversEnv, FIXTURES, h2req, h2connect } from '../lib/harness.mjs';
import { freshDatabase } from '../lib/db.mjs';
import { inspector, skipWithoutAtomicUpdates } from '../lib/inspect.mjs';

const ADMIN = { authorization: 'Bearer test-admin-a1' };
const USER = { authorization: 'Bearer test-user-u1' };
const PUBLIC_KEYS = ['category', 'description', 'id', 'image_url', 'name', 'price', 'stock', 'unit'];
const ADMIN_KEYS = [...PUBLIC_KEYS, 'active', 'commits', 'committed', 'created_at', 'holds', 'reserved', 'shipped',
  'updated_at'].sort();

let k, db, s;

before(async () => {
  const env = serversEnv();
  db = await freshDatabase('product');
  k = await startKirana(baseConfig({
    server: { workers: 8 },
    db: { uri: db.uri },
    redis: { url: env.KIRANA_TEST_REDIS_URL },
    plugins: [
      { name: 'testkit', path: `${FIXTURES}/testkit.so`, mount: '/t', config: { authenticator: true } },
      { name: 'product', path: 'product.so', mount: '/products' },
    ],
  }));
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

const get = (path, headers = {}) => h2req(s, { path, headers });
const send = (method, path, body, headers = ADMIN) =>
  h2req(s, { method, path, headers: { 'content-type': 'application/json', ...headers }, body });

async function create(fields) {
  const r = await send('POST', '/products', fields);
  assert.equal(r.status, 201, r.body);
  return r.json;
}

const fieldsOf = (r) => r.json.errors.map((e) => e.field).sort();

test('POST /products: 201, Location, admin view, initialised bookkeeping', async () => {
  const r = await send('POST', '/products', { name: 'Toor dal', price: 14500, stock: 40, unit: '1 kg',
    category: 'staples', image_url: 'https://cdn.example/toor.png', description: 'Unpolished' });
  assert.equal(r.status, 201, r.body);
  assert.equal(r.headers.location, `/products/${r.json.id}`);
  assert.equal(typeof r.json.id, 'string');
  assert.deepEqual(Object.keys(r.json).sort(), ADMIN_KEYS);
  assert.deepEqual([r.json.stock, r.json.reserved, r.json.committed, r.json.shipped], [40, 0, 0, 0]);
  assert.deepEqual([r.json.holds, r.json.commits, r.json.active], [[], [], true]);
  assert.match(r.json.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

  const pub = await get(r.headers.location);
  assert.equal(pub.status, 200);
  assert.deepEqual(Object.keys(pub.json).sort(), PUBLIC_KEYS);
  assert.equal(pub.json.price, 14500);
  assert.equal((await get(r.headers.location, USER)).json.reserved, undefined, 'users get the public view');
  const forged = await get(r.headers.location, { authorization: 'Bearer test-admin' });
  assert.deepEqual([forged.status, Object.keys(forged.json).sort()], [200, PUBLIC_KEYS], 'a bad token is no token');
  assert.deepEqual(Object.keys((await get(r.headers.location, ADMIN)).json).sort(), ADMIN_KEYS);

  const d = await create({ name: 'Plain', price: 1 });
  assert.deepEqual([d.stock, d.active, d.description, d.unit, d.category, d.image_url], [0, true, null, null, null, null]);
});

test('admin routes: 401 without a token, 403 for users; nothing changes', async () => {
  const p = await create({ name: 'Guarded', price: 500, stock: 5 });
  const writes = [['POST', '/products', { name: 'x', price: 1 }], ['PATCH', `/products/${p.id}`, { price: 1 }],
    ['DELETE', `/products/${p.id}`, undefined], ['POST', `/products/${p.id}/stock`, { delta: 100 }]];
  for (const [method, path, body] of writes) {
    const anon = await send(method, path, body, {});
    assert.equal(anon.status, 401, `${method} ${path}`);
    assert.equal(anon.headers['content-type'], 'application/problem+json');
    assert.equal((await send(method, path, body, USER)).status, 403, `${method} ${path}`);
    assert.equal((await send(method, path, body, { authorization: 'Bearer forged' })).status, 401);
  }
  const now = (await get(`/products/${p.id}`, ADMIN)).json;
  assert.deepEqual([now.price, now.stock, now.active], [500, 5, true]);
});

test('validation: types, ranges, lengths, unknown and read-only fields are 400 naming the field', async () => {
  const bad = [
    [{ price: 100 }, ['name']],
    [{ name: 'x' }, ['price']],
    [{ name: '', price: 100 }, ['name']],
    [{ name: '   ', price: 100 }, ['name']],
    [{ name: 'x'.repeat(201), price: 100 }, ['name']],
    [{ name: 7, price: 100 }, ['name']],
    [{ name: 'x', price: 0 }, ['price']],
    [{ name: 'x', price: -5 }, ['price']],
    [{ name: 'x', price: 12.5 }, ['price']],
    [{ name: 'x', price: '100' }, ['price']],
    [{ name: 'x', price: 1000000001 }, ['price']],
    [{ name: 'x', price: 1, stock: -1 }, ['stock']],
    [{ name: 'x', price: 1, stock: 2.5 }, ['stock']],
    [{ name: 'x', price: 1, active: 'yes' }, ['active']],
    [{ name: 'x', price: 1, unit: 'u'.repeat(33) }, ['unit']],
    [{ name: 'x', price: 1, category: '' }, ['category']],
    [{ name: 'x', price: 1, description: 'd'.repeat(2001) }, ['description']],
    [{ name: 'x', price: 1, image_url: 'javascript:alert(1)' }, ['image_url']],
    [{ name: 'x', price: 1, reserved: 5 }, ['reserved']],
    [{ name: 'x', price: 1, holds: [] }, ['holds']],
    [{ name: 'x', price: 1, _id: 'mine' }, ['_id']],
    [{ name: 'x', price: 1, id: 'mine' }, ['id']],
    [{ name: 'x', price: 1, is_admin: true }, ['is_admin']],
    [{ name: 'x\u0007', price: 0, colour: 'red' }, ['colour', 'name', 'price']],
  ];
  for (const [body, fields] of bad) {
    const r = await send('POST', '/products', body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.json.code, 'validation_failed');
    assert.deepEqual(fieldsOf(r), fields, JSON.stringify(body));
  }
  assert.equal((await send('POST', '/products', { name: 'x'.repeat(200), price: 1000000000 })).status, 201);
  for (const raw of ['[1,2]', '"text"', '{"name":', '']) {
    const r = await send('POST', '/products', raw);
    assert.equal(r.status, 400, raw);
  }
  const list = await get('/products?limit=100&include_inactive=true', ADMIN);
  assert.ok(!list.json.items.some((p) => p.name === 'x'), 'nothing was stored');
});

test('PATCH: partial update of writable fields; stock and bookkeeping are not writable', async () => {
  const p = await create({ name: 'Ghee', price: 60000, description: 'Pure', unit: '1 L', stock: 9 });
  let r = await send('PATCH', `/products/${p.id}`, { price: 58000, description: null, name: 'Cow ghee' });
  assert.equal(r.status, 200, r.body);
  assert.deepEqual([r.json.name, r.json.price, r.json.description, r.json.unit, r.json.stock],
    ['Cow ghee', 58000, null, '1 L', 9]);
  assert.ok(r.json.updated_at >= p.updated_at);
  assert.equal(r.json.created_at, p.created_at);
  for (const [body, field] of [[{ stock: 100 }, 'stock'], [{ reserved: 1 }, 'reserved'], [{ committed: 0 }, 'committed'],
    [{ price: null }, 'price'], [{ name: null }, 'name'], [{ price: 1.5 }, 'price'], [{ unknown: 1 }, 'unknown'],
    [{ created_at: 'x' }, 'created_at']]) {
    r = await send('PATCH', `/products/${p.id}`, body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.deepEqual(fieldsOf(r), [field]);
  }
  assert.match((await send('PATCH', `/products/${p.id}`, { stock: 1 })).json.errors[0].message, /\/stock/);
  r = await get(`/products/${p.id}`, ADMIN);
  assert.deepEqual([r.json.stock, r.json.price], [9, 58000]);
  assert.equal((await send('PATCH', '/products/000000000000000000000000', { price: 5 })).status, 404);
});

test('DELETE deactivates: 204; hidden from the public and users; admins still see it', async () => {
  const p = await create({ name: 'Zzz discontinued', price: 100, stock: 2 });
  const r = await send('DELETE', `/products/${p.id}`);
  assert.equal(r.status, 204);
  assert.equal(r.body, '');
  assert.equal((await get(`/products/${p.id}`)).status, 404);
  assert.equal((await get(`/products/${p.id}`, USER)).status, 404);
  const a = await get(`/products/${p.id}`, ADMIN);
  assert.equal(a.status, 200);
  assert.equal(a.json.active, false);
  const pub = await get('/products?q=discontinued');
  assert.deepEqual(pub.json.items, []);
  const adm = await get('/products?q=discontinued', ADMIN);
  assert.deepEqual(adm.json.items, [], 'admins too see active products unless they ask');
  const inc = await get('/products?q=discontinued&include_inactive=true', ADMIN);
  assert.deepEqual(inc.json.items.map((i) => [i.id, i.active]), [[p.id, false]]);
  assert.equal((await get('/products?include_inactive=true', USER)).status, 403);
  assert.equal((await get('/products?include_inactive=true')).status, 401);
  assert.equal((await get('/products?include_inactive=maybe', ADMIN)).status, 400);
  assert.equal((await send('DELETE', `/products/${p.id}`)).status, 204, 'idempotent');
  assert.equal((await send('DELETE', '/products/000000000000000000000000')).status, 404);
  assert.equal((await send('PATCH', `/products/${p.id}`, { active: true })).status, 200);
  assert.equal((await get(`/products/${p.id}`)).status, 200, 'reactivated by PATCH');
  assert.equal((await get('/products/no-such-id')).status, 404);
  assert.equal((await get(`/products/${'x'.repeat(300)}`)).status, 404);
});

test('restock: admin view back; never below 0', async () => {
  const p = await create({ name: 'Rice 5 kg', price: 45000, stock: 3 });
  let r = await send('POST', `/products/${p.id}/stock`, { delta: 7 });
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(Object.keys(r.json).sort(), ADMIN_KEYS);
  assert.equal(r.json.stock, 10);
  r = await send('POST', `/products/${p.id}/stock`, { delta: -11 });
  assert.equal(r.status, 409);
  assert.equal(r.json.code, 'insufficient_stock');
  assert.equal(r.json.stock, 10);
  for (const body of [{ delta: 0 }, { delta: 1.5 }, { delta: '5' }, {}, { delta: 1, note: 'x' }]) {
    assert.equal((await send('POST', `/products/${p.id}/stock`, body)).status, 400, JSON.stringify(body));
  }
  assert.equal((await send('POST', '/products/000000000000000000000000/stock', { delta: 1 })).status, 404);
});

test('restock: concurrent takes are all-or-nothing', { skip: skipWithoutAtomicUpdates() }, async () => {
  const p = await create({ name: 'Rice 10 kg', price: 85000, stock: 10 });
  const results = await Promise.all(Array.from({ length: 25 }, () => send('POST', `/products/${p.id}/stock`, { delta: -1 })));
  const codes = results.map((x) => x.status).sort();
  assert.equal(codes.filter((c) => c === 200).length, 10);
  assert.equal(codes.filter((c) => c === 409).length, 15);
  assert.equal((await get(`/products/${p.id}`, ADMIN)).json.stock, 0);
});

test('list: public view, name order, limit bounds, search and category', async () => {
  const cat = `cat-${Date.now()}`;
  for (const [name, price] of [['Banana robusta', 4000], ['apple shimla', 18000], ['Mango (alphonso)', 90000],
    ['Green apple', 22000], ['a.c', 1], ['abc', 1]]) await create({ name, price, category: cat, stock: 1 });
  let r = await get(`/products?category=${cat}`);
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.json).sort(), ['items', 'next_cursor']);
  assert.equal(r.json.next_cursor, null);
  const names = r.json.items.map((i) => i.name);
  assert.deepEqual(names, ['Banana robusta', 'Green apple', 'Mango (alphonso)', 'a.c', 'abc', 'apple shimla'],
    'code-point order of the name, stable');
  r.json.items.forEach((i) => assert.deepEqual(Object.keys(i).sort(), PUBLIC_KEYS));
  r = await get(`/products?category=${cat}&q=APPLE`);
  assert.deepEqual(r.json.items.map((i) => i.name), ['Green apple', 'apple shimla']);
  r = await get(`/products?category=${cat}&q=${encodeURIComponent('(alphonso)')}`);
  assert.deepEqual(r.json.items.map((i) => i.name), ['Mango (alphonso)'], 'regex characters are literal');
  r = await get(`/products?category=${cat}&q=a.c`);
  assert.deepEqual(r.json.items.map((i) => i.name), ['a.c']);
  r = await get(`/products?category=${cat}&q=${encodeURIComponent('.*')}`);
  assert.deepEqual(r.json.items, []);
  r = await get(`/products?category=${cat}&q=`);
  assert.equal(r.json.items.length, 6, 'an empty q is no search');
  r = await get(`/products?category=${cat}&limit=2`);
  assert.equal(r.json.items.length, 2);
  assert.equal(typeof r.json.next_cursor, 'string');
  r = await get('/products?category=nothing-here');
  assert.deepEqual(r.json, { items: [], next_cursor: null });

  for (const limit of ['0', '101', '-1', 'abc', '1.5', '']) {
    const bad = await get(`/products?limit=${limit}`);
    assert.equal(bad.status, 400, `limit=${limit}`);
    assert.deepEqual(fieldsOf(bad), ['limit']);
  }
  for (const cursor of ['garbage!', 'WzEsMl0', 'eyJhIjoxfQ', 'A'.repeat(3000)]) {
    const bad = await get(`/products?cursor=${cursor}`);
    assert.equal(bad.status, 400, `cursor=${cursor}`);
    assert.deepEqual(fieldsOf(bad), ['cursor']);
  }
  assert.equal((await get(`/products?q=${'q'.repeat(101)}`)).status, 400);
  const bulk = `bulk-${Date.now()}`;
  for (let i = 0; i < 22; i++) await create({ name: `Bulk ${i}`, price: 100, category: bulk });
  assert.equal((await get(`/products?category=${bulk}`)).json.items.length, 20, 'default limit');
  assert.equal((await get(`/products?category=${bulk}&limit=100`)).json.items.length, 22);
  assert.equal((await get(`/products?category=${bulk}&limit=1`)).json.items.length, 1);
});

// Walks the whole list; returns the items in the order served.
async function walk(query, limit, between = async () => {}) {
  const seen = [];
  let cursor = null;
  for (let page = 0; page < 1000; page++) {
    const r = await get(`/products?limit=${limit}${query}${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(r.status, 200, r.body);
    assert.ok(r.json.items.length <= limit);
    seen.push(...r.json.items);
    cursor = r.json.next_cursor;
    if (cursor === null) return seen;
    await between(page);
  }
  throw new Error('the walk did not end');
}

function assertOrdered(items) {
  const key = (i) => [Buffer.from(i.name), Buffer.from(i.id)];
  for (let i = 1; i < items.length; i++) {
    const [an, ai] = key(items[i - 1]);
    const [bn, bi] = key(items[i]);
    const c = Buffer.compare(an, bn) || Buffer.compare(ai, bi);
    assert.ok(c < 0, `strictly increasing at ${i}: ${items[i - 1].name} / ${items[i].name}`);
  }
}

test('pagination: inserts between and during pages never repeat or skip a product', async () => {
  const cat = `walk-${Date.now()}`;
  const pad = (n) => String(n).padStart(3, '0');
  const original = [];
  // 40 products, two per even name so ids break ties
  for (let i = 0; i < 40; i += 2) {
    for (let j = 0; j < 2; j++) original.push((await create({ name: `Item ${pad(i)}`, price: 100, category: cat })).id);
  }
  // Between pages: insert one name before the cursor and one after it.
  let n = 1;
  const inserted = [];
  const seen = await walk(`&category=${cat}`, 7, async () => {
    inserted.push((await create({ name: `Item ${pad(n)}`, price: 100, category: cat })).id); // behind or near
    inserted.push((await create({ name: `Item ${pad(80 - n)}`, price: 100, category: cat })).id); // ahead
    inserted.push((await create({ name: 'Aaa first', price: 100, category: cat })).id); // always behind
    n += 2;
  });
  const ids = seen.map((i) => i.id);
  assert.equal(new Set(ids).size, ids.length, 'no product served twice');
  for (const id of original) assert.ok(ids.includes(id), `original ${id} not skipped`);
  assertOrdered(seen);
  assert.ok(seen.some((i) => i.name === `Item ${pad(80 - 1)}`), 'an insert ahead of the cursor is seen');
  assert.ok(!seen.some((i) => i.name === 'Aaa first'), 'an insert behind the cursor is not');

  // During pages: a stream of concurrent inserts while two walks run.
  // Each walk waits for one more insert between its pages, so inserts land
  // during the walks however fast pages are; the writer stops after
  // MAX_INSERTS so that the walks, which see the inserts ahead of their
  // cursor, always reach the end.
  const MAX_INSERTS = 40;
  let stop = false, made = 0;
  const writer = (async () => {
    while (!stop && made < MAX_INSERTS) {
      await create({ name: `Item ${pad(made % 100)}x`, price: 100, category: cat });
      made++;
    }
    return made;
  })();
  const nextInsert = async () => {
    const at = made;
    for (let t = 0; made === at && made < MAX_INSERTS && t < 1000; t++) await new Promise((r) => setTimeout(r, 10));
  };
  const [w1, w2] = await Promise.all([walk(`&category=${cat}`, 5, nextInsert), walk(`&category=${cat}`, 9, nextInsert)]);
  stop = true;
  assert.ok((await writer) >= 3, 'inserts ran while the walks did');
  for (const w of [w1, w2]) {
    const wid = w.map((i) => i.id);
    assert.equal(new Set(wid).size, wid.length, 'no product served twice');
    for (const id of [...original, ...inserted]) assert.ok(wid.includes(id), `existing ${id} not skipped`);
    assertOrdered(w);
  }
});

test('indexes exist for the list queries (category + name, active)', async () => {
  const ins = await inspector(db);
  try {
    const keys = (await ins.indexes('products')).map((i) => JSON.stringify(Object.entries(i.keys)));
    assert.ok(keys.includes(JSON.stringify([['category', 1], ['name', 1]])), keys.join(' '));
    assert.ok(keys.includes(JSON.stringify([['active', 1]])), keys.join(' '));
  } finally { await ins.close(); }
});
