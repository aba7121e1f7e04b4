// Slow clients: slowloris on HTTP/1.1 (h2o's request timeout, set from
// server.request_timeout_ms) and readers that never take their answers
// (kirana's answer timeout in core/server/h2guard.c: libh2o 2.2.5 disarms
// its HTTP/2 idle timeout while an answer is pending and has no write
// timeout for HTTP/1.1). Other clients must be served throughout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startKirana, baseConfig, FIXTURES, h2req, parseMetrics, sleep, waitFor } from '../lib/harness.mjs';
import { connect, nextStream, headersFrame, dataFrame, sendBody, requestBlock, SETTING, FRAME } from '../../hardening/h2raw.mjs';
import { healthz } from '../../hardening/probe.mjs';

const testkit = { name: 'testkit', path: `${FIXTURES}/testkit.so`, mount: '/t' };
const TIMEOUT = 2000;
const metrics = async (k) => parseMetrics((await h2req(k.url, { path: '/metrics' })).body);

async function assertServed(port, what) {
  for (const h2 of [false, true]) {
    const h = await healthz(port, { h2 });
    assert.equal(h.status, 200, `/healthz ${what}`);
    assert.ok(h.ms < 1000, `/healthz ${what} took ${h.ms} ms`);
  }
}

test('slowloris on HTTP/1.1: header bytes trickle in, other clients are served, the slow connections are closed', { timeout: 60000 }, async () => {
  const k = await startKirana(baseConfig({ server: { request_timeout_ms: TIMEOUT }, log: { access: false }, plugins: [testkit] }));
  const socks = [];
  try {
    const n = 200;
    const t0 = Date.now();
    for (let i = 0; i < n; i++) {
      const s = net.connect({ host: '127.0.0.1', port: k.port });
      s.on('error', () => {});
      s.rec = { closedAt: null, got: '' };
      s.on('data', (d) => { s.rec.got += d; });
      s.on('close', () => { s.rec.closedAt = Date.now(); });
      s.write('GET /healthz HTTP/1.1\r\nHost: kirana\r\nX-Slow: ');
      socks.push(s);
    }
    // a byte every 200 ms: each one is progress, none completes the request
    const trickle = setInterval(() => socks.forEach((s) => { if (!s.destroyed) s.write('a'); }), 200);
    try {
      await sleep(1000);
      await assertServed(k.port, 'during slowloris');
      await waitFor(() => socks.every((s) => s.rec.closedAt), TIMEOUT + 3000, 'the server to close every slow connection');
    } finally { clearInterval(trickle); }
    const times = socks.map((s) => s.rec.closedAt - t0);
    assert.ok(Math.min(...times) >= TIMEOUT - 200, `closed too early: ${Math.min(...times)} ms`);
    assert.ok(Math.max(...times) <= TIMEOUT + 1500, `closed late: ${Math.max(...times)} ms`);
    assert.ok(socks.every((s) => !/^HTTP\/1\.1 2/.test(s.rec.got)), 'no slow request was answered as if complete');
    await assertServed(k.port, 'after slowloris');
  } finally {
    socks.forEach((s) => s.destroy());
    await k.stop(); k.cleanup();
  }
});

test('HTTP/2 readers with a zero window: answered, never sent, the connection closed after request_timeout_ms', { timeout: 60000 }, async () => {
  const k = await startKirana(baseConfig({ server: { request_timeout_ms: TIMEOUT }, log: { access: false }, plugins: [testkit] }));
  const conns = [];
  try {
    const n = 20;
    for (let i = 0; i < n; i++) {
      const c = await connect(k.port, { settings: { [SETTING.INITIAL_WINDOW_SIZE]: 0 } });
      // a loop route, a pool route and a pool route with a body
      c.write(headersFrame(nextStream(c), requestBlock('GET', '/healthz')));
      c.write(headersFrame(nextStream(c), requestBlock('GET', '/t/sleep?ms=1')));
      const id = nextStream(c);
      c.write(headersFrame(id, requestBlock('POST', '/t/echo', [['content-type', 'application/json']]), false));
      c.write(dataFrame(id, Buffer.from('{"x":1}'), true));
      c.sentAt = Date.now();
      conns.push(c);
    }
    await sleep(TIMEOUT / 2);
    await assertServed(k.port, 'while zero-window readers wait');
    await waitFor(() => conns.every((c) => c.closedAt), TIMEOUT + 3000, 'the server to close every zero-window reader');
    for (const c of conns) {
      assert.equal(c.count(FRAME.HEADERS), 3, 'all three requests were answered');
      assert.equal(c.count(FRAME.DATA), 0, 'no body could be sent');
      const after = c.closedAt - c.sentAt;
      assert.ok(after >= TIMEOUT - 200 && after <= TIMEOUT + 1500, `closed ${after} ms after the requests`);
    }
    const m = await metrics(k);
    assert.equal(m.kirana_http_stalled_answer_closed_total, n);
    assert.ok(k.lines.some((l) => l.level === 'warn' && /client 127\.0\.0\.1 has not taken an answer within 2000 ms/.test(l.msg || '')));
    await assertServed(k.port, 'after zero-window readers');
  } finally {
    conns.forEach((c) => c.destroy());
    await k.stop(); k.cleanup();
  }
});

test('clients that stop reading while large answers queue up (HTTP/2 and HTTP/1.1) are closed after request_timeout_ms', { timeout: 60000 }, async () => {
  const k = await startKirana(baseConfig({ server: { request_timeout_ms: TIMEOUT, max_body: 1 << 20 }, log: { access: false }, plugins: [testkit] }));
  const body = JSON.stringify({ pad: 'x'.repeat(900 * 1024) });
  const socks = [];
  try {
    // HTTP/2: open windows and 24 requests of 900 KiB, all but their ends
    // sent while reading (the server's window updates); then the socket is
    // paused and the requests completed, so 21 MiB of answers fill the
    // kernel buffers and h2o's writes block
    const c = await connect(k.port, { settings: { [SETTING.INITIAL_WINDOW_SIZE]: 0x7fffffff }, connWindow: 0x7fffffff - 65535 });
    socks.push(c.sock);
    const ids = [];
    for (let i = 0; i < 24; i++) {
      const id = nextStream(c);
      ids.push(id);
      c.write(headersFrame(id, requestBlock('POST', '/t/echo', [['content-type', 'application/json']]), false));
      await sendBody(c, id, Buffer.from(body), false);
    }
    c.sock.pause();
    for (const id of ids) c.write(dataFrame(id, Buffer.alloc(0), true));
    // HTTP/1.1: the same, pipelined on one connection
    const s = net.connect({ host: '127.0.0.1', port: k.port });
    s.on('error', () => {});
    s.pause();
    for (let i = 0; i < 24; i++) {
      s.write(`POST /t/echo HTTP/1.1\r\nHost: kirana\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    }
    socks.push(s);
    await sleep(TIMEOUT / 2);
    await assertServed(k.port, 'while readers stall');
    await waitFor(async () => (await metrics(k)).kirana_http_stalled_answer_closed_total === 2, TIMEOUT + 5000,
      'both stalled readers to be closed');
    await assertServed(k.port, 'after stalled readers');
  } finally {
    socks.forEach((s) => s.destroy());
    await k.stop(); k.cleanup();
  }
});
