// Attack suite, part 1: attacks on the HTTP API of one real system (auth,
// product, cart, order; PostgreSQL, Redis, the queue; HTTP/2 clients; real
// logins and tokens). Every subtest asserts the refusal (status and problem
// code) and that nothing changed. tests/hardening/ATTACKS.md maps each one
// to the deliberate breakage (tests/hardening/mutants.sh) that makes it fail.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ADDRESS, ADMIN_PHONE, SECRET, claims, hmacJwt, refused, rsaJwt, startWorld, waitFor } from './world.mjs';

let w, admin, alice, bob, bobLoginAt, p1, pBig, aliceOrder;

const MAX_BODY = 65536;
const MAX_DEPTH = 16;
const RESEND_AFTER = 2; // s, short so the enumeration test can wait it out

before(async () => {
  w = await startWorld({
    auth: { otp: { resend_after: RESEND_AFTER } },
    server: { max_body: MAX_BODY, max_json_depth: MAX_DEPTH, trusted_proxy_hops: 0,
      cors: { allow_origins: ['https://shop.example'], allow_headers: ['authorization', 'content-type'], max_age: 600 } },
  });
  admin = await w.login(ADMIN_PHONE);
  assert.equal(claims(admin.token).role, 'admin');
  alice = await w.login();
  bob = await w.login();
  bobLoginAt = Date.now();
  p1 = await newProduct({ price: 2500, stock: 100 });
  pBig = await newProduct({ price: 1000000000, stock: 1000000000 });
  // Alice has an order (confirmed by the worker) and, afterwards, a cart.
  assert.equal((await w.req('POST', '/cart/items', { token: alice.token, body: { product_id: p1.id, qty: 2 } })).status, 200);
  const o = await w.req('POST', '/orders', { token: alice.token, headers: { 'idempotency-key': 'alice-1' },
    body: { address: ADDRESS } });
  assert.equal(o.status, 201, o.body);
  aliceOrder = o.json;
  await waitFor(async () => (await adminOrder(aliceOrder.id)).status === 'confirmed', 15000, 'order confirmed');
  assert.equal((await w.req('POST', '/cart/items', { token: alice.token, body: { product_id: p1.id, qty: 3 } })).status, 200);
});

after(async () => { if (w) await w.close(); });

async function newProduct(fields) {
  const r = await w.req('POST', '/products', { token: admin.token,
    body: { name: `P ${randomBytes(4).toString('hex')}`, ...fields } });
  assert.equal(r.status, 201, r.body);
  return r.json;
}

async function adminProduct(id) {
  const r = await w.req('GET', `/products/${id}`, { token: admin.token });
  assert.equal(r.status, 200, r.body);
  return r.json;
}

async function adminOrder(id) {
  const r = await w.req('GET', `/orders/${id}`, { token: admin.token });
  assert.equal(r.status, 200, r.body);
  return r.json;
}

async function cartOf(u) {
  const r = await w.req('GET', '/cart', { token: u.token });
  assert.equal(r.status, 200, r.body);
  return r.json;
}

async function ordersOf(u) {
  const r = await w.req('GET', '/orders?limit=100', { token: u.token });
  assert.equal(r.status, 200, r.body);
  return r.json.items;
}

/** Raw JSON text (so 2.0 stays 2.0 and huge numbers keep their digits). */
const raw = (text) => ({ body: text, headers: { 'content-type': 'application/json' } });

/** The refusal of a protected route: 401 with WWW-Authenticate: Bearer. */
function unauthorized(r, what) {
  refused(r, 401, 'unauthorized', what);
  assert.match(String(r.headers['www-authenticate']), /^Bearer/i, `${what}: WWW-Authenticate`);
}

// ---------------------------------------------------------------- OTP

test('OTP brute force: five wrong codes kill the code; the right one then fails; no token issued', async () => {
  const phone = w.phone();
  assert.equal((await w.req('POST', '/auth/send-otp', { body: { phone } })).status, 202);
  const code = await w.code(phone, 1);
  for (let i = 1; i <= 5; i++) {
    const wrong = String((Number(code) + i) % 1000000).padStart(6, '0');
    const r = await w.req('POST', '/auth/verify-otp', { body: { phone, code: wrong } });
    refused(r, 401, 'otp_invalid', `wrong guess ${i}`);
    assert.doesNotMatch(r.body, /access_token/);
  }
  const r = await w.req('POST', '/auth/verify-otp', { body: { phone, code } });
  refused(r, 401, 'otp_invalid', 'right code after five wrong ones');
  assert.doesNotMatch(r.body, /access_token|refresh_token/);
});

