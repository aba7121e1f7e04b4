// Worker pool, cancellation, authentication hook, error mapping, drain.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { startKirana, baseConfig, FIXTURES, PLUGINS, h2req, h2connect, curl, sleep, parseMetrics, waitFor } from '../lib/harness.mjs';

const testkit = (config = {}) => ({ name: 'testkit', path: `${FIXTURES}/testkit.so`, mount: '/t', config });

test('a full pool answers 503 with Retry-After, then recovers', async () => {
  const k = await startKirana(baseConfig({ server: { workers: 1, queue_depth: 2 }, plugins: [testkit()] }));
  try {
    const s = h2connect(k.url);
    const slow = Array.from({ length: 3 }, () => h2req(s, { path: '/t/sleep?ms=700' }));
    await sleep(150);
    const busy = await h2req(k.url, { path: '/t/sleep?ms=1' });
    assert.equal(busy.status, 503);
    assert.equal(busy.headers['retry-after'], '1');
    assert.equal(busy.json.code, 'overloaded');
    const done = await Promise.all(slow);
    done.forEach((r) => assert.equal(r.status, 200));
    s.close();
    assert.equal((await h2req(k.url, { path: '/t/sleep?ms=1' })).status, 200);
    const m = parseMetrics((await h2req(k.url, { path: '/metrics' })).body);
    assert.ok(m.kirana_http_rejected_total >= 1);
  } finally { await k.stop(); k.cleanup(); }
});

test('a reset HTTP/2 stream cancels the request; the late answer is dropped safely', async () => {
  const k = await startKirana(baseConfig({ server: { workers: 2 }, plugins: [testkit()] }));
  try {
    for (let round = 0; round < 3; round++) {
      const s = h2connect(k.url);
      const reqs = Array.from({ length: 20 }, () => s.request({ ':path': '/t/sleep?ms=400' }));
      reqs.forEach((r) => r.on('error', () => {}));
      await sleep(50);
      reqs.forEach((r) => r.close(http2.constants.NGHTTP2_CANCEL));
      await sleep(50);
      s.destroy();
    }
    await waitFor(async () => {
      const m = parseMetrics((await h2req(k.url, { path: '/metrics' })).body);
      return m.kirana_http_cancelled_total >= 20 && m.kirana_http_requests_in_flight === 0;
    }, 10000, 'cancelled requests to drain');
    const r = await h2req(k.url, { path: '/t/sleep?ms=1' });
    assert.equal(r.status, 200);
    assert.equal(r.json.cancelled, false);
  } finally {
    const e = await k.stop();
    k.cleanup();
    assert.equal(e.code, 0, 'no crash or leak report at exit');
  }
});

test('handler errors map to problem responses; a handler that never answers is a 500', async () => {
  const k = await startKirana(baseConfig({ plugins: [testkit()] }));
  try {
    const cases = [[1, 400, 'invalid_request'], [2, 404, 'not_found'], [3, 409, 'duplicate'], [4, 409, 'conflict'],
      [5, 503, 'unavailable'], [8, 413, 'too_large'], [11, 429, 'rate_limited'], [12, 422, 'unprocessable'], [7, 500, 'internal']];
    for (const [code, status, name] of cases) {
      const r = await h2req(k.url, { path: `/t/error/${code}` });
      assert.equal(r.status, status, `KR error -${code}`);
      assert.equal(r.json.code, name);
      assert.equal(r.headers['content-type'], 'application/problem+json');
    }
    const n = await h2req(k.url, { path: '/t/noreply' });
    assert.equal(n.status, 500);
    assert.equal(n.json.code, 'internal');
    await k.waitLog((l) => /returned without answering/.test(l.msg || ''));
  } finally { await k.stop(); k.cleanup(); }
});

test('response headers from plugins are validated (no header injection)', async () => {
  const k = await startKirana(baseConfig({ plugins: [testkit()] }));
  try {
    const ok = await h2req(k.url, { path: '/t/header?v=fine' });
    assert.equal(ok.headers['x-custom'], 'fine');
    const bad = await h2req(k.url, { path: '/t/header?v=a%0d%0aset-cookie:%20x' });
    assert.equal(bad.status, 400);
    assert.equal(bad.headers['set-cookie'], undefined);
  } finally { await k.stop(); k.cleanup(); }
});

