// docs/metrics.md against the source and a running kirana: every metric the
// core and the plugins register is documented, nothing documented is gone
// from the source, and a kirana serving HTTP, SSE and queue jobs with hello
// and wishlist loaded exports every core metric and theirs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import http2 from 'node:http2';
import { startKirana, baseConfig, serversEnv, h2req, waitFor, SRC, FIXTURES } from '../lib/harness.mjs';
import { freshDatabase } from '../lib/db.mjs';

const doc = readFileSync(join(SRC, 'docs/metrics.md'), 'utf8');

/** Metric names in the first column of the tables of a section ("## Core"), or of the whole page. */
function documented(section) {
  let text = doc;
  if (section) {
    const at = doc.indexOf(`\n## ${section}\n`);
    assert.ok(at >= 0, `docs/metrics.md has a "${section}" section`);
    const end = doc.indexOf('\n## ', at + 1);
    text = doc.slice(at, end < 0 ? undefined : end);
  }
  return [...text.matchAll(/^\| `(kirana_[a-z0-9_]+)` \|/gm)].map((m) => m[1]);
}

function cFiles(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) cFiles(p, out);
    else if (name.endsWith('.c')) out.push(p);
  }
  return out;
}

/** Every metric name registered in the source: the core's own calls, and
 * plugins' kr_metrics_* calls (which get the "kirana_" prefix). */
function registered() {
  const names = new Set();
  for (const f of cFiles(join(SRC, 'core'))) {
    for (const m of readFileSync(f, 'utf8').matchAll(/krc_metrics_(?:counter|gauge|histogram)\(\s*"(kirana_[a-z0-9_]+)"/g))
      names.add(m[1]);
  }
  for (const dir of ['plugins', 'sdk/examples']) {
    for (const f of cFiles(join(SRC, dir))) {
      for (const m of readFileSync(f, 'utf8').matchAll(/kr_metrics_(?:counter|gauge)\(\s*[^,]+,\s*"([a-z0-9_]+)"/g))
        names.add(`kirana_${m[1]}`);
    }
  }
  return names;
}

test('every metric in the source is documented, and every documented one is in the source', () => {
  const src = registered();
  const docs = new Set(documented());
  assert.ok(src.size >= 15, `found the source's metrics (${src.size})`);
  assert.deepEqual([...src].filter((n) => !docs.has(n)).sort(), [], 'registered but not in docs/metrics.md');
  assert.deepEqual([...docs].filter((n) => !src.has(n)).sort(), [], 'in docs/metrics.md but registered nowhere');
});

test('a running kirana exports every documented core metric, and those of the plugins it loads', async () => {
  const env = serversEnv();
  const db = await freshDatabase('metricsdoc');
  const tag = randomBytes(4).toString('hex');
  const queue = `mdoc-${tag}`;
  const k = await startKirana(baseConfig({
    roles: ['http', 'worker'],
    db: { uri: db.uri },
    redis: { url: env.KIRANA_TEST_REDIS_URL },
    queue: { redis: env.KIRANA_TEST_REDIS_URL, prefix: `kt-mdoc-${tag}` },
    plugins: [
      { name: 'testkit', path: `${FIXTURES}/testkit.so`, mount: '/t', config: { authenticator: true, consume: queue, subscribe: `mdoc-${tag}` } },
      { name: 'hello', path: 'hello.so', mount: '/hello' },
      { name: 'product', path: 'product.so', mount: '/products' },
      { name: 'wishlist', path: 'wishlist.so', mount: '/wishlist' },
    ],
  }));
  try {
    // traffic that makes the lazily registered series exist: a request, a job, an SSE stream
    assert.equal((await h2req(k.url, { path: '/hello/metrics' })).status, 200);
    const job = await h2req(k.url, { method: 'POST', path: '/t/enqueue', body: { queue, name: 'ping', data: {} } });
    assert.equal(job.status, 201, job.body);
    const s = http2.connect(k.url);
    const stream = s.request({ ':path': '/t/events' });
    await new Promise((resolve) => stream.once('data', resolve));

    let text = '';
    await waitFor(async () => {
      text = (await h2req(k.url, { path: '/metrics' })).body;
      return text.includes(`kirana_queue_jobs_total{queue="${queue}",state="completed"} 1`);
    }, 10000, 'the job to complete');
    stream.close();
    s.close();

    const exported = new Set([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => m[1]));
    const want = [...documented('Core'), ...documented('Plugins').filter((n) => /^kirana_(hello|wishlist)_/.test(n))];
    assert.ok(want.length >= 17, `the core and the loaded plugins' metrics (${want.length})`);
    assert.deepEqual(want.filter((n) => !exported.has(n)), [], 'documented but not exported');
    // the documented types are the exported ones
    for (const m of doc.matchAll(/^\| `(kirana_[a-z0-9_]+)` \| (counter|gauge|histogram) \|/gm))
      if (exported.has(m[1])) assert.match(text, new RegExp(`^# TYPE ${m[1]} ${m[2]}$`, 'm'), m[1]);
  } finally {
    await k.stop();
    k.cleanup();
    await db.drop();
  }
});
