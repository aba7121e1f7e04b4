// Several event-loop threads under load. libh2o keeps per-thread caches of
// socket buffers and memory pools and returns memory to the cache of the
// thread that created an object, so every per-loop object must be made on
// its loop's thread. When the loops' answer queues were made on the main
// thread, two loops reading them corrupted the heap within seconds of
// HTTP/1.1 load on a worker-pool route (the ASan build reports it at once;
// the release build crashed or hung).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileP, startKirana, baseConfig, curl } from '../lib/harness.mjs';

let k;

before(async () => {
  k = await startKirana(baseConfig({
    server: { threads: 2, workers: 16 },
    log: { level: 'info', access: false },
    plugins: [{ name: 'hello', path: 'hello.so', mount: '/hello' }],
  }));
});

after(async () => {
  const e = await k.stop();
  k.cleanup();
  assert.equal(e.code, 0, `clean exit on SIGTERM (sanitizer reports fail it): ${k.raw.slice(-2000)}`);
});

async function h2load(args) {
  const { stdout } = await execFileP('h2load', args, { maxBuffer: 1 << 24, timeout: 120000 });
  const m = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(stdout);
  assert.ok(m, stdout);
  return { done: +m[3], succeeded: +m[4], failed: +m[5], errored: +m[6], stdout };
}

for (const [name, extra] of [['HTTP/1.1', ['--h1']], ['h2c', ['-m', '16']]]) {
  test(`two loops answer ${name} load on a worker-pool route and stay healthy`, async () => {
    for (let round = 0; round < 3; round++) {
      const r = await h2load([...extra, '-D', '2', '-c', '32', '-t', '1', `${k.url}/hello/`]);
      assert.ok(r.succeeded > 1000 && r.failed === 0 && r.errored === 0, r.stdout);
      const h = await curl(['-s', '-m', '1', '-o', '/dev/null', '-w', '%{http_code}', `${k.url}/healthz`]);
      assert.equal(h.stdout, '200', `round ${round}: /healthz within 1 s`);
      assert.equal(k.exited, null, 'the server is still running');
    }
  });
}
