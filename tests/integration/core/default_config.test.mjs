// The default config/kirana.yaml: what `scripts/run.sh` serves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startKirana, tempDir, makeCert, curl, h2req, serversEnv, SRC, runKirana, writeConfig } from '../lib/harness.mjs';
import { freshDatabase } from '../lib/db.mjs';

test('config/kirana.yaml serves /healthz over h2c and TLS h2, /readyz sees PostgreSQL and Redis', async () => {
  const srv = serversEnv();
  const db = await freshDatabase();
  const dir = tempDir();
  mkdirSync(join(dir, 'certs'));
  const cert = await makeCert(join(dir, 'certs'));
  // the shipped file, with the test's certificate and plugin folder
  const text = readFileSync(join(SRC, 'config/kirana.yaml'), 'utf8')
    .replace('certs/dev.crt', cert.crt).replace('certs/dev.key', cert.key);
  const env = {
    KIRANA_PORT: '0', KIRANA_TLS_PORT: '0', KIRANA_DB_URI: db.uri,
    KIRANA_REDIS_URL: srv.KIRANA_TEST_REDIS_URL, KIRANA_QUEUE_REDIS_URL: srv.KIRANA_TEST_REDIS_URL,
  };
  const check = await runKirana(['--check-config', writeConfig(dir, text, 'check.yaml')], { env });
  assert.equal(check.code, 0, check.stderr);
  const k = await startKirana(text, { dir, env, listeners: 2 });
  try {
    const h2c = await curl(['--http2-prior-knowledge', '-s', `http://127.0.0.1:${k.ports[0]}/healthz`]);
    assert.equal(h2c.stdout, '{"status":"ok"}');
    const tls = await curl(['-k', '--http2', '-si', `https://127.0.0.1:${k.ports[1]}/healthz`]);
    assert.match(tls.stdout, /^HTTP\/2 200/);
    const ready = await h2req(`http://127.0.0.1:${k.ports[0]}`, { path: '/readyz' });
    assert.equal(ready.status, 200, ready.body);
    assert.deepEqual(Object.keys(ready.json.checks).sort(), ['db', 'queue', 'redis']);
    assert.deepEqual((await h2req(`http://127.0.0.1:${k.ports[0]}`, { path: '/hello' })).json, { message: 'hello, world' });
  } finally {
    const e = await k.stop();
    k.cleanup();
    await db.drop();
    assert.equal(e.code, 0);
  }
});

test('/readyz answers 503 problem while PostgreSQL is unreachable', async () => {
  const k = await startKirana({
    server: { listen: [{ host: '127.0.0.1', port: 0 }] },
    roles: ['http'],
    db: { uri: 'postgresql://postgres@127.0.0.1:1/nothing', timeout_ms: 500 },
  });
  try {
    const r = await h2req(k.url, { path: '/readyz' });
    assert.equal(r.status, 503);
    assert.equal(r.headers['content-type'], 'application/problem+json');
    assert.equal(r.json.checks.db.status, 'fail');
    assert.equal((await h2req(k.url, { path: '/healthz' })).status, 200, 'liveness does not depend on the DB');
  } finally { await k.stop(); k.cleanup(); }
});
