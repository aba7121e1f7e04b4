// The HTTP surface of the core: protocols, framing, errors, CORS, limits.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileP, startKirana, baseConfig, tempDir, makeCert, curl, h2req, h2connect, parseMetrics } from '../lib/harness.mjs';

let k, dir, tls;

before(async () => {
  dir = tempDir();
  const cert = await makeCert(dir);
  k = await startKirana(baseConfig({
    server: {
      listen: [{ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: 0, tls: { cert: cert.crt, key: cert.key } }],
      threads: 2, workers: 4, max_body: 4096,
      cors: { allow_origins: ['https://shop.example'], allow_headers: ['authorization', 'content-type'], max_age: 600 },
    },
    plugins: [{ name: 'hello', path: 'hello.so', mount: '/hello', config: { greeting: 'namaste' } }],
  }), { dir, listeners: 2 });
  tls = k.ports[1];
});

after(async () => { const e = await k.stop(); k.cleanup(); assert.equal(e.code, 0, 'clean exit on SIGTERM'); });

test('GET /healthz over h2c prior knowledge (curl)', async () => {
  const r = await curl(['--http2-prior-knowledge', '-i', `${k.url}/healthz`]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^HTTP\/2 200/);
  assert.match(r.stdout, /content-length: 15/i);
  assert.match(r.stdout, /content-type: application\/json/i);
  assert.match(r.stdout, /\{"status":"ok"\}$/);
});

test('GET /healthz over HTTP/1.1 sets Content-Length, not chunked', async () => {
  const r = await curl(['--http1.1', '-i', `${k.url}/healthz`]);
  assert.match(r.stdout, /^HTTP\/1\.1 200/);
  assert.match(r.stdout, /content-length: 15/i);
  assert.doesNotMatch(r.stdout, /transfer-encoding/i);
  assert.doesNotMatch(r.stdout, /server: h2o/i);
});

test('TLS: ALPN h2 and fallback to http/1.1', async () => {
  const h2 = await curl(['-k', '--http2', '-i', `https://127.0.0.1:${tls}/healthz`]);
  assert.match(h2.stdout, /^HTTP\/2 200/, h2.stderr);
  const h1 = await curl(['-k', '--http1.1', '-i', `https://127.0.0.1:${tls}/healthz`]);
  assert.match(h1.stdout, /^HTTP\/1\.1 200/, h1.stderr);
  const r = await h2req(`https://127.0.0.1:${tls}`, { path: '/hello/tls' });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { message: 'namaste, tls' });
});

test('nghttp talks h2c to the plugin route', async () => {
  const { stdout } = await execFileP('nghttp', ['-n', '-s', `${k.url}/hello/world`]);
  assert.match(stdout, /200/);
  const { stdout: body } = await execFileP('nghttp', [`${k.url}/hello/world`]);
  assert.deepEqual(JSON.parse(body), { message: 'namaste, world' });
});

test('plugin route: params, query, config default and mount', async () => {
  assert.deepEqual((await h2req(k.url, { path: '/hello' })).json, { message: 'namaste, world' });
  assert.deepEqual((await h2req(k.url, { path: '/hello/' })).json, { message: 'namaste, world' });
  assert.deepEqual((await h2req(k.url, { path: '/hello?name=Ravi%20K' })).json, { message: 'namaste, Ravi K' });
  assert.deepEqual((await h2req(k.url, { path: '/hello/%E0%A4%A8' })).json, { message: 'namaste, न' });
  const r = await h2req(k.url, { path: '/hello/x' });
  assert.match(r.headers['x-request-id'], /^[0-9a-f]{16,}$/);
});

test('unknown path: 404 problem+json', async () => {
  const r = await h2req(k.url, { path: '/nope' });
  assert.equal(r.status, 404);
  assert.equal(r.headers['content-type'], 'application/problem+json');
  assert.equal(r.json.status, 404);
  assert.equal(r.json.code, 'not_found');
  assert.equal(r.json.title, 'Not Found');
  assert.ok(r.json.type.endsWith('/not_found'));
  assert.equal(Number(r.headers['content-length']), Buffer.byteLength(r.body));
});

test('wrong method: 405 with Allow', async () => {
  const r = await h2req(k.url, { method: 'DELETE', path: '/hello/x' });
  assert.equal(r.status, 405);
  assert.equal(r.headers.allow, 'GET, HEAD, OPTIONS');
  assert.equal(r.json.code, 'method_not_allowed');
});

test('HEAD answers headers without a body', async () => {
  const r = await curl(['--http1.1', '-I', `${k.url}/hello/x`]);
  assert.match(r.stdout, /^HTTP\/1\.1 200/);
  const h = await h2req(k.url, { method: 'HEAD', path: '/hello/x' });
  assert.equal(h.status, 200);
  assert.equal(h.body, '');
});

