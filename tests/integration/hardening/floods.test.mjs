// Header and body floods: every one ends in a 4xx or a closed connection,
// never a crash, never memory that grows with the flood, and the server
// keeps answering. The HPACK case is the one kirana had to fix: a request
// whose headers name one dynamic-table entry thousands of times was copied
// for the worker pool at 3000x its wire size (core/server/h2guard.h).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startKirana, baseConfig, FIXTURES, h2req, h2connect, sleep } from '../lib/harness.mjs';
import {
  connect, nextStream, frame, headersFrame, requestBlock, literal, literalIndexed, indexed, FRAME, FLAG,
} from '../../hardening/h2raw.mjs';
import { rssKB, healthz, memoryEnv } from '../../hardening/probe.mjs';

const MAX_BODY = 64 * 1024;
let k;

before(async () => {
  k = await startKirana(baseConfig({
    server: { workers: 4, max_body: MAX_BODY }, log: { access: false },
    plugins: [{ name: 'testkit', path: `${FIXTURES}/testkit.so`, mount: '/t' }],
  }), { env: memoryEnv() });
  await h2req(k.url, { path: '/t/sleep?ms=1' }); // first-use allocations are not growth
});

after(async () => {
  const e = await k.stop();
  k.cleanup();
  assert.equal(e.code, 0, 'clean exit (and no leak report under ASan)');
});

async function assertServed(what) {
  const h = await healthz(k.port, { h2: true });
  assert.equal(h.status, 200, `/healthz ${what}`);
  assert.ok(h.ms < 1000, `/healthz ${what} took ${h.ms} ms`);
}

/** Writes one raw HTTP/1.1 request; resolves the status code (0: closed without one). */
function http1(request, ms = 5000) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port: k.port });
    let got = '';
    const timer = setTimeout(() => s.destroy(), ms);
    s.on('data', (d) => {
      got += d;
      const m = /^HTTP\/1\.1 (\d{3})/.exec(got);
      if (m && got.includes('\r\n\r\n')) { clearTimeout(timer); s.destroy(); resolve({ status: Number(m[1]), text: got }); }
    });
    s.on('error', () => {});
    s.on('close', () => { clearTimeout(timer); resolve({ status: 0, text: got }); });
    s.write(request);
  });
}

test('HTTP/1.1 header floods: a 4xx every time', { timeout: 60000 }, async () => {
  const big = await http1(`GET /healthz HTTP/1.1\r\nHost: k\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`);
  assert.equal(big.status, 431, 'over 16 KiB of headers: kirana refuses before copying them');
  assert.match(big.text, /application\/problem\+json/);
  const many = await http1(`GET /healthz HTTP/1.1\r\nHost: k\r\n${Array.from({ length: 150 }, (_, i) => `X-H${i}: v`).join('\r\n')}\r\n\r\n`);
  assert.equal(many.status, 400, 'over 100 headers: h2o refuses');
  const huge = await http1(`GET /healthz HTTP/1.1\r\nHost: k\r\nX-Big: ${'a'.repeat(500000)}\r\n\r\n`);
  assert.equal(huge.status, 400, 'a header block over 400 KiB: h2o refuses');
  await assertServed('after HTTP/1.1 header floods');
});

test('HTTP/2 HPACK header bomb: 431 before anything is copied, memory flat', { timeout: 60000 }, async (t) => {
  const pid = k.proc.pid;
  const rss0 = rssKB(pid);
  const c = await connect(k.port);
  const n = 50;
  for (let i = 0; i < n; i++) {
    // one 4000-byte header into the dynamic table, then ~12,000 one-byte
    // references to it: 16 KiB on the wire, 48 MiB of header values
    const parts = [requestBlock('GET', '/t/sleep?ms=1'), literalIndexed('x-bomb', 'a'.repeat(4000))];
    let size = parts.reduce((a, b) => a + b.length, 0);
    while (size < 16000) { parts.push(indexed(62)); size++; }
    c.write(headersFrame(nextStream(c), Buffer.concat(parts)));
    await c.drain();
  }
  await waitForHeaders(c, n);
  const rss1 = rssKB(pid);
  t.diagnostic(`${n} requests of ${n * 12000} header values; RSS ${rss0} -> ${rss1} KiB`);
  assert.equal(c.count(FRAME.HEADERS), n, 'every request answered');
  assert.ok(rss1 - rss0 < 48 * 1024, `RSS grew by ${rss1 - rss0} KiB`);
  c.destroy();
  const r = await h2req(k.url, { path: '/t/sleep?ms=1', headers: Object.fromEntries(Array.from({ length: 120 }, (_, i) => [`x-h${i}`, 'v'])) });
  assert.equal(r.status, 431, 'over 100 headers');
  assert.equal(r.json.code, 'headers_too_large');
  await assertServed('after the HPACK bomb');
});

