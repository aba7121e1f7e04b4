// docs/kirana.service: a unit systemd accepts without a warning, hardened
// (systemd-analyze security rates it OK), with the directives operators rely
// on, and a stop timeout longer than the drain it waits for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, writeConfig, baseConfig, BIN, SRC } from '../lib/harness.mjs';

const unit = readFileSync(join(SRC, 'docs/kirana.service'), 'utf8');

/** Values of a directive in the unit, in order. */
const values = (key) => [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]);

const analyzer = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
const noAnalyzer = analyzer.error ? `systemd-analyze is not installed (${analyzer.error.code})` : false;

/** The unit with its paths pointed at this build and a config that loads. */
function localUnit() {
  const dir = tempDir();
  const cfg = writeConfig(dir, baseConfig({ plugins: [{ name: 'hello', path: 'hello.so', mount: '/hello' }] }));
  const path = join(dir, 'kirana.service');
  writeFileSync(path, unit.replaceAll('/opt/kirana/bin/kirana', BIN).replaceAll('/etc/kirana/kirana.yaml', cfg));
  return path;
}

test('the directives operators rely on', () => {
  assert.deepEqual(values('Type'), ['exec']);
  assert.deepEqual(values('User'), ['kirana']);
  assert.deepEqual(values('ExecStart'), ['/opt/kirana/bin/kirana --config /etc/kirana/kirana.yaml']);
  assert.deepEqual(values('Restart'), ['on-failure']);
  assert.deepEqual(values('KillSignal'), ['SIGTERM']);
  assert.ok(Number(values('LimitNOFILE')[0]) >= 65536);
  assert.deepEqual(values('NoNewPrivileges'), ['yes']);
  assert.deepEqual(values('ProtectSystem'), ['strict']);
  assert.deepEqual(values('ReadWritePaths'), ['/var/log/kirana']);
  assert.deepEqual(values('ExecReload'), ['/bin/kill -HUP $MAINPID']);
});

test('TimeoutStopSec is longer than the drain of the production config and the default', () => {
  const stop = Number(values('TimeoutStopSec')[0]) * 1000;
  const prod = Number(/shutdown_timeout_ms:\s*(\d+)/.exec(readFileSync(join(SRC, 'config/production.yaml'), 'utf8'))[1]);
  const schema = JSON.parse(spawnSync(BIN, ['--config-schema'], { encoding: 'utf8' }).stdout);
  const dflt = schema.properties.server.properties.shutdown_timeout_ms.default;
  assert.ok(stop > prod, `TimeoutStopSec ${stop} ms > production's shutdown_timeout_ms ${prod}`);
  assert.ok(stop > dflt, `TimeoutStopSec ${stop} ms > the default shutdown_timeout_ms ${dflt}`);
});

test('systemd-analyze verify accepts it without a warning', { skip: noAnalyzer }, () => {
  const r = spawnSync('systemd-analyze', ['verify', localUnit()], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr.trim(), '', 'no warnings (unknown keys, bad values)');
});

test('systemd-analyze security rates the hardening OK', { skip: noAnalyzer }, () => {
  const r = spawnSync('systemd-analyze', ['security', '--offline=yes', localUnit()], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const m = /Overall exposure level for \S+: ([\d.]+) (\w+)/.exec(r.stdout);
  assert.ok(m, r.stdout.slice(-500));
  assert.ok(Number(m[1]) <= 2.0, `exposure ${m[1]} ${m[2]}`);
});
