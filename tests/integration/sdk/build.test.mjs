// sdk/README.md's out-of-tree build, run as written: the block after
// "<!-- tested: out-of-tree build -->" installs the SDK from this build,
// compiles sdk/examples/wishlist with pkg-config, and the .so it makes is
// loaded by a real kirana and answers over HTTP/2. The example's Makefile
// is checked to build the same plugin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execFileP, tempDir, startKirana, baseConfig, h2req, SRC, BUILD, FIXTURES, SANITIZED } from '../lib/harness.mjs';
import { freshDatabase } from '../lib/db.mjs';

const MARK = '<!-- tested: out-of-tree build -->';
// A plugin linked with -Wl,--no-undefined against the SDK of a sanitizer
// build needs the sanitizer runtime too, as the guide says.
const CFLAGS = `-O2 -Wall -Wextra -Werror${SANITIZED ? ' -fsanitize=address,undefined' : ''}`;

/** The guide's shell block, without the three lines that pick folders and flags. */
function guideBlock() {
  const md = readFileSync(join(SRC, 'sdk/README.md'), 'utf8');
  const at = md.indexOf(MARK);
  assert.ok(at >= 0, `sdk/README.md has the ${MARK} marker`);
  const m = /^```sh\n([\s\S]*?)^```$/m.exec(md.slice(at));
  assert.ok(m, 'a ```sh block follows the marker');
  const lines = m[1].split('\n');
  const picks = lines.filter((l) => /^(KIRANA_BUILD|PREFIX|CFLAGS)=/.test(l));
  assert.equal(picks.length, 3, 'the block sets KIRANA_BUILD, PREFIX and CFLAGS on lines of their own');
  return lines.filter((l) => !picks.includes(l)).join('\n');
}

/** kr_* symbols a shared object exports. */
async function exportedKr(so) {
  const { stdout } = await execFileP('nm', ['-D', '--defined-only', so]);
  return stdout.split('\n').map((l) => l.split(' ').pop()).filter((n) => n.startsWith('kr_'));
}

test('the guide\'s out-of-tree build makes a wishlist.so that kirana loads and serves', async () => {
  const dir = tempDir();
  const prefix = join(dir, 'prefix');
  // the block works from a folder holding the plugin at sdk/examples/wishlist
  const work = join(dir, 'work');
  const plugin = join(work, 'sdk/examples/wishlist');
  mkdirSync(plugin, { recursive: true });
  cpSync(join(SRC, 'sdk/examples/wishlist'), plugin, { recursive: true });
  rmSync(join(plugin, 'wishlist.so'), { force: true });

  const { stdout } = await execFileP('bash', ['-euo', 'pipefail', '-c', guideBlock()], {
    cwd: work, env: { ...process.env, KIRANA_BUILD: BUILD, PREFIX: prefix, CFLAGS },
  });
  assert.match(stdout, new RegExp(`-I${prefix}/include`), 'pkg-config points at the installed headers');
  assert.match(stdout, /-lkirana_sdk/);
  assert.match(stdout, /\bT kr_plugin_entry\b/, 'the entry symbol is exported');
  assert.deepEqual(await exportedKr(join(plugin, 'wishlist.so')), ['kr_plugin_entry'], 'nothing of the SDK leaks out');

  const db = await freshDatabase('wl_oot');
  const k = await startKirana(baseConfig({
    db: { uri: db.uri },
    plugin_dir: plugin,
    plugins: [
      { name: 'testkit', path: `${FIXTURES}/testkit.so`, mount: '/t', config: { authenticator: true } },
      { name: 'product', path: join(process.env.KIRANA_PLUGIN_DIR, 'product.so'), mount: '/products' },
      { name: 'wishlist', path: 'wishlist.so', mount: '/saved', config: { max_items: 3 } },
    ],
  }));
  try {
    const admin = { authorization: 'Bearer test-admin-a', 'content-type': 'application/json' };
    const user = { authorization: 'Bearer test-user-u', 'content-type': 'application/json' };
    const p = await h2req(k.url, { method: 'POST', path: '/products', headers: admin, body: { name: 'Jaggery', price: 9900, stock: 4 } });
    assert.equal(p.status, 201, p.body);
    const r = await h2req(k.url, { method: 'POST', path: '/saved/items', headers: user, body: { product_id: p.json.id } });
    assert.equal(r.status, 201, r.body);
    assert.equal(r.headers.location, `/saved/items/${p.json.id}`);
    const l = await h2req(k.url, { path: '/saved', headers: user });
    assert.equal(l.status, 200);
    assert.equal(l.json.max_items, 3);
    assert.deepEqual(l.json.items.map((i) => [i.product_id, i.name, i.price]), [[p.json.id, 'Jaggery', 9900]]);
  } finally {
    await k.stop();
    k.cleanup();
    await db.drop();
  }

  // the Makefile the guide mentions builds the same plugin
  rmSync(join(plugin, 'wishlist.so'));
  const pcPath = ['lib', 'lib/x86_64-linux-gnu'].map((l) => join(prefix, l, 'pkgconfig')).join(':');
  await execFileP('make', ['-C', plugin, `PKG_CONFIG=pkg-config --define-variable=prefix=${prefix}`], {
    env: { ...process.env, PKG_CONFIG_PATH: pcPath, CFLAGS },
  });
  assert.ok(existsSync(join(plugin, 'wishlist.so')));
  assert.deepEqual(await exportedKr(join(plugin, 'wishlist.so')), ['kr_plugin_entry']);
  rmSync(dir, { recursive: true, force: true });
});