test('OTP enumeration: never-sent, wrong and killed codes, new and known phones answer alike', async () => {
  const strip = (r) => { const j = { ...r.json }; delete j.instance; delete j.request_id; return { s: r.status, j }; };
  const fresh = w.phone();
  const neverSent = await w.req('POST', '/auth/verify-otp', { body: { phone: fresh, code: '123456' } });
  refused(neverSent, 401, 'otp_invalid', 'never sent');
  const phone = w.phone();
  assert.equal((await w.req('POST', '/auth/send-otp', { body: { phone } })).status, 202);
  const code = await w.code(phone, 1);
  const wrong = await w.req('POST', '/auth/verify-otp', { body: { phone, code: code === '000000' ? '000001' : '000000' } });
  assert.deepEqual(strip(wrong), strip(neverSent), 'wrong code answers like a never-sent one');
  // send-otp to a known user's phone answers like one to a new phone (once
  // bob's login is out of the resend cool-down).
  await waitFor(() => Date.now() > bobLoginAt + RESEND_AFTER * 1000 + 100, RESEND_AFTER * 1000 + 1000, 'cool-down');
  const known = await w.req('POST', '/auth/send-otp', { body: { phone: bob.phone } });
  const unknown = await w.req('POST', '/auth/send-otp', { body: { phone: w.phone() } });
  assert.equal(known.status, 202, known.body);
  assert.deepEqual(known.json, unknown.json, 'known vs new phone');
});

test('OTP resend abuse: a second send in the cool-down is 429 with Retry-After and sends nothing', async () => {
  const phone = w.phone();
  assert.equal((await w.req('POST', '/auth/send-otp', { body: { phone } })).status, 202);
  const code = await w.code(phone, 1);
  for (let i = 0; i < 3; i++) {
    const r = await w.req('POST', '/auth/send-otp', { body: { phone } });
    refused(r, 429, 'rate_limited', `resend ${i + 1}`);
    assert.ok(Number(r.headers['retry-after']) > 0, `Retry-After: ${r.headers['retry-after']}`);
  }
  await new Promise((res) => setTimeout(res, 700));
  assert.equal(w.codes(phone).length, 1, 'one SMS only');
  // The first code was not replaced by the refused sends.
  const v = await w.req('POST', '/auth/verify-otp', { body: { phone, code } });
  assert.equal(v.status, 200, v.body);
});

// ---------------------------------------------------------------- tokens

/** Alice's real access-token claims with a fresh jti, then changes. */
const aliceClaims = (changes = {}) => ({ ...claims(alice.token), jti: randomBytes(16).toString('base64url'), ...changes });

test('token control: a well-formed token crafted with the server secret is accepted', async () => {
  // Shows the crafting below is right, so each refusal is for its one flaw.
  const r = await w.req('GET', '/auth/me', { token: hmacJwt({ alg: 'HS256', typ: 'JWT' }, aliceClaims()) });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.id, alice.user.id);
});

test('alg none: unsigned tokens are refused, also claiming admin', async () => {
  const before = await adminProduct(p1.id);
  for (const alg of ['none', 'None', 'NONE']) {
    const t = hmacJwt({ alg, typ: 'JWT' }, aliceClaims(), null);
    unauthorized(await w.req('GET', '/cart', { token: t }), `alg ${alg} on /cart`);
    const ta = hmacJwt({ alg, typ: 'JWT' }, aliceClaims({ role: 'admin' }), null);
    unauthorized(await w.req('POST', `/products/${p1.id}/stock`, { token: ta, body: { delta: 5 } }), `alg ${alg} restock`);
  }
  assert.deepEqual(await adminProduct(p1.id), before, 'product unchanged');
});