test('authenticator: 401 with WWW-Authenticate, 403 for the wrong role, principal passed', async () => {
  const k = await startKirana(baseConfig({ plugins: [testkit({ authenticator: true })] }));
  try {
    const none = await h2req(k.url, { path: '/t/user' });
    assert.equal(none.status, 401);
    assert.equal(none.headers['www-authenticate'], 'Bearer');
    assert.equal(none.json.code, 'unauthorized');
    const bad = await h2req(k.url, { path: '/t/user', headers: { authorization: 'Bearer nope' } });
    assert.equal(bad.status, 401);
    const user = await h2req(k.url, { path: '/t/user', headers: { authorization: 'Bearer test-user-u1' } });
    assert.equal(user.status, 200);
    assert.deepEqual(user.json, { user: { id: 'u1', role: 'user' } });
    const forbidden = await h2req(k.url, { path: '/t/admin', headers: { authorization: 'Bearer test-user-u1' } });
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.json.code, 'forbidden');
    const admin = await h2req(k.url, { path: '/t/admin', headers: { authorization: 'Bearer test-admin-a1' } });
    assert.deepEqual(admin.json, { user: { id: 'a1', role: 'admin' } });
    const anon = await h2req(k.url, { path: '/t/whoami' });
    assert.deepEqual(anon.json, { user: null });
    const opt = await h2req(k.url, { path: '/t/whoami', headers: { authorization: 'Bearer test-user-u2' } });
    assert.deepEqual(opt.json, { user: { id: 'u2', role: 'user' } });
  } finally { await k.stop(); k.cleanup(); }
});

test('client IP: socket peer unless trusted proxy hops are configured', async () => {
  const body = { a: 1 };
  const k0 = await startKirana(baseConfig({ plugins: [testkit()] }));
  try {
    const r = await h2req(k0.url, { method: 'POST', path: '/t/echo', body, headers: { 'x-forwarded-for': '203.0.113.9' } });
    assert.equal(r.json.ip, '127.0.0.1', 'X-Forwarded-For ignored without trusted hops');
  } finally { await k0.stop(); k0.cleanup(); }
  const k1 = await startKirana(baseConfig({ server: { trusted_proxy_hops: 1 }, plugins: [testkit()] }));
  try {
    const r = await h2req(k1.url, { method: 'POST', path: '/t/echo', body, headers: { 'x-forwarded-for': '198.51.100.7, 203.0.113.9' } });
    assert.equal(r.json.ip, '203.0.113.9', 'the address the trusted proxy saw, not the client-supplied one');
    const junk = await h2req(k1.url, { method: 'POST', path: '/t/echo', body, headers: { 'x-forwarded-for': 'not-an-ip' } });
    assert.equal(junk.json.ip, '127.0.0.1');
  } finally { await k1.stop(); k1.cleanup(); }
});

test('SIGTERM drains: in-flight requests finish, new connections are refused, exit 0', async () => {
  const k = await startKirana(baseConfig({ server: { workers: 4, shutdown_timeout_ms: 5000 }, plugins: [testkit()] }));
  const s = h2connect(k.url);
  const inflight = Array.from({ length: 4 }, () => h2req(s, { path: '/t/sleep?ms=600' }));
  await sleep(100);
  k.proc.kill('SIGTERM');
  const rs = await Promise.all(inflight);
  rs.forEach((r) => assert.equal(r.status, 200));
  s.close();
  const e = await waitFor(() => k.exited, 10000, 'exit');
  assert.equal(e.code, 0);
  const after = await curl(['--http2-prior-knowledge', '--max-time', '2', `${k.url}/healthz`]);
  assert.notEqual(after.code, 0, 'nothing listens after exit');
  assert.ok(k.lines.some((l) => /SIGTERM: draining/.test(l.msg || '')));
  k.cleanup();
});
