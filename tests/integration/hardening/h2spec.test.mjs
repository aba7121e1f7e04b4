// HTTP/2 conformance: tests/hardening/h2spec.sh runs h2spec against kirana
// over h2c and TLS; the pass counts must not drop below the baseline
// recorded in tests/hardening/H2SPEC.md (which explains each failure).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileP, SRC, BUILD, BIN } from '../lib/harness.mjs';

test('h2spec pass counts over h2c and TLS stay at or above the baseline', { timeout: 300000 }, async (t) => {
  const md = readFileSync(join(SRC, 'tests/hardening/H2SPEC.md'), 'utf8');
  const b = /^Baseline: h2c (\d+)\/(\d+), tls (\d+)\/(\d+)/m.exec(md);
  assert.ok(b, 'H2SPEC.md has a "Baseline: h2c P/T, tls P/T" line');
  const baseline = { h2c: Number(b[1]), tls: Number(b[3]) };
  const { stdout } = await execFileP(join(SRC, 'tests/hardening/h2spec.sh'), [BUILD],
    { env: { ...process.env, KIRANA_BIN: BIN }, maxBuffer: 16 << 20 });
  for (const line of stdout.trimEnd().split("\n")) t.diagnostic(line);
  for (const name of ['h2c', 'tls']) {
    const m = new RegExp(`^h2spec ${name}: (\\d+) passed, (\\d+) failed of (\\d+)$`, 'm').exec(stdout);
    assert.ok(m, `a summary for ${name}`);
    assert.ok(Number(m[1]) >= baseline[name], `${name}: ${m[1]} passed, baseline ${baseline[name]}`);
  }
});