test('HS/RS confusion: RS256, HS384, HS512 and an HMAC signature under an RS256 header are refused', async () => {
  const c = aliceClaims();
  const tokens = {
    rs256: rsaJwt(c),
    hs384: hmacJwt({ alg: 'HS384', typ: 'JWT' }, c, SECRET, 'sha384'),
    hs512: hmacJwt({ alg: 'HS512', typ: 'JWT' }, c, SECRET, 'sha512'),
    'hmac under RS256 header': hmacJwt({ alg: 'RS256', typ: 'JWT' }, c),
    'another secret': hmacJwt({ alg: 'HS256', typ: 'JWT' }, c, `${SECRET}x`),
  };
  for (const [what, t] of Object.entries(tokens)) unauthorized(await w.req('GET', '/auth/me', { token: t }), what);
});

test('expired, not-yet-valid, wrong audience, issuer and type tokens are refused', async () => {
  const now = Math.floor(Date.now() / 1000);
  const cases = {
    expired: { iat: now - 1000, nbf: now - 1000, exp: now - 1 },
    'not yet valid (nbf)': { nbf: now + 120, exp: now + 900 },
    'issued in the future (iat)': { iat: now + 120, exp: now + 900 },
    'wrong audience': { aud: 'another-app' },
    'audience array': { aud: ['kirana-app', 'x'] },
    'wrong issuer': { iss: 'evil' },
    'refresh typ': { typ: 'refresh' },
    'role superuser': { role: 'superuser' },
    'no exp': { exp: undefined },
    'string exp': { exp: String(now + 900) },
  };
  for (const [what, ch] of Object.entries(cases)) {
    const t = hmacJwt({ alg: 'HS256', typ: 'JWT' }, aliceClaims(ch));
    unauthorized(await w.req('GET', '/auth/me', { token: t }), what);
  }
});

test('a user token whose payload was edited to role admin is refused', async () => {
  const [h, , s] = alice.token.split('.');
  const p = Buffer.from(JSON.stringify({ ...claims(alice.token), role: 'admin' })).toString('base64url');
  const before = await adminProduct(p1.id);
  unauthorized(await w.req('POST', `/products/${p1.id}/stock`, { token: `${h}.${p}.${s}`, body: { delta: 5 } }), 'tampered');
  assert.deepEqual(await adminProduct(p1.id), before);
});

test('refresh reuse: replaying a rotated refresh token revokes the whole family', async () => {
  const carol = await w.login();
  const r1 = await w.req('POST', '/auth/refresh', { body: { refresh_token: carol.refresh_token } });
  assert.equal(r1.status, 200, r1.body);
  assert.equal((await w.req('GET', '/auth/me', { token: r1.json.access_token })).status, 200);
  refused(await w.req('POST', '/auth/refresh', { body: { refresh_token: carol.refresh_token } }), 401, 'refresh_invalid',
    'replay of the rotated token');
  refused(await w.req('POST', '/auth/refresh', { body: { refresh_token: r1.json.refresh_token } }), 401, 'refresh_invalid',
    'the current token after the replay');
  unauthorized(await w.req('GET', '/auth/me', { token: r1.json.access_token }), 'access token of the revoked family');
  unauthorized(await w.req('GET', '/auth/me', { token: carol.token }), 'first access token of the revoked family');
});

// ---------------------------------------------------------------- BFLA, BOLA

test('BFLA: a user on every admin route gets 403 and nothing changes', async () => {
  const prodBefore = await adminProduct(p1.id);
  const orderBefore = await adminOrder(aliceOrder.id);
  const calls = [
    ['POST', '/products', { name: 'Evil', price: 1 }],
    ['PATCH', `/products/${p1.id}`, { price: 1 }],
    ['DELETE', `/products/${p1.id}`],
    ['POST', `/products/${p1.id}/stock`, { delta: 1000 }],
    ['GET', '/products?include_inactive=true'],
    ['PATCH', `/orders/${aliceOrder.id}/status`, { status: 'packed' }],
    ['GET', `/orders?user_id=${encodeURIComponent(alice.user.id)}`],
    ['GET', `/orders?user_id=${encodeURIComponent(bob.user.id)}`],
  ];
  for (const [method, path, body] of calls) {
    refused(await w.req(method, path, { token: alice.token, body }), 403, 'forbidden', `${method} ${path}`);
  }
  assert.deepEqual(await adminProduct(p1.id), prodBefore, 'product unchanged');
  assert.deepEqual(await adminOrder(aliceOrder.id), orderBefore, 'order unchanged');
  const list = await w.req('GET', `/products?q=Evil`, { token: admin.token });
  assert.equal(list.json.items.length, 0, 'no product created');
});