test('POST JSON echo; invalid, non-object and too deep JSON are 400 problems', async () => {
  const ok = await h2req(k.url, { method: 'POST', path: '/hello/echo', body: { a: [1, 2, { b: 'ç' }] }, headers: { 'content-type': 'application/json' } });
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.json, { echo: { a: [1, 2, { b: 'ç' }] } });
  for (const body of ['{"a":', '[1,2]', '"x"', '', '{"a":1,"a":2}', '[' .repeat(40) + ']'.repeat(40), '{"a":'.repeat(33) + '1' + '}'.repeat(33)]) {
    const r = await h2req(k.url, { method: 'POST', path: '/hello/echo', body });
    assert.equal(r.status, 400, `body ${body.slice(0, 20)} → ${r.status}`);
    assert.equal(r.headers['content-type'], 'application/problem+json');
    assert.equal(r.json.code, 'invalid_request');
  }
  const deep32 = '{"a":'.repeat(31) + '1' + '}'.repeat(31);
  assert.equal((await h2req(k.url, { method: 'POST', path: '/hello/echo', body: deep32 })).status, 200);
});

test('body over max_body: 413 problem+json (h2c and HTTP/1.1)', async () => {
  const big = JSON.stringify({ x: 'a'.repeat(5000) });
  const r = await h2req(k.url, { method: 'POST', path: '/hello/echo', body: big });
  assert.equal(r.status, 413);
  assert.equal(r.json.code, 'too_large');
  const c = await curl(['--http1.1', '-i', '-X', 'POST', '--data-binary', big, `${k.url}/hello/echo`]);
  assert.match(c.stdout, /^HTTP\/1\.1 413/);
  assert.match(c.stdout, /application\/problem\+json/);
});

test('malformed HTTP/1.1 request line is refused with 400', async () => {
  const net = await import('node:net');
  const reply = await new Promise((resolve) => {
    const s = net.connect(k.port, '127.0.0.1', () => s.write('GARBAGE\r\n\r\n'));
    let d = '';
    s.on('data', (x) => (d += x));
    s.on('close', () => resolve(d));
    s.setTimeout(3000, () => s.destroy());
  });
  assert.match(reply, /^HTTP\/1\.1 400/);
});

test('CORS: allowed origin gets headers, preflight 204, other origins nothing', async () => {
  const a = await h2req(k.url, { path: '/hello/x', headers: { origin: 'https://shop.example' } });
  assert.equal(a.headers['access-control-allow-origin'], 'https://shop.example');
  assert.match(a.headers.vary, /origin/i);
  const b = await h2req(k.url, { path: '/hello/x', headers: { origin: 'https://evil.example' } });
  assert.equal(b.headers['access-control-allow-origin'], undefined);
  const p = await h2req(k.url, { method: 'OPTIONS', path: '/hello/echo', headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
  assert.equal(p.status, 204);
  assert.equal(p.headers['access-control-allow-origin'], 'https://shop.example');
  assert.match(p.headers['access-control-allow-methods'], /POST/);
  assert.match(p.headers['access-control-allow-headers'], /content-type/);
  assert.equal(p.headers['access-control-max-age'], '600');
  const d = await h2req(k.url, { method: 'OPTIONS', path: '/hello/echo', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
  assert.equal(d.headers['access-control-allow-origin'], undefined);
});

test('many concurrent streams on one HTTP/2 connection', async () => {
  const s = h2connect(k.url);
  const rs = await Promise.all(Array.from({ length: 200 }, (_, i) => h2req(s, { path: `/hello/n${i}` })));
  s.close();
  rs.forEach((r, i) => assert.deepEqual(r.json, { message: `namaste, n${i}` }));
});

test('/metrics: Prometheus text with route counters, latency and pool gauges', async () => {
  await h2req(k.url, { path: '/hello/m' });
  const r = await h2req(k.url, { path: '/metrics' });
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  const m = parseMetrics(r.body);
  assert.ok(m['kirana_http_requests_total{route="GET /hello/{name}",status="200"}'] >= 1, r.body);
  assert.ok(m['kirana_http_request_duration_seconds_count{route="GET /hello/{name}"}'] >= 1);
  assert.ok('kirana_pool_queue_depth' in m);
  assert.ok('kirana_http_requests_in_flight' in m);
  assert.ok(m['kirana_hello_greetings_total'] >= 1, 'plugin counter exported');
  assert.match(r.body, /# TYPE kirana_http_request_duration_seconds histogram/);
});

test('/readyz with no dependencies configured is ready', async () => {
  const r = await h2req(k.url, { path: '/readyz' });
  assert.equal(r.status, 200);
  assert.equal(r.json.status, 'ready');
});

test('access log: one JSON line per request with the request id', async () => {
  const r = await h2req(k.url, { path: '/hello/logme' });
  const id = r.headers['x-request-id'];
  const line = await k.waitLog((l) => l.type === 'access' && l.req === id);
  assert.equal(line.status, 200);
  assert.equal(line.method, 'GET');
  assert.equal(line.path, '/hello/logme');
  assert.equal(line.proto, 'HTTP/2');
  assert.ok(line.ts && line.level);
});
