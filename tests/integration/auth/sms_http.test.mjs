// The `http` SMS provider against a local HTTP server: the rendered body
// template and auth header, 5xx and timeouts retried by the queue with
// backoff, 4xx not retried, and the code never in kirana's logs.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { sleep, waitFor } from '../lib/harness.mjs';
import { startAuth } from './helpers.mjs';

/** A provider whose answers per phone follow a script: numbers are
 * statuses, 'hang' never answers. Every request is recorded. */
function fakeProvider() {
  const hits = [];
  const scripts = new Map();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      let phone = null;
      try { phone = JSON.parse(body).to; } catch { /* not JSON */ }
      hits.push({ method: req.method, url: req.url, headers: req.headers, body, phone });
      const script = scripts.get(phone) || [200];
      const step = script.length > 1 ? script.shift() : script[0];
      if (step === 'hang') return;
      res.writeHead(step, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ echo: body }));
    });
  });
  return {
    hits, scripts, server,
    of: (phone) => hits.filter((h) => h.phone === phone),
    listen: () => new Promise((r) => server.listen(0, '127.0.0.1', () => r(server.address().port))),
  };
}

const codeOf = (hit) => /code is (\d{6})/.exec(JSON.parse(hit.body).text)[1];

describe('http SMS provider', () => {
  let t, p;
  before(async () => {
    p = fakeProvider();
    const port = await p.listen();
    t = await startAuth({
      env: { SMS_TOKEN: 'Bearer sms-secret' },
      auth: {
        sms: {
          provider: 'http', url: `http://127.0.0.1:${port}/v1/sms?route=otp`,
          body: '{"to": "{phone}", "text": "Your kirana code is {code}"}',
          auth_header: 'Authorization', auth_env: 'SMS_TOKEN',
          timeout_ms: 500, attempts: 3, backoff_ms: 100,
        },
      },
    });
  });
  after(async () => {
    await t?.stop();
    p.server.closeAllConnections?.();
    p.server.close();
  });

  it('posts the rendered template with the auth header; the code it carries logs in', async () => {
    const phone = '+919877700001';
    assert.equal((await t.sendOtp(phone)).status, 202);
    const [hit] = await waitFor(() => (p.of(phone).length ? p.of(phone) : null), 10000, 'the provider call');
    assert.equal(hit.method, 'POST');
    assert.equal(hit.url, '/v1/sms?route=otp');
    assert.equal(hit.headers['content-type'], 'application/json');
    assert.equal(hit.headers.authorization, 'Bearer sms-secret');
    assert.match(hit.body, /^\{"to": "\+919877700001", "text": "Your kirana code is \d{6}"\}$/);
    const v = await t.verify(phone, codeOf(hit));
    assert.equal(v.status, 200);
  });

  it('retries 5xx answers with backoff until one succeeds', async () => {
    const phone = '+919877700002';
    p.scripts.set(phone, [500, 503, 200]);
    assert.equal((await t.sendOtp(phone)).status, 202);
    const hits = await waitFor(() => (p.of(phone).length >= 3 ? p.of(phone) : null), 15000, 'three calls');
    assert.equal(new Set(hits.map(codeOf)).size, 1);
    await sleep(800);
    assert.equal(p.of(phone).length, 3);
    assert.equal((await t.verify(phone, codeOf(hits[2]))).status, 200);
  });

  it('retries a provider that times out', async () => {
    const phone = '+919877700003';
    p.scripts.set(phone, ['hang', 200]);
    assert.equal((await t.sendOtp(phone)).status, 202);
    await waitFor(() => p.of(phone).length >= 2, 15000, 'the retry after the timeout');
  });

  it('does not retry 4xx answers, and removes the failed job', async () => {
    const phone = '+919877700004';
    p.scripts.set(phone, [400]);
    assert.equal((await t.sendOtp(phone)).status, 202);
    await waitFor(() => p.of(phone).length >= 1, 10000, 'the provider call');
    await sleep(1500); // backoff 100 ms, then 200 ms: retries would have come
    assert.equal(p.of(phone).length, 1);
    await waitFor(async () => (await t.redis('KEYS', `${t.tag}q:otp:[0-9]*`)) === '', 5000, 'the job to go');
  });

  it('never writes a code to the log', async () => {
    const codes = p.hits.filter((h) => h.phone).map(codeOf);
    assert.ok(codes.length >= 6);
    // as a token of its own (request ids are hex and may hold digit runs)
    for (const code of codes) assert.doesNotMatch(t.k.raw, new RegExp(`(^|[^0-9A-Za-z])${code}([^0-9A-Za-z]|$)`));
    assert.equal(t.k.raw.includes('sms-secret'), false);
  });
});
