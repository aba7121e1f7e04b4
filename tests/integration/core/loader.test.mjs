// The loader refuses every broken plugin with one clear line, and the CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runKirana, tempDir, writeConfig, baseConfig, FIXTURES, PLUGINS } from '../lib/harness.mjs';

async function refused(plugins, pattern, extra = {}) {
  const dir = tempDir();
  const cfg = writeConfig(dir, baseConfig({ plugin_dir: FIXTURES, plugins, ...extra }));
  const r = await runKirana(['--check-config', cfg]);
  assert.notEqual(r.code, 0, `expected refusal, got exit 0: ${r.stdout}`);
  const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('kirana: '));
  assert.equal(lines.length, 1, `one error line, got:\n${r.stderr}`);
  assert.match(lines[0], pattern);
  return lines[0];
}

test('missing file', () => refused([{ name: 'gone', path: 'gone.so' }], /plugin "gone" \(.*gone\.so\): cannot read the file: No such file/));
test('not an ELF file', () => refused([{ name: 'x', path: 'not_elf.so' }], /plugin "x" \(.*not_elf\.so\): cannot load: .*(invalid ELF|too short|file too short)/));
test('undefined symbol', () => refused([{ name: 'u', path: 'undefined_sym.so' }], /plugin "u" .*cannot load: .*undefined symbol: kirana_symbol_that_does_not_exist/));
test('missing entry symbol', () => refused([{ name: 'n', path: 'no_entry.so' }], /plugin "n" .*not a kirana plugin: no kr_plugin_entry symbol/));
test('bad magic', () => refused([{ name: 'b', path: 'bad_magic.so' }], /plugin "b" .*bad descriptor magic 0xdeadbeef/));
test('ABI major mismatch', () => refused([{ name: 'a', path: 'abi_major.so' }], /plugin "a" .*built for SDK ABI 2\.0, this server speaks ABI 1\.\d+ \(major differs\)/));
test('ABI minor newer than host', () => refused([{ name: 'a', path: 'abi_minor.so' }], /plugin "a" .*newer than this server's 1\.\d+: upgrade kirana/));
test('duplicate plugin name', () => refused([{ name: 'one', path: 'testkit.so' }, { name: 'two', path: 'testkit.so', mount: '/t2' }], /plugin "two" .*duplicate plugin name "testkit": entry "one"/));
test('missing dependency', () => refused([{ name: 'm', path: 'missing_dep.so' }], /plugin "missing_dep" .*depends on "nowhere", which is not loaded/));
test('init failure', () => refused([{ name: 'i', path: 'init_fail.so' }], /plugin "init_fail" .*init failed: route method "BREW"/));
test('route conflict names both plugins', () => refused([
  { name: 'hello', path: `${PLUGINS}/hello.so`, mount: '/hello' },
  { name: 'conflict', path: 'conflict.so', mount: '/hello' },
], /plugin "conflict" .*init failed: route conflict: .*"hello".*"conflict"|plugin "conflict" .*init failed: route conflict: .*"conflict".*"hello"/));
test('protected route without an authenticator', () => refused([{ name: 'p', path: 'protected.so' }], /plugin "protected" .*route GET \/secret needs authentication, but no loaded plugin provides an authenticator/));
test('plugin config violating its schema names file:line:col', () => refused(
  [{ name: 'hello', path: `${PLUGINS}/hello.so`, config: { greeting: 42 } }], /kirana\.yaml:\d+:\d+: plugins\[0\]\.config\.greeting: .*string/));
test('unknown plugin config key', () => refused(
  [{ name: 'hello', path: `${PLUGINS}/hello.so`, config: { greting: 'x' } }], /kirana\.yaml:\d+:\d+: plugins\[0\]\.config.*greting/));
test('plugin path cannot leave plugin_dir', () => refused([{ name: 'x', path: '../../etc/x.so' }], /kirana\.yaml:\d+:\d+: .*path/));

test('--check-config accepts a good config without listening', async () => {
  const dir = tempDir();
  const cfg = writeConfig(dir, baseConfig({ server: { listen: [{ host: '127.0.0.1', port: 1 }] }, plugins: [{ name: 'hello', path: 'hello.so', mount: '/hello' }] }));
  const r = await runKirana(['--check-config', cfg]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /configuration OK \(1 plugins, \d+ routes\)/);
});

test('config syntax error: one line FILE:LINE:COL', async () => {
  const dir = tempDir();
  const cfg = writeConfig(dir, 'server:\n  listen:\n    - { host: 127.0.0.1, port: 8080 }\n  lisen: 3\n');
  const r = await runKirana(['--check-config', cfg]);
  assert.equal(r.code, 2);
  assert.match(r.stderr.trim(), /^kirana: .*kirana\.yaml:4:3: .*unknown key "lisen"/);
});

test('--version and --list-plugins', async () => {
  const v = await runKirana(['--version']);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^kirana \d+\.\d+\.\d+ \(plugin ABI 1\.\d+\)/);
  const dir = tempDir();
  const cfg = writeConfig(dir, baseConfig({ plugins: [{ name: 'hello', path: 'hello.so', mount: '/hello' }] }));
  const l = await runKirana(['--list-plugins', '--config', cfg]);
  assert.equal(l.code, 0, l.stderr);
  assert.match(l.stdout, /^NAME/);
  assert.match(l.stdout, /hello\s+1\.0\.0\s+1\.\d+\s+\/hello\s+.*hello\.so/);
});

test('a busy port is refused at startup', async () => {
  const net = await import('node:net');
  const srv = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => srv.on('listening', r));
  const dir = tempDir();
  const cfg = writeConfig(dir, baseConfig({ server: { listen: [{ host: '127.0.0.1', port: srv.address().port }] } }));
  const r = await runKirana(['--config', cfg]);
  srv.close();
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /cannot listen on 127\.0\.0\.1:\d+: Address already in use/);
});
