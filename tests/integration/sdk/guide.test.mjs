// sdk/README.md against the code it describes: every refusal the loader can
// make is in the guide's table, and every kr_* function the guide names
// exists in the SDK headers or the fake host. Either drift fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SRC } from '../lib/harness.mjs';

const guide = readFileSync(join(SRC, 'sdk/README.md'), 'utf8');
const read = (p) => readFileSync(join(SRC, p), 'utf8');

/** The C string literals (adjacent ones joined) of each call starting with `call`. */
function formats(source, call) {
  const out = [];
  let at = 0;
  while ((at = source.indexOf(call, at)) >= 0) {
    at += call.length;
    const lits = /^\s*((?:"(?:[^"\\]|\\.)*"\s*)+)/.exec(source.slice(at));
    if (!lits) continue;
    const text = [...lits[1].matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]).join('');
    out.push(text.replace(/\\"/g, '"').replace(/\\\\/g, '\\'));
  }
  return out;
}

/** The fixed words of a printf format: the text between conversions. */
const fixedParts = (fmt) => fmt.split(/%[-0-9.]*(?:z|l|ll)?[sdiuxc]/).filter((p) => p.trim().length >= 4);

test('every loader refusal is in the guide', () => {
  const PREFIX = 'plugin "%s" (%s): ';
  const reasons = [
    ...formats(read('core/server/loader.c'), 'refuse(err, errlen, pc,'),
    ...[...formats(read('core/server/loader.c'), 'snprintf(err, errlen,'),
      ...formats(read('core/server/run.c'), 'snprintf(err, errlen,')]
      .filter((f) => f.startsWith(PREFIX)).map((f) => f.slice(PREFIX.length)),
  ];
  assert.ok(reasons.length >= 17, `found the loader's refusals (${reasons.length})`);
  const missing = [];
  for (const r of reasons)
    for (const part of fixedParts(r)) if (!guide.includes(part)) missing.push(`${JSON.stringify(part)} (of "${r}")`);
  assert.deepEqual(missing, [], 'refusal wording missing from sdk/README.md "What the loader refuses"');
});

test('every kr_* function the guide names exists', () => {
  const headers = [
    ...readdirSync(join(SRC, 'sdk/include/kirana')).map((f) => read(`sdk/include/kirana/${f}`)),
    read('tests/fakehost/kirana/fakehost.h'),
  ].join('\n');
  // Functions the guide calls must be declared as functions; names in code
  // spans (types, handles, macros) must at least be declared.
  const called = new Set([...guide.matchAll(/\b(kr_[a-z0-9_]+)\s*\(/g)].map((m) => m[1]));
  const spans = new Set([...guide.matchAll(/`(kr_[a-z0-9_]+)`/g)].map((m) => m[1]));
  // the plugin's own entry point is defined by the plugin, declared as a type
  called.delete('kr_plugin_entry');
  assert.ok(called.size >= 40, `the guide calls the SDK (${called.size} functions)`);
  const unknown = [
    ...[...called].filter((n) => !new RegExp(`\\b${n}\\s*\\(`).test(headers)),
    ...[...spans].filter((n) => !new RegExp(`\\b${n}\\b`).test(headers)),
  ];
  assert.deepEqual(unknown, []);
});