test('BOLA on orders: another user reads, cancels and streams alice\'s order only as 404', async () => {
  const before = await adminOrder(aliceOrder.id);
  const stock = await adminProduct(p1.id);
  for (const [method, path] of [['GET', `/orders/${aliceOrder.id}`], ['POST', `/orders/${aliceOrder.id}/cancel`],
    ['GET', `/orders/${aliceOrder.id}/events`]]) {
    const r = await w.req(method, path, { token: bob.token });
    refused(r, 404, 'not_found', `bob ${method} ${path}`);
    assert.doesNotMatch(r.body, new RegExp(alice.user.id), 'nothing of alice\'s in the answer');
  }
  assert.ok(!(await ordersOf(bob)).some((o) => o.id === aliceOrder.id), 'not in bob\'s list');
  assert.deepEqual(await adminOrder(aliceOrder.id), before, 'order unchanged');
  assert.deepEqual(await adminProduct(p1.id), stock, 'stock unchanged');
  // The owner still sees it: the 404 was about bob, not the id.
  assert.equal((await w.req('GET', `/orders/${aliceOrder.id}`, { token: alice.token })).status, 200);
});

test('BOLA on carts: user ids in queries, bodies and headers never reach another cart', async () => {
  const before = await cartOf(alice);
  assert.equal(before.items.length, 1);
  const q = `user_id=${encodeURIComponent(alice.user.id)}`;
  const r1 = await w.req('GET', `/cart?${q}`, { token: bob.token, headers: { 'x-user-id': alice.user.id } });
  assert.equal(r1.status, 200, r1.body);
  assert.deepEqual(r1.json.items, [], 'bob sees his own (empty) cart');
  const r2 = await w.req('POST', '/cart/items', { token: bob.token, body: { product_id: p1.id, qty: 1, user_id: alice.user.id } });
  refused(r2, 400, 'validation_failed', 'user_id in the body');
  assert.ok(r2.json.errors.some((e) => e.field === 'user_id'), r2.body);
  assert.equal((await w.req('PUT', `/cart/items/${p1.id}?${q}`, { token: bob.token, body: { qty: 0 } })).status, 200);
  assert.equal((await w.req('DELETE', `/cart/items/${p1.id}?${q}`, { token: bob.token })).status, 200);
  assert.equal((await w.req('DELETE', `/cart?${q}`, { token: bob.token })).status, 200);
  assert.deepEqual(await cartOf(alice), before, 'alice\'s cart unchanged');
});

// ---------------------------------------------------------------- mass assignment

