// A third-party plugin built out of tree against the installed SDK (cmake
// --install + pkg-config), loaded by the server, answering over HTTP/2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { execFileP, tempDir, startKirana, baseConfig, h2req, SRC, BUILD } from '../lib/harness.mjs';

test('sdk/examples/hello builds with pkg-config against the installed SDK and serves over h2c', async () => {
  const dir = tempDir();
  const prefix = join(dir, 'prefix');
  await execFileP('cmake', ['--install', BUILD, '--prefix', prefix, '--component', 'sdk']);
  const src = join(dir, 'hello');
  cpSync(join(SRC, 'sdk/examples/hello'), src, { recursive: true });
  // the .pc file names the prefix given at configure time; point it here
  const env = { ...process.env, PKG_CONFIG_PATH: ['lib', 'lib/x86_64-linux-gnu', 'lib64'].map((l) => join(prefix, l, 'pkgconfig')).join(':') };
  const { stdout } = await execFileP('pkg-config', ['--define-variable=prefix=' + prefix, '--cflags', '--libs', 'kirana-sdk'], { env });
  assert.match(stdout, new RegExp(`-I${prefix}/include`));
  await execFileP('make', ['-C', src, `PKG_CONFIG=pkg-config --define-variable=prefix=${prefix}`], { env });
  const k = await startKirana(baseConfig({ plugin_dir: src, plugins: [{ name: 'hello', path: 'hello.so', mount: '/oot', config: { greeting: 'vanakkam' } }] }));
  try {
    const r = await h2req(k.url, { path: '/oot/chennai' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { message: 'vanakkam, chennai' });
  } finally { await k.stop(); k.cleanup(); }
});
