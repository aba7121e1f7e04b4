// Attack suite, part 2: what sits in front of the plugins. Spoofed
// X-Forwarded-For against the per-IP OTP limit (without and with trusted
// proxy hops) and path traversal through plugin paths in the config
// (--check-config and startup). tests/hardening/ATTACKS.md maps each
// subtest to the breakage that makes it fail.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, PLUGINS, runKirana, tempDir, writeConfig } from '../lib/harness.mjs';
import { refused, startWorld } from './world.mjs';

const worlds = [];
after(async () => { for (const w of worlds) await w.close(); });

async function authOnly(server, perIp) {
  const w = await startWorld({ server, plugins: [], auth: { otp: { per_ip_per_hour: perIp } } });
  worlds.push(w);
  return w;
}

/** send-otp for a new phone with the given X-Forwarded-For (or none). */
async function send(w, xff) {
  const phone = w.phone();
  const r = await w.req('POST', '/auth/send-otp', { body: { phone }, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } });
  return { phone, r };
}

/** The client_ip of the access-log line of an answer. */
async function clientIp(w, r) {
  const id = r.headers['x-request-id'];
  return (await w.k.waitLog((l) => l.req === id && l.client_ip !== undefined)).client_ip;
}

test('per-IP OTP limit without trusted hops: a new X-Forwarded-For on each request does not reset it', async () => {
  const w = await authOnly({ trusted_proxy_hops: 0 }, 3);
  for (let i = 1; i <= 3; i++) {
    const { r } = await send(w, `198.51.100.${i}`);
    assert.equal(r.status, 202, r.body);
    assert.equal(await clientIp(w, r), '127.0.0.1', 'the socket peer');
  }
  const { phone, r } = await send(w, '198.51.100.99');
  refused(r, 429, 'rate_limited', 'fourth send from one peer');
  assert.ok(Number(r.headers['retry-after']) > 0);
  const { r: none } = await send(w);
  refused(none, 429, 'rate_limited', 'without the header');
  await new Promise((res) => setTimeout(res, 500));
  assert.equal(w.codes(phone).length, 0, 'no SMS for the refused send');
});

test('one trusted hop: only the right-most address counts; spoofing the left part does not reset the limit', async () => {
  const w = await authOnly({ trusted_proxy_hops: 1 }, 2);
  const a1 = (await send(w, '203.0.113.1, 10.0.0.1')).r;
  assert.equal(a1.status, 202, a1.body);
  assert.equal(await clientIp(w, a1), '10.0.0.1');
  assert.equal((await send(w, '203.0.113.2,10.0.0.1')).r.status, 202);
  const { r, phone } = await send(w, '203.0.113.3, 192.0.2.50, 10.0.0.1');
  refused(r, 429, 'rate_limited', 'third send from 10.0.0.1 with a new spoofed prefix');
  // Another client behind the proxy has its own budget.
  const b = (await send(w, '203.0.113.1, 10.0.0.2')).r;
  assert.equal(b.status, 202, b.body);
  assert.equal(await clientIp(w, b), '10.0.0.2');
  // A right-most entry that is not an address falls back to the socket peer.
  const g = (await send(w, '10.0.0.1, not-an-ip')).r;
  assert.equal(await clientIp(w, g), '127.0.0.1');
  await new Promise((res) => setTimeout(res, 500));
  assert.equal(w.codes(phone).length, 0, 'no SMS for the refused send');
});

test('two trusted hops: the second address from the right is the client', async () => {
  const w = await authOnly({ trusted_proxy_hops: 2 }, 1);
  const a = (await send(w, '203.0.113.9, 10.0.0.9, 10.1.1.1')).r;
  assert.equal(a.status, 202, a.body);
  assert.equal(await clientIp(w, a), '10.0.0.9');
  const b = (await send(w, '198.51.100.7, 10.0.0.9, 10.1.1.2')).r;
  refused(b, 429, 'rate_limited', 'same client through another edge proxy');
});

// ---------------------------------------------------------------- plugin paths

/** Runs --check-config and a startup on config; both must refuse with one line. */
async function refusedBoth(dir, config, mentions) {
  const cfg = writeConfig(dir, config);
  for (const args of [['--check-config', cfg], ['--config', cfg]]) {
    const r = await runKirana(args);
    assert.notEqual(r.code, 0, `${args[0]} exits non-zero: ${r.stderr}`);
    assert.equal(r.signal, null, `${args[0]} no signal: ${r.stderr}`);
    const text = (r.stderr + r.stdout).split('\n').filter((l) => l && !l.startsWith('{'));
    assert.equal(text.length, 1, `${args[0]}: one line: ${r.stderr}`);
    for (const m of mentions) assert.ok(text[0].includes(m), `${args[0]}: "${m}" in: ${text[0]}`);
    assert.doesNotMatch(r.stderr + r.stdout, /listening on|initialised/, `${args[0]}: nothing loaded`);
  }
}

test('plugin paths: traversal, sub-folders and symbolic links out of plugin_dir are refused naming the plugin', async () => {
  const dir = tempDir('kirana-atk-paths-');
  try {
    const pdir = join(dir, 'plugins');
    mkdirSync(pdir);
    copyFileSync(join(PLUGINS, 'hello.so'), join(pdir, 'hello.so'));
    mkdirSync(join(pdir, 'sub'));
    copyFileSync(join(PLUGINS, 'hello.so'), join(pdir, 'sub', 'hello.so'));
    symlinkSync(join(FIXTURES, 'testkit.so'), join(pdir, 'evil.so'));
    symlinkSync(join(FIXTURES, 'testkit.so'), join(pdir, 'testkit.so'));
    const cfg = (plugin) => ({ plugin_dir: pdir, plugins: [plugin] });
    // Control: a plain file name inside plugin_dir loads.
    const ok = await runKirana(['--check-config', writeConfig(dir, cfg({ name: 'hello', mount: '/hello' }), 'ok.yaml')]);
    assert.equal(ok.code, 0, ok.stderr);
    for (const path of ['../../x.so', `../${PLUGINS.split('/').pop()}/hello.so`, '../plugins/hello.so', 'sub/hello.so',
      './hello.so', '..', 'sub/../hello.so', '..\\..\\x.so']) {
      await refusedBoth(dir, cfg({ name: 'evil', path }), ['plugins[0].path', path]);
    }
    await refusedBoth(dir, cfg({ name: 'evil', path: 'evil.so' }), ['plugins[0].path', 'evil.so', 'symbolic link']);
    await refusedBoth(dir, cfg({ name: 'testkit' }), ['plugins[0].name', 'testkit.so', 'symbolic link']);
    await refusedBoth(dir, cfg({ name: '../../tmp/x' }), ['plugins[0].name', '../../tmp/x']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
