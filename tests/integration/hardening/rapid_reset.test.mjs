// HTTP/2 rapid reset (CVE-2023-44487): libh2o 2.2.5 has no limit, kirana's
// guard (core/server/h2guard.c) closes a connection whose streams end
// unanswered more than server.h2_max_resets_per_10s times in 10 s.
// Clients here write raw frames (tests/hardening/h2raw.mjs): node:http2
// cannot send HEADERS and RST_STREAM back to back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { startKirana, baseConfig, FIXTURES, SANITIZED, h2req, h2connect, parseMetrics, sleep, waitFor } from '../lib/harness.mjs';
import { connect, nextStream, headersFrame, rstFrame, requestBlock } from '../../hardening/h2raw.mjs';
import { rssKB, cpuSeconds, healthz, memoryEnv } from '../../hardening/probe.mjs';

const testkit = { name: 'testkit', path: `${FIXTURES}/testkit.so`, mount: '/t' };
const metrics = async (k) => parseMetrics((await h2req(k.url, { path: '/metrics' })).body);

/**
 * Writes HEADERS (+END_STREAM unless open) and RST_STREAM pairs for path in
 * batches until the server closes the connection or ms pass. Resolves the
 * number of streams sent.
 */
async function flood(c, path, { ms = 10000, endStream = true, max = Infinity } = {}) {
  const block = requestBlock('GET', path);
  const end = Date.now() + ms;
  let sent = 0;
  while (!c.closedAt && Date.now() < end && sent < max) {
    const bufs = [];
    for (let i = 0; i < 100; i++) {
      const id = nextStream(c);
      bufs.push(headersFrame(id, block, endStream), rstFrame(id));
    }
    c.write(Buffer.concat(bufs));
    sent += 100;
    await c.drain();
    await new Promise((r) => setImmediate(r));
  }
  return sent;
}

test('rapid reset: the connection is closed past the budget, and later streams never reach the pool', { timeout: 60000 }, async () => {
  const budget = 50;
  const k = await startKirana(baseConfig({ server: { workers: 4, h2_max_resets_per_10s: budget }, plugins: [testkit] }));
  try {
    const c = await connect(k.port);
    const sent = await flood(c, '/t/sleep?ms=200');
    assert.ok(c.closedAt, `the connection is still open after ${sent} reset streams`);
    await waitFor(async () => (await metrics(k)).kirana_http_requests_in_flight === 0, 10000, 'cancelled requests to drain');
    const m = await metrics(k);
    assert.equal(m.kirana_http2_reset_flood_total, 1);
    // budget + 1 requests reached the pool (the last one tripped the guard);
    // the thousands behind them in h2o's read buffer were dropped
    assert.equal(m.kirana_http_cancelled_total, budget + 1, `${sent} streams sent`);
    const warn = k.lines.find((l) => l.level === 'warn' && /rapid reset from 127\.0\.0\.1/.test(l.msg || ''));
    assert.ok(warn, 'one warn line names the client');
    assert.match(warn.msg, new RegExp(`${budget + 1} streams ended unanswered within 10 s \\(limit ${budget}\\)`));
    const h = await healthz(k.port, { h2: true });
    assert.equal(h.status, 200);
    assert.ok(h.ms < 1000, `/healthz took ${h.ms} ms`);
  } finally { await k.stop(); k.cleanup(); }
});

test('rapid reset from reconnecting clients: memory and CPU stay bounded, /healthz keeps answering', { timeout: 60000 }, async (t) => {
  const budget = 100;
  const k = await startKirana(baseConfig({
    server: { workers: 4, h2_max_resets_per_10s: budget }, log: { access: false }, plugins: [testkit],
  }), { env: memoryEnv() });
  try {
    const pid = k.proc.pid;
    await h2req(k.url, { path: '/t/sleep?ms=1' }); // warm up: first-use allocations are not growth
    const rss0 = rssKB(pid), cpu0 = cpuSeconds(pid), t0 = Date.now();
    let conns = 0, streams = 0, closed = 0;
    const probes = [];
    // two attackers for 4 s, each reconnecting as soon as it is cut
    await Promise.all([0, 1].map(async () => {
      while (Date.now() - t0 < 4000) {
        const c = await connect(k.port);
        conns++;
        streams += await flood(c, '/t/sleep?ms=50', { ms: 4000 - (Date.now() - t0) });
        if (c.closedAt) closed++;
        c.destroy();
        if (conns % 20 === 0) probes.push(await healthz(k.port));
      }
    }));
    const wall = (Date.now() - t0) / 1000;
    const cpu = cpuSeconds(pid) - cpu0;
    await waitFor(async () => (await metrics(k)).kirana_http_requests_in_flight === 0, 10000, 'drain');
    const rss1 = rssKB(pid);
    const m = await metrics(k);
    t.diagnostic(`${conns} connections, ${streams} streams in ${wall.toFixed(1)} s; server CPU ${cpu.toFixed(2)} s; ` +
      `RSS ${rss0} -> ${rss1} KiB; ${m.kirana_http_cancelled_total} requests reached the pool`);
    // the last connection of each attacker may have run out of time rather
    // than budget; every other one was cut
    assert.ok(closed >= conns - 2, `${closed} of ${conns} connections closed`);
    // (the server may cut the last one as the attacker gives up on it)
    assert.ok(m.kirana_http2_reset_flood_total >= closed && m.kirana_http2_reset_flood_total <= conns);
    assert.ok(m.kirana_http_cancelled_total <= conns * (budget + 1), 'at most the budget per connection reached the pool');
    assert.ok(rss1 - rss0 < 32 * 1024, `RSS grew by ${rss1 - rss0} KiB`);
    // without the guard one attacker keeps the loop thread and the workers
    // busy (about 1 CPU second per second); cut connections cost little.
    // ASan multiplies the CPU of every operation, so only unsanitized
    // builds have a CPU figure to hold.
    if (!SANITIZED) assert.ok(cpu < wall, `server CPU ${cpu.toFixed(2)} s over ${wall.toFixed(1)} s`);
    for (const p of [...probes, await healthz(k.port), await healthz(k.port, { h2: true })]) {
      assert.equal(p.status, 200);
      assert.ok(p.ms < 1000, `/healthz took ${p.ms} ms`);
    }
  } finally { await k.stop(); k.cleanup(); }
});