test('mass assignment: extra fields on every writable route are refused and never stored', async () => {
  const extras = { role: 'admin', _id: 'x1', id: 'x1', user_id: bob.user.id, owner: bob.user.id, status: 'delivered',
    stock: 999, price: 1, total: 1, created_at: '2000-01-01T00:00:00.000Z', reserved: 5 };
  const order = await adminOrder(aliceOrder.id);
  const prod = await adminProduct(p1.id);
  const cart = await cartOf(alice);
  const orders = (await ordersOf(alice)).length;
  const me = (await w.req('GET', '/auth/me', { token: alice.token })).json;
  const phone = w.phone();
  const routes = [
    // [who, method, path, good body, extra fields to try (default: all of extras), headers]
    [null, 'POST', '/auth/send-otp', { phone }],
    [null, 'POST', '/auth/verify-otp', { phone, code: '123456' }],
    [null, 'POST', '/auth/refresh', { refresh_token: bob.refresh_token }],
    [alice, 'PATCH', '/auth/me', { name: 'Alice' }, [...Object.keys(extras), 'phone']],
    [admin, 'POST', '/products', { name: 'Mass', price: 100 }, Object.keys(extras).filter((f) => !['price', 'stock'].includes(f))
      .concat(['committed', 'shipped', 'holds', 'commits', 'updated_at'])],
    [admin, 'PATCH', `/products/${p1.id}`, { name: prod.name }, Object.keys(extras).filter((f) => f !== 'price')],
    [admin, 'POST', `/products/${p1.id}/stock`, { delta: 1 }],
    [alice, 'POST', '/cart/items', { product_id: p1.id, qty: 1 }],
    [alice, 'PUT', `/cart/items/${p1.id}`, { qty: 3 }],
    [alice, 'POST', '/orders', { address: ADDRESS }, [...Object.keys(extras), 'items', 'currency']],
    [admin, 'PATCH', `/orders/${aliceOrder.id}/status`, { status: 'packed' }, Object.keys(extras).filter((f) => f !== 'status')],
  ];
  for (const [who, method, path, good, fields = Object.keys(extras)] of routes) {
    for (const f of fields) {
      const value = extras[f] ?? (f === 'holds' || f === 'commits' || f === 'items' ? [] : 'x');
      const headers = path === '/orders' ? { 'idempotency-key': `mass-${f}-${randomBytes(4).toString('hex')}` } : {};
      const r = await w.req(method, path, { token: who?.token, headers, body: { ...good, [f]: value } });
      refused(r, 400, 'validation_failed', `${method} ${path} with ${f}`);
      assert.ok(r.json.errors?.some((e) => e.field === f), `${method} ${path}: errors name ${f}: ${r.body}`);
    }
  }
  // Nested: an extra field inside the order's address.
  const r = await w.req('POST', '/orders', { token: alice.token, headers: { 'idempotency-key': 'mass-nested' },
    body: { address: { ...ADDRESS, user_id: bob.user.id } } });
  refused(r, 400, 'validation_failed', 'address.user_id');
  // Nothing stored.
  assert.deepEqual(await adminOrder(aliceOrder.id), order, 'order unchanged');
  assert.deepEqual(await adminProduct(p1.id), prod, 'product unchanged');
  assert.deepEqual(await cartOf(alice), cart, 'cart unchanged');
  assert.equal((await ordersOf(alice)).length, orders, 'no order placed');
  assert.deepEqual((await w.req('GET', '/auth/me', { token: alice.token })).json, me, 'profile unchanged');
  const mass = await w.req('GET', '/products?q=Mass', { token: admin.token });
  assert.equal(mass.json.items.length, 0, 'no product created');
  const again = await w.req('POST', '/auth/refresh', { body: { refresh_token: alice.refresh_token } });
  assert.equal(again.status, 200, again.body);
  alice.refresh_token = again.json.refresh_token;
  alice.token = again.json.access_token;
  assert.equal(claims(alice.token).role, 'user', 'no role escalation persisted');
});

// ---------------------------------------------------------------- numbers

test('quantities: negative, zero, float, string, null, huge and overflowing are refused; the cart is unchanged', async () => {
  const cart = await cartOf(alice);
  const add = ['-1', '0', '1.5', '2.0', '1e2', '"2"', 'null', 'true', '[]', '1000001', '9007199254740993',
    '9223372036854775807', '-9223372036854775808'];
  for (const q of add) {
    const r = await w.req('POST', '/cart/items', { token: alice.token, ...raw(`{"product_id":"${p1.id}","qty":${q}}`) });
    refused(r, 400, 'validation_failed', `POST qty ${q}`);
    assert.ok(r.json.errors.some((e) => e.field === 'qty'), r.body);
  }
  for (const q of ['-1', '1.5', '"3"', '1000001', '9223372036854775807']) {
    const r = await w.req('PUT', `/cart/items/${p1.id}`, { token: alice.token, ...raw(`{"qty":${q}}`) });
    refused(r, 400, 'validation_failed', `PUT qty ${q}`);
  }
  for (const q of ['18446744073709551616', '1e400', '99999999999999999999999']) {
    const r = await w.req('POST', '/cart/items', { token: alice.token, ...raw(`{"product_id":"${p1.id}","qty":${q}}`) });
    assert.equal(r.status, 400, `qty ${q}: ${r.body}`);
    assert.ok(['invalid_request', 'validation_failed'].includes(r.json?.code), r.body);
  }
  assert.deepEqual(await cartOf(alice), cart, 'cart unchanged');
});

