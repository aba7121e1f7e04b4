// 10,000 idle connections (HTTP/1.1 that never send a request, and h2c
// that sent the preface and nothing more): the server holds them all and
// /healthz still answers within a second. Node raises its soft fd limit to
// the hard one at startup and kirana inherits it; where the hard limit is
// too low for 10,000 on both sides, the test uses what fits and says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startKirana, baseConfig, execFileP, sleep, waitFor } from '../lib/harness.mjs';
import { connect } from '../../hardening/h2raw.mjs';
import { rssKB, fdCount, healthz, memoryEnv } from '../../hardening/probe.mjs';

const WANT = 10000;

function tcp(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

test('10,000 idle connections: all held, /healthz answers within 1 s', { timeout: 240000 }, async (t) => {
  const { stdout } = await execFileP('sh', ['-c', 'ulimit -n']);
  const limit = stdout.trim() === 'unlimited' ? Infinity : Number(stdout);
  // each side needs one fd per connection plus its own (~100)
  const n = Math.min(WANT, limit - 200);
  if (n < WANT) t.diagnostic(`fd limit ${limit}: using ${n} connections instead of ${WANT}`);
  assert.ok(n >= 1000, `fd limit ${limit} is too low for this test`);
  const k = await startKirana(baseConfig({ server: { request_timeout_ms: 120000 }, log: { access: false } }), { env: memoryEnv() });
  const socks = [];
  let closedByServer = 0;
  try {
    const pid = k.proc.pid;
    const fd0 = fdCount(pid), rss0 = rssKB(pid);
    // batches, so the listen backlog never overflows
    for (let i = 0; i < n; i += 500) {
      const batch = await Promise.all(Array.from({ length: Math.min(500, n - i) }, async (_, j) => {
        if ((i + j) % 4 === 0) return (await connect(k.port)).sock; // h2c: preface + SETTINGS
        return tcp(k.port);
      }));
      for (const s of batch) {
        s.on('error', () => {});
        s.on('close', () => { closedByServer++; });
        socks.push(s);
      }
    }
    await waitFor(() => fdCount(pid) - fd0 >= n, 30000, 'kirana to accept every connection');
    const fd1 = fdCount(pid), rss1 = rssKB(pid);
    t.diagnostic(`${n} idle connections: kirana fds ${fd0} -> ${fd1}, RSS ${rss0} -> ${rss1} KiB ` +
      `(${((rss1 - rss0) / n).toFixed(1)} KiB per connection)`);
    let worst = 0;
    for (let i = 0; i < 5; i++) {
      for (const h2 of [false, true]) {
        const h = await healthz(k.port, { h2 });
        assert.equal(h.status, 200);
        assert.ok(h.ms < 1000, `/healthz (${h2 ? 'h2c' : 'HTTP/1.1'}) took ${h.ms} ms with ${n} idle connections`);
        worst = Math.max(worst, h.ms);
      }
      await sleep(100);
    }
    t.diagnostic(`slowest /healthz of 10: ${worst.toFixed(1)} ms`);
    assert.equal(closedByServer, 0, 'the server kept every idle connection (request_timeout_ms is 120 s)');
    socks.forEach((s) => s.destroy());
    await waitFor(() => fdCount(pid) <= fd0 + 10, 30000, 'kirana to close them');
    const h = await healthz(k.port);
    assert.equal(h.status, 200);
    assert.ok(h.ms < 1000);
  } finally {
    socks.forEach((s) => s.destroy());
    await k.stop(); k.cleanup();
  }
});