test('a well-behaved client doing 1000 requests (and a few cancels) on one connection is never cut', { timeout: 60000 }, async () => {
  const k = await startKirana(baseConfig({ server: { workers: 4, h2_max_resets_per_10s: 10 }, plugins: [testkit] }));
  const s = h2connect(k.url);
  try {
    s.setMaxListeners(0); // h2req adds an error listener per request
    let closed = false;
    s.on('close', () => { closed = true; });
    s.on('goaway', () => { closed = true; });
    // five cancels, under the budget of ten
    const slow = Array.from({ length: 5 }, () => s.request({ ':path': '/t/sleep?ms=500' }));
    slow.forEach((r) => r.on('error', () => {}));
    await sleep(50);
    slow.forEach((r) => r.close(http2.constants.NGHTTP2_CANCEL));
    let ok = 0;
    for (let batch = 0; batch < 20; batch++) {
      const rs = await Promise.all(Array.from({ length: 50 }, (_, i) =>
        h2req(s, { path: i % 2 ? `/t/sleep?ms=0&i=${i}` : '/healthz' })));
      ok += rs.filter((r) => r.status === 200).length;
    }
    assert.equal(ok, 1000);
    assert.equal(closed, false, 'the session was closed');
    assert.equal((await h2req(s, { path: '/t/sleep?ms=0' })).status, 200);
    const m = await metrics(k);
    assert.ok(!m.kirana_http2_reset_flood_total, 'no connection was cut for resets');
  } finally { s.destroy(); await k.stop(); k.cleanup(); }
});

test('streams reset before their request is complete never reach kirana; h2o spends bounded CPU and memory on them', { timeout: 60000 }, async (t) => {
  const k = await startKirana(baseConfig({ server: { workers: 4, h2_max_resets_per_10s: 10 }, log: { access: false }, plugins: [testkit] }),
    { env: memoryEnv() });
  try {
    const pid = k.proc.pid;
    await h2req(k.url, { path: '/t/sleep?ms=1' });
    const c = await connect(k.port);
    const rss0 = rssKB(pid), cpu0 = cpuSeconds(pid);
    // HEADERS without END_STREAM, then RST_STREAM: h2o waits for a body that
    // never comes and drops the stream; no handler runs
    const sent = await flood(c, '/t/sleep?ms=50', { endStream: false, ms: 3000, max: 300000 });
    await sleep(200);
    const cpu = cpuSeconds(pid) - cpu0, rss1 = rssKB(pid);
    const m = await metrics(k);
    t.diagnostic(`${sent} streams; server CPU ${(cpu * 1e6 / sent).toFixed(2)} µs per stream; RSS ${rss0} -> ${rss1} KiB; ` +
      `connection ${c.closedAt ? 'closed' : 'left open (h2o 2.2.5 does not count these)'}`);
    assert.ok(sent >= 10000, `only ${sent} streams could be sent`);
    assert.equal(m.kirana_http_cancelled_total, 0, 'no request reached kirana');
    assert.ok(rss1 - rss0 < 32 * 1024, `RSS grew by ${rss1 - rss0} KiB`);
    // linear in what the client sends (~0.5 µs per stream unsanitized, ~4
    // under ASan): a bandwidth flood, not an amplification
    assert.ok(cpu * 1e6 / sent < 20, `${(cpu * 1e6 / sent).toFixed(2)} µs of server CPU per stream`);
    c.destroy();
    const h = await healthz(k.port);
    assert.equal(h.status, 200);
    assert.ok(h.ms < 1000, `/healthz took ${h.ms} ms`);
  } finally { await k.stop(); k.cleanup(); }
});