async function waitForHeaders(c, n, ms = 20000) {
  const end = Date.now() + ms;
  while (c.count(FRAME.HEADERS) < n && !c.closedAt && Date.now() < end) await sleep(20);
}

test('HTTP/2 header block past h2o\'s limit in CONTINUATION frames: the connection is closed', { timeout: 60000 }, async () => {
  const c = await connect(k.port);
  const id = nextStream(c);
  c.write(headersFrame(id, requestBlock('GET', '/healthz'), true, false));
  const chunk = literal('x-pad', 'a'.repeat(16000));
  for (let i = 0; i < 40 && !c.closedAt; i++) {
    c.write(frame(FRAME.CONTINUATION, 0, id, chunk));
    await c.drain();
  }
  c.write(frame(FRAME.CONTINUATION, FLAG.END_HEADERS, id, literal('x-end', '1')));
  await Promise.race([c.closed, sleep(5000)]);
  assert.ok(c.closedAt || c.goaway, 'h2o ends the connection');
  assert.equal(c.count(FRAME.HEADERS), 0, 'never answered as a request');
  c.destroy();
  await assertServed('after a CONTINUATION flood');
});

test('body floods: over max_body is a 413 problem, far over is refused by h2o, never buffered without bound', { timeout: 60000 }, async (t) => {
  const pid = k.proc.pid;
  const rss0 = rssKB(pid);
  const json = (n) => JSON.stringify({ pad: 'x'.repeat(n - 10) });
  // just over: kirana's problem+json
  const h2 = await h2req(k.url, { method: 'POST', path: '/t/echo', body: json(MAX_BODY + 1), headers: { 'content-type': 'application/json' } });
  assert.equal(h2.status, 413);
  assert.equal(h2.json.code, 'too_large');
  const h1 = await http1(`POST /t/echo HTTP/1.1\r\nHost: k\r\nContent-Type: application/json\r\nContent-Length: ${MAX_BODY + 1}\r\n\r\n${json(MAX_BODY + 1)}`);
  assert.equal(h1.status, 413);
  assert.match(h1.text, /application\/problem\+json/);
  // far over (10 MiB, past h2o's own limit of 2 x max_body + 64 KiB)
  // h2o answers 413 and closes with the rest of the body unread, which can
  // reset the connection before the client reads the answer: 413 or closed
  const cl = await http1(`POST /t/echo HTTP/1.1\r\nHost: k\r\nContent-Length: 10485760\r\n\r\n${'a'.repeat(65536)}`);
  assert.ok(cl.status === 413 || cl.status === 0, `a declared length too large: ${cl.status}`);
  const chunk = `100000\r\n${'a'.repeat(0x100000)}\r\n`;
  const chunked = await http1(`POST /t/echo HTTP/1.1\r\nHost: k\r\nTransfer-Encoding: chunked\r\n\r\n${chunk.repeat(10)}`);
  assert.ok(chunked.status === 413 || chunked.status === 0, `a chunked body past the limit: ${chunked.status}`);
  const s = h2connect(k.url);
  const big = await new Promise((resolve) => {
    const req = s.request({ ':method': 'POST', ':path': '/t/echo', 'content-type': 'application/json' });
    let status = 0;
    req.on('response', (h) => { status = h[':status']; });
    req.on('error', () => resolve({ status, reset: true }));
    req.on('close', () => resolve({ status, reset: req.rstCode !== 0 }));
    req.on('data', () => {});
    req.end(Buffer.alloc(10 << 20, 'a'));
  });
  s.destroy();
  assert.ok(big.status === 413 || big.reset, `10 MiB over HTTP/2: status ${big.status}`);
  const rss1 = rssKB(pid);
  t.diagnostic(`10 MiB over HTTP/2: status ${big.status}, reset ${big.reset}; RSS ${rss0} -> ${rss1} KiB after the bodies`);
  assert.ok(rss1 - rss0 < 32 * 1024, `RSS grew by ${rss1 - rss0} KiB`);
  await assertServed('after body floods');
});
