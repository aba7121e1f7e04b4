// docs/logging.md against a running kirana: log lines and access lines have
// exactly the fields the page lists, the access path leaves out the query
// string, and rename + SIGHUP rotates log.file without losing a line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { startKirana, baseConfig, tempDir, h2req, waitFor, SRC } from '../lib/harness.mjs';

const doc = readFileSync(join(SRC, 'docs/logging.md'), 'utf8');

/** The backticked names in the first column of the table under `heading`. */
function fields(heading) {
  const at = doc.indexOf(heading);
  assert.ok(at >= 0, `docs/logging.md has "${heading}"`);
  const table = doc.slice(at).split('\n\n').find((block) => block.startsWith('| field'));
  return [...table.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]);
}

const lines = (file) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []);

test('log and access lines carry the documented fields; SIGHUP reopens log.file', async () => {
  const dir = tempDir();
  const log = join(dir, 'kirana.log');
  // with log.file nothing reaches stderr, so the port is read from the file
  const k = await startKirana(baseConfig({ log: { file: log }, plugins: [{ name: 'hello', path: 'hello.so', mount: '/hello' }] }), {
    dir, listeners: 0,
  });
  try {
    await waitFor(() => lines(log).some((l) => /^listening on /.test(l.msg)), 5000, 'the listening line');
    const port = /:(\d+) /.exec(lines(log).find((l) => /^listening on /.test(l.msg)).msg)[1];
    const url = `http://127.0.0.1:${port}`;
    const r = await h2req(url, { path: '/hello/log?token=secret' });
    assert.equal(r.status, 200);
    const reqId = r.headers['x-request-id'];

    const general = fields('## Lines');
    const access = fields('## Access log');
    await waitFor(() => lines(log).some((l) => l.type === 'access'), 5000, 'the access line');
    for (const l of lines(log).filter((x) => x.type !== 'access')) {
      for (const key of Object.keys(l)) assert.ok(general.includes(key), `"${key}" of ${JSON.stringify(l)} is documented`);
      for (const key of ['ts', 'level', 'msg']) assert.ok(key in l);
      assert.match(l.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    const a = lines(log).find((l) => l.type === 'access');
    assert.deepEqual(Object.keys(a).sort(), ['level', 'ts', ...access].sort());
    assert.equal(a.req, reqId, 'the access line carries the x-request-id');
    assert.equal(a.path, '/hello/log', 'no query string in the access log');
    assert.equal(a.route, 'GET /hello/{name}');
    assert.equal(a.proto, 'HTTP/2');
    assert.equal(a.status, 200);
    assert.equal(a.bytes_out, Buffer.byteLength(r.body));
    assert.equal(typeof a.dur_ms, 'number');
    assert.doesNotMatch(readFileSync(log, 'utf8'), /secret/);

    // rotation: rename, SIGHUP, and the next lines land in a new file
    renameSync(log, `${log}.1`);
    assert.equal((await h2req(url, { path: '/hello/before' })).status, 200);
    k.proc.kill('SIGHUP');
    await waitFor(() => lines(log).length > 0, 5000, 'the reopened log');
    assert.equal(lines(log)[0].msg, 'log reopened on SIGHUP');
    assert.equal((await h2req(url, { path: '/hello/after' })).status, 200);
    await waitFor(() => lines(log).some((l) => l.path === '/hello/after'), 5000, 'the access line in the new file');
    const old = lines(`${log}.1`);
    assert.ok(old.some((l) => l.path === '/hello/before'), 'a line written before SIGHUP stays in the renamed file');
    assert.ok(!old.some((l) => l.path === '/hello/after'));
  } finally {
    const e = await k.stop();
    k.cleanup();
    assert.equal(e.code, 0);
  }
});