test('prices and stock deltas: negative, zero, float, string and huge are refused; the product is unchanged', async () => {
  const prod = await adminProduct(p1.id);
  const bad = ['-1', '0', '12.5', '100.0', '"100"', 'null', '1000000001', '9223372036854775807', '-9223372036854775808'];
  for (const v of bad) {
    const c = await w.req('POST', '/products', { token: admin.token, ...raw(`{"name":"Priced","price":${v}}`) });
    refused(c, 400, 'validation_failed', `create price ${v}`);
    assert.ok(c.json.errors.some((e) => e.field === 'price'), c.body);
    const p = await w.req('PATCH', `/products/${p1.id}`, { token: admin.token, ...raw(`{"price":${v}}`) });
    refused(p, 400, 'validation_failed', `patch price ${v}`);
  }
  for (const v of ['-1', '1.5', '"5"', '1000000001']) {
    const c = await w.req('POST', '/products', { token: admin.token, ...raw(`{"name":"Stocked","price":100,"stock":${v}}`) });
    refused(c, 400, 'validation_failed', `create stock ${v}`);
  }
  for (const v of ['0', '1.5', '"1"', 'null', '1000000001', '-1000000001', '9223372036854775807', '-9223372036854775808']) {
    const r = await w.req('POST', `/products/${p1.id}/stock`, { token: admin.token, ...raw(`{"delta":${v}}`) });
    refused(r, 400, 'validation_failed', `delta ${v}`);
  }
  assert.deepEqual(await adminProduct(p1.id), prod, 'product unchanged');
  for (const q of ['Priced', 'Stocked']) {
    assert.equal((await w.req('GET', `/products?q=${q}`, { token: admin.token })).json.items.length, 0, `no ${q} product`);
  }
});

test('integer overflow: totals at the limits are exact; past them refused; stock never passes its bound', async () => {
  const dave = await w.login();
  // The largest line: 10^6 x 10^9 paise = 10^15, exact.
  const c = await w.req('POST', '/cart/items', { token: dave.token, body: { product_id: pBig.id, qty: 1000000 } });
  assert.equal(c.status, 200, c.body);
  assert.equal(c.json.items[0].line_total, 1e15);
  assert.equal(c.json.total, 1e15);
  // One more unit would pass the per-line limit.
  refused(await w.req('POST', '/cart/items', { token: dave.token, body: { product_id: pBig.id, qty: 1 } }), 409, 'qty_limit');
  // A quantity whose product with the price overflows int64 (> 9.2e18 / 1e9).
  for (const q of ['9223372037', '18446744074', '9223372036854775807']) {
    const r = await w.req('PUT', `/cart/items/${pBig.id}`, { token: dave.token, ...raw(`{"qty":${q}}`) });
    refused(r, 400, 'validation_failed', `qty ${q}`);
  }
  const cart = await cartOf(dave);
  assert.equal(cart.total, 1e15, 'cart unchanged');
  // The order carries the same exact total.
  const o = await w.req('POST', '/orders', { token: dave.token, headers: { 'idempotency-key': 'dave-big' },
    body: { address: ADDRESS } });
  assert.equal(o.status, 201, o.body);
  assert.equal(o.json.total, 1e15);
  assert.equal(o.json.items[0].line_total, 1e15);
  // Restocking past 10^9 (or below 0) is refused and leaves stock alone.
  const before = await adminProduct(pBig.id);
  refused(await w.req('POST', `/products/${pBig.id}/stock`, { token: admin.token, body: { delta: 1000000000 } }), 409,
    'stock_limit', 'restock past the bound');
  refused(await w.req('POST', `/products/${pBig.id}/stock`, { token: admin.token, body: { delta: -1000000000 } }), 409,
    'insufficient_stock', 'restock below 0');
  const after = await adminProduct(pBig.id);
  assert.equal(after.stock, before.stock, 'stock unchanged');
  assert.equal(after.stock + after.reserved + after.committed + after.shipped, 1000000000, 'stock identity');
});

// ---------------------------------------------------------------- bodies

