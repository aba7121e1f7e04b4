// docs/configuration.md is generated from the schema the server enforces
// (tools/gen-config-doc.mjs over `kirana --config-schema`): the committed
// file must be what the generator makes now, the generator must refuse a
// key it has no words for, and the README's configuration tables must name
// every key of the schema.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SRC, BIN } from '../lib/harness.mjs';

const GEN = join(SRC, 'tools/gen-config-doc.mjs');
const schema = JSON.parse(spawnSync(BIN, ['--config-schema'], { encoding: 'utf8' }).stdout);

function gen(args, input) {
  return spawnSync(process.execPath, [GEN, ...args], { encoding: 'utf8', input });
}

/** Every key path of the schema: server.listen[].host, ... */
function keyPaths(s, prefix = '', out = []) {
  for (const [name, sub] of Object.entries(s.properties || {})) {
    const path = prefix ? `${prefix}.${name}` : name;
    out.push(path);
    const types = [].concat(sub.type || []);
    if (types.includes('object')) keyPaths(sub, path, out);
    if (types.includes('array') && sub.items?.properties) keyPaths(sub.items, `${path}[]`, out);
  }
  return out;
}

test('docs/configuration.md is what the generator makes from this kirana', () => {
  const r = gen(['--kirana', BIN]);
  assert.equal(r.status, 0, r.stderr);
  const committed = readFileSync(join(SRC, 'docs/configuration.md'), 'utf8');
  assert.ok(r.stdout === committed,
    'docs/configuration.md is stale: run node tools/gen-config-doc.mjs --kirana build/core/kirana --out docs/configuration.md');
  // and it covers every key, with its default
  for (const p of keyPaths(schema)) assert.ok(committed.includes(`| \`${p}\` |`), `row for ${p}`);
  assert.match(committed, /\| `server\.workers` \| integer \| 1 \.\. 1024 \| `16` \|/);
});

test('the generator refuses a key without a description, and descriptions of keys that are gone', () => {
  const extra = structuredClone(schema);
  extra.properties.server.properties.new_knob = { type: 'integer', default: 1 };
  let r = gen(['--schema', '-'], JSON.stringify(extra));
  assert.equal(r.status, 1);
  assert.match(r.stderr, /config key server\.new_knob has no description/);

  const fewer = structuredClone(schema);
  delete fewer.properties.server.properties.threads;
  r = gen(['--schema', '-'], JSON.stringify(fewer));
  assert.equal(r.status, 1);
  assert.match(r.stderr, /DESCRIPTIONS has keys the schema lacks: server\.threads/);

  // a description in the schema itself is used
  const described = structuredClone(schema);
  described.properties.server.properties.new_knob = { type: 'integer', description: 'A new knob.' };
  r = gen(['--schema', '-'], JSON.stringify(described));
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /\| `server\.new_knob` \| integer \|  \| — \| A new knob\. \|/);
});

test('the README\'s configuration tables name every key of the schema', () => {
  const readme = readFileSync(join(SRC, 'README.md'), 'utf8');
  // Tables whose first header cell ends in "key": "| key |" (full paths) or
  // "| `queue.` key |" (paths under that prefix). Each row: [path, text].
  const rows = [];
  let prefix = null;
  for (const line of readme.split('\n')) {
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    if (!line.startsWith('|') || cells.length < 2) { prefix = null; continue; }
    const m = /^(?:`([^`]*)`\s*)?key$/.exec(cells[0]);
    if (m) { prefix = m[1] || ''; continue; }
    if (prefix === null || /^-+$/.test(cells[0])) continue;
    const key = /^`([^`]+)`$/.exec(cells[0]);
    if (key) rows.push([prefix + key[1], line]);
  }
  assert.ok(rows.length >= 20, `found the README's configuration rows (${rows.length})`);
  // A key is named by its own row (`a` or `a[]`), by rows of its members
  // (`log.level` names `log`), or by its parent's row listing it
  // (`db` | `{uri, pool_size 1..1024, timeout_ms}`).
  const named = (path) => {
    if (rows.some(([p]) => p === path || p === `${path}[]` || p.startsWith(`${path}.`) || p.startsWith(`${path}[].`)))
      return true;
    const at = Math.max(path.lastIndexOf('.'), path.lastIndexOf('[]'));
    if (at < 0) return false;
    const parent = path.slice(0, at), leaf = path.slice(path.lastIndexOf('.') + 1);
    const parentRows = rows.filter(([p]) => p === parent || p === `${parent}[]` || p === parent.replace(/\[\]$/, '[]'));
    if (parentRows.some(([, text]) => new RegExp(`\\b${leaf}\\b`).test(text))) return true;
    // a nested object listed inline: server.listen[].tls.cert in `{..., tls: {cert, key}}`
    return parent.includes('.') && named(parent) && rows.some(([, t]) => new RegExp(`\\b${parent.split('.').pop()}: \\{[^}]*\\b${leaf}\\b`).test(t));
  };
  const missing = keyPaths(schema).filter((p) => !named(p));
  assert.deepEqual(missing, [], 'README.md configuration tables lack these keys');
});
