// Server-sent events and pub/sub in the core: a stream outlives its handler,
// events published by any process reach streams held by every process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startKirana, baseConfig, FIXTURES, h2req, h2connect, serversEnv, waitFor, parseMetrics, sleep } from '../lib/harness.mjs';

const srv = serversEnv();

function config(channel, extra = {}) {
  return baseConfig({
    redis: { url: srv.KIRANA_TEST_REDIS_URL },
    server: { workers: 2, shutdown_timeout_ms: 3000 },
    plugins: [{ name: 'testkit', path: `${FIXTURES}/testkit.so`, mount: '/t', config: { subscribe: channel } }],
    ...extra,
  });
}

/** Opens an SSE stream; collects parsed events and comments. */
function open(session, path) {
  const req = session.request({ ':path': path, accept: 'text/event-stream' });
  const st = { events: [], comments: 0, ended: false, headers: null, buf: '', req };
  req.setEncoding('utf8');
  req.on('response', (h) => (st.headers = h));
  req.on('data', (d) => {
    st.buf += d;
    let i;
    while ((i = st.buf.indexOf('\n\n')) >= 0) {
      const block = st.buf.slice(0, i);
      st.buf = st.buf.slice(i + 2);
      if (block.startsWith(':')) { st.comments++; continue; }
      const ev = { data: [] };
      for (const line of block.split('\n')) {
        const m = /^(\w+): ?(.*)$/.exec(line);
        if (m && m[1] === 'data') ev.data.push(m[2]);
        else if (m) ev[m[1]] = m[2];
      }
      ev.data = ev.data.join('\n');
      st.events.push(ev);
    }
  });
  req.on('end', () => (st.ended = true));
  req.on('error', () => (st.ended = true));
  return st;
}

const publish = (k, channel, msg) => h2req(k.url, { method: 'POST', path: '/t/publish', body: { channel, msg } });

test('one stream: first event, published messages in order, multi-line data, heartbeat, end', async () => {
  const ch = `kt-sse-${randomBytes(4).toString('hex')}`;
  const k = await startKirana(config(ch));
  const s = h2connect(k.url);
  try {
    const st = open(s, '/t/events?hb=1');
    await waitFor(() => st.events.length === 1, 5000, 'hello event');
    assert.equal(st.headers[':status'], 200);
    assert.equal(st.headers['content-type'], 'text/event-stream');
    assert.equal(st.events[0].event, 'hello');
    assert.equal(st.events[0].id, '0');
    for (const m of ['m1', 'm2', 'line one\nline two\n\nevent: forged']) assert.equal((await publish(k, ch, m)).status, 200);
    await waitFor(() => st.events.length === 4, 5000, 'published events');
    assert.deepEqual(st.events.slice(1).map((e) => e.data), ['m1', 'm2', 'line one\nline two\n\nevent: forged']);
    assert.ok(st.events.slice(1).every((e) => e.event === 'message'), 'data cannot inject an event field');
    const before = st.comments;
    await waitFor(() => st.comments > before, 4000, 'a heartbeat comment');
    await publish(k, ch, 'end');
    await waitFor(() => st.ended, 5000, 'the stream to end');
  } finally { s.close(); assert.equal((await k.stop()).code, 0); k.cleanup(); }
});

test('200 streams over two connections (100 each, h2o\'s stream limit) all get a message; resets free them', async () => {
  const ch = `kt-sse-${randomBytes(4).toString('hex')}`;
  const k = await startKirana(config(ch));
  const s = h2connect(k.url);
  const s2 = h2connect(k.url);
  try {
    const streams = Array.from({ length: 200 }, (_, i) => open(i % 2 ? s2 : s, '/t/events'));
    await waitFor(() => streams.every((st) => st.events.length === 1), 10000, 'all streams open');
    const g = parseMetrics((await h2req(k.url, { path: '/metrics' })).body);
    assert.equal(g.kirana_sse_streams, 200);
    await publish(k, ch, 'fan-out');
    await waitFor(() => streams.every((st) => st.events.length === 2), 10000, 'every stream to get the message');
    streams.forEach((st) => st.req.close());
    await waitFor(async () => parseMetrics((await h2req(k.url, { path: '/metrics' })).body).kirana_sse_streams === 0, 5000, 'streams freed');
    const after = open(s, '/t/events');
    await waitFor(() => after.events.length === 1, 5000, 'a new stream after resets');
  } finally { s.close(); s2.close(); assert.equal((await k.stop()).code, 0); k.cleanup(); }
});

test('a message published through one process reaches a stream held by another', async () => {
  const ch = `kt-sse-${randomBytes(4).toString('hex')}`;
  const a = await startKirana(config(ch));
  const b = await startKirana(config(ch));
  const s = h2connect(b.url);
  try {
    const st = open(s, '/t/events');
    await waitFor(() => st.events.length === 1, 5000, 'hello');
    const r = await publish(a, ch, 'from-a');
    assert.equal(r.json.receivers, 2, 'both processes subscribe once each');
    await waitFor(() => st.events.length === 2, 5000, 'cross-process message');
    assert.equal(st.events[1].data, 'from-a');
  } finally { s.close(); await a.stop(); await b.stop(); a.cleanup(); b.cleanup(); }
});

test('SIGTERM ends open streams and exits promptly', async () => {
  const ch = `kt-sse-${randomBytes(4).toString('hex')}`;
  const k = await startKirana(config(ch));
  const s = h2connect(k.url);
  const st = open(s, '/t/events');
  await waitFor(() => st.events.length === 1, 5000, 'hello');
  const t0 = Date.now();
  const e = await k.stop();
  assert.equal(e.code, 0);
  assert.ok(Date.now() - t0 < 2500, 'did not wait for the shutdown deadline');
  await waitFor(() => st.ended, 3000, 'stream ended by the server');
  s.destroy();
  k.cleanup();
  await sleep(10);
});