test('oversized JSON bodies are 413 and change nothing', async () => {
  const me = (await w.req('GET', '/auth/me', { token: bob.token })).json;
  const big = JSON.stringify({ name: 'x'.repeat(MAX_BODY + 10) });
  refused(await w.req('PATCH', '/auth/me', { token: bob.token, ...raw(big) }), 413, 'too_large', 'PATCH /auth/me');
  const cart = await cartOf(bob);
  const items = JSON.stringify({ product_id: p1.id, qty: 1, pad: 'y'.repeat(MAX_BODY) });
  refused(await w.req('POST', '/cart/items', { token: bob.token, ...raw(items) }), 413, 'too_large', 'POST /cart/items');
  assert.deepEqual((await w.req('GET', '/auth/me', { token: bob.token })).json, me, 'profile unchanged');
  assert.deepEqual(await cartOf(bob), cart, 'cart unchanged');
});

test('deeply nested JSON bodies are 400 and change nothing', async () => {
  const me = (await w.req('GET', '/auth/me', { token: bob.token })).json;
  const nest = (n) => `${'['.repeat(n)}${']'.repeat(n)}`;
  for (const depth of [MAX_DEPTH, 1000, 20000]) {
    const text = `{"name":${nest(depth)}}`; // the object itself is one more level
    if (text.length > MAX_BODY) continue;
    refused(await w.req('PATCH', '/auth/me', { token: bob.token, ...raw(text) }), 400, 'invalid_request', `depth ${depth + 1}`);
  }
  const deep = raw(`{"address":${'{"a":'.repeat(40)}1${'}'.repeat(40)}}`);
  refused(await w.req('POST', '/orders', { token: bob.token, body: deep.body,
    headers: { ...deep.headers, 'idempotency-key': 'deep' } }), 400, 'invalid_request', 'deep order body');
  // Within the limit it is an ordinary validation error, not a parse error.
  refused(await w.req('PATCH', '/auth/me', { token: bob.token, ...raw(`{"name":${nest(MAX_DEPTH - 2)}}`) }), 400,
    'validation_failed', `depth ${MAX_DEPTH - 1}`);
  assert.deepEqual((await w.req('GET', '/auth/me', { token: bob.token })).json, me, 'profile unchanged');
  assert.equal((await w.req('GET', '/healthz')).status, 200);
});

// ---------------------------------------------------------------- CORS, client IP

test('CORS: only the configured origin may read answers or pass a preflight', async () => {
  const ok = await w.req('GET', '/products', { headers: { origin: 'https://shop.example' } });
  assert.equal(ok.headers['access-control-allow-origin'], 'https://shop.example');
  assert.match(String(ok.headers.vary), /origin/i);
  const pre = await w.req('OPTIONS', '/cart/items', { headers: { origin: 'https://shop.example',
    'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' } });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers['access-control-allow-origin'], 'https://shop.example');
  assert.match(String(pre.headers['access-control-allow-methods']), /POST/);
  for (const origin of ['https://evil.example', 'https://shop.example.evil.example', 'https://evil-shop.example',
    'http://shop.example', 'https://shop.example:8443', 'null', 'https://shop.example/']) {
    const r = await w.req('GET', '/products', { headers: { origin } });
    assert.equal(r.headers['access-control-allow-origin'], undefined, `simple request from ${origin}`);
    assert.equal(r.headers['access-control-allow-credentials'], undefined);
    const p = await w.req('OPTIONS', '/cart/items', { headers: { origin, 'access-control-request-method': 'POST' } });
    assert.equal(p.headers['access-control-allow-origin'], undefined, `preflight from ${origin}`);
    assert.equal(p.headers['access-control-allow-methods'], undefined, `preflight from ${origin}`);
  }
  // A preflight for a method the route does not have passes nothing.
  const m = await w.req('OPTIONS', '/cart/items', { headers: { origin: 'https://shop.example',
    'access-control-request-method': 'PATCH' } });
  assert.equal(m.headers['access-control-allow-origin'], undefined);
});

test('X-Forwarded-For without trusted hops: the socket peer is the client', async () => {
  const r = await w.req('GET', '/products', { headers: { 'x-forwarded-for': '203.0.113.7' } });
  assert.equal(r.status, 200);
  const id = r.headers['x-request-id'];
  const line = await w.k.waitLog((l) => l.req === id && l.client_ip !== undefined);
  assert.equal(line.client_ip, '127.0.0.1', JSON.stringify(line));
});
