#!/usr/bin/env node
// Generates docs/configuration.md from the config file's JSON schema, the
// one kirana enforces (`kirana --config-schema`), so the reference cannot
// drift from the server: tests/integration/docs/config-doc.test.mjs
// regenerates it and fails when the committed file differs.
//
//   node tools/gen-config-doc.mjs [--kirana BIN | --schema FILE|-] [--out FILE]
//
// Without --kirana or --schema it runs build/core/kirana. Output goes to
// stdout unless --out is given. The schema carries types, ranges and
// defaults; what each key means is written below in DESCRIPTIONS, keyed by
// path (a "description" in the schema wins). A key without a description is
// an error, so a new key cannot reach the docs undescribed.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const DESCRIPTIONS = {
  server: 'Listeners, threads, limits and timeouts of the HTTP server.',
  'server.listen': 'Addresses to listen on. Without `tls` a listener speaks HTTP/1.1 and h2c (HTTP/2 with prior knowledge); with `tls` it speaks h2 and HTTP/1.1, chosen by ALPN.',
  'server.listen[].host': 'IP address or host name to bind.',
  'server.listen[].port': 'TCP port; 0 takes a free port, which the log names ("listening on ...").',
  'server.listen[].tls': 'Serve TLS on this listener.',
  'server.listen[].tls.cert': 'PEM certificate chain file (relative to the config file\'s folder).',
  'server.listen[].tls.key': 'PEM private key file (relative to the config file\'s folder).',
  'server.threads': 'Event-loop threads, each with its own h2o context and `SO_REUSEPORT` socket. They only parse, route and write; one or two per core is plenty.',
  'server.workers': 'Worker-pool threads that run plugin handlers (which may block on the database, Redis and the queue). Size it for the concurrency of blocking calls, not the core count.',
  'server.queue_depth': 'Requests that may wait for a free worker; past it new requests get 503 with `Retry-After` (`kirana_http_rejected_total`).',
  'server.max_body': 'Largest request body in bytes; a larger one gets 413.',
  'server.max_json_depth': 'Deepest nesting a JSON body may have; deeper is 400.',
  'server.request_timeout_ms': 'HTTP/1.1 request timeout and HTTP/2 idle timeout, in milliseconds.',
  'server.shutdown_timeout_ms': 'On SIGTERM, how long in-flight requests and running jobs may take to finish, in milliseconds (a service manager\'s stop timeout must be longer).',
  'server.trusted_proxy_hops': 'With N > 0 the client IP is the N-th address from the right of `X-Forwarded-For` (N load balancers in front); with 0 it is the socket peer. Rate limits use it.',
  'server.h2_max_resets_per_10s': 'HTTP/2 stream resets a connection may send in 10 seconds before it is closed (rapid-reset guard).',
  'server.cors': 'Cross-origin access for browser clients; off while `allow_origins` is empty.',
  'server.cors.allow_origins': 'Origins allowed to read answers (`https://shop.example`), or `["*"]` for any.',
  'server.cors.allow_headers': 'Request headers a preflight may ask for.',
  'server.cors.max_age': 'Seconds a browser may cache a preflight answer.',
  roles: 'What this process does: `http` serves plugin routes, `worker` runs queue consumers. A worker-only process answers only `/healthz`, `/readyz` and `/metrics`. Run both roles in one process, or scale them apart.',
  db: 'The document store. Absent: no database (plugins that need one refuse to start).',
  'db.uri': '`postgresql://` / `postgres://` (PostgreSQL backend) or `mongodb://` (MongoDB backend) connection URI.',
  'db.pool_size': 'Connections in the pool (made on demand).',
  'db.timeout_ms': 'Deadline of one call, in milliseconds: pool wait, connecting and every round trip. Past it the call fails as unavailable (503).',
  redis: 'The Redis for carts, OTPs, rate limits and pub/sub. Absent: no Redis.',
  'redis.url': '`redis://[[user]:password@]host[:port][/db]`.',
  'redis.pool_size': 'Connections in the pool.',
  'redis.timeout_ms': 'Connect and command timeout in milliseconds; past it the call fails as unavailable (503).',
  queue: 'The BullMQ-compatible job queue. Absent: no queue. Its Redis must use `maxmemory-policy noeviction`.',
  'queue.redis': 'The queue\'s Redis URL (may be another server than `redis.url`).',
  'queue.prefix': 'Key prefix: keys are `<prefix>:<queue>:*`. Use a hash tag such as `{bull}` on Redis Cluster; Node BullMQ peers must use the same prefix.',
  'queue.lock_duration_ms': 'Lock a consumer holds on a running job, renewed every half of it; a job whose lock lapses is run again elsewhere.',
  'queue.stalled_interval_ms': 'How often active jobs are checked for lost locks.',
  'queue.max_stalled_count': 'Recoveries of one job before it fails as stalled.',
  'queue.drain_delay_ms': 'Longest idle wait on Redis for new jobs before polling again.',
  'queue.timeout_ms': 'Connect and command timeout of the queue\'s Redis calls, in milliseconds.',
  log: 'Log output.',
  'log.level': 'Lowest level written.',
  'log.file': 'File to append JSON lines to (relative to the config file\'s folder); null writes to stderr. SIGHUP reopens it, for log rotation.',
  'log.access': 'One access line per request (independent of `level`).',
  plugin_dir: 'Folder where relative plugin paths are found (relative to the config file\'s folder); null: the folder the build or package installed plugins in.',
  plugins: 'Plugins to load, in this order (dependencies first).',
  'plugins[].name': 'The entry\'s label in loader messages, and the default file name (`<name>.so`).',
  'plugins[].path': 'The `.so`: a plain file name in `plugin_dir`, or an absolute path. Default: `<name>.so`.',
  'plugins[].mount': 'Path prefix of the plugin\'s routes: `""` or `/x[/y]`.',
  'plugins[].config': 'The plugin\'s own settings, validated against its schema before it starts (see each plugin\'s README).',
};

function parseArgs(argv) {
  const a = { kirana: null, schema: null, out: null };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === '--kirana' || k === '--schema' || k === '--out') {
      if (i + 1 >= argv.length) throw new Error(`${k} needs a value`);
      a[k.slice(2)] = argv[++i];
    } else throw new Error(`unknown argument ${k} (usage: gen-config-doc.mjs [--kirana BIN | --schema FILE|-] [--out FILE])`);
  }
  return a;
}

function loadSchema(a) {
  if (a.schema) return JSON.parse(readFileSync(a.schema === '-' ? 0 : a.schema, 'utf8'));
  const bin = a.kirana || join(dirname(fileURLToPath(import.meta.url)), '..', 'build', 'core', 'kirana');
  return JSON.parse(execFileSync(bin, ['--config-schema'], { encoding: 'utf8' }));
}

const types = (s) => (Array.isArray(s.type) ? s.type : s.type ? [s.type] : []);
const code = (v) => '`' + JSON.stringify(v) + '`';

function typeText(s) {
  return types(s).map((t) => (t === 'array' && s.items ? `array of ${types(s.items).join(' or ')}` : t)).join(' or ');
}

function rangeText(s) {
  const parts = [];
  if (s.enum) parts.push('one of ' + s.enum.map(code).join(', '));
  if (s.minimum !== undefined && s.maximum !== undefined) parts.push(`${s.minimum} .. ${s.maximum}`);
  else if (s.minimum !== undefined) parts.push(`≥ ${s.minimum}`);
  else if (s.maximum !== undefined) parts.push(`≤ ${s.maximum}`);
  if (s.minLength !== undefined) parts.push(`at least ${s.minLength} character${s.minLength === 1 ? '' : 's'}`);
  if (s.maxLength !== undefined) parts.push(`at most ${s.maxLength} characters`);
  if (s.pattern) parts.push('matches `' + s.pattern + '`');
  if (s.minItems !== undefined) parts.push(`at least ${s.minItems} item${s.minItems === 1 ? '' : 's'}`);
  if (s.maxItems !== undefined) parts.push(`at most ${s.maxItems} items`);
  const it = s.items;
  if (it && !types(it).includes('object')) {
    const inner = rangeText(it);
    if (inner !== '') parts.push(`each ${inner}`);
  }
  return parts.join('; ');
}

function defaultText(s, required) {
  if (required) return 'required';
  if (s.default === undefined) return '—';
  return code(s.default);
}

/** Rows for every key below `schema` (an object schema), depth first. */
function walk(schema, prefix, rows) {
  const props = schema.properties || {};
  const required = new Set(schema.required || []);
  for (const [name, s] of Object.entries(props)) {
    const path = prefix ? `${prefix}.${name}` : name;
    const description = s.description || DESCRIPTIONS[path];
    if (!description) throw new Error(`config key ${path} has no description: add it to DESCRIPTIONS in tools/gen-config-doc.mjs`);
    rows.push({ path, type: typeText(s), range: rangeText(s), dflt: defaultText(s, required.has(name)), description });
    if (types(s).includes('object') && s.properties) walk(s, path, rows);
    if (types(s).includes('array') && s.items && s.items.properties) walk(s.items, `${path}[]`, rows);
  }
  return rows;
}

const cell = (t) => String(t).replace(/\|/g, '\\|');

export function render(schema) {
  const rows = walk(schema, '', []);
  const stale = Object.keys(DESCRIPTIONS).filter((p) => !rows.some((r) => r.path === p));
  if (stale.length) throw new Error(`DESCRIPTIONS has keys the schema lacks: ${stale.join(', ')}`);
  const out = [];
  out.push('# Configuration reference');
  out.push('');
  out.push('<!-- Generated by tools/gen-config-doc.mjs from `kirana --config-schema`; do not edit.');
  out.push('     Regenerate: node tools/gen-config-doc.mjs --kirana build/core/kirana --out docs/configuration.md -->');
  out.push('');
  out.push('kirana reads one YAML file: `kirana --config FILE`, else `$KIRANA_CONFIG`,');
  out.push('else `config/kirana.yaml`. `kirana --check-config FILE` validates it (and');
  out.push('loads the plugins) without serving; `kirana --config-schema` prints the JSON');
  out.push('schema this page is generated from.');
  out.push('');
  out.push('- Unknown keys are errors, and every error names `file:line:col` and the key.');
  out.push('- `${VAR}` and `${VAR:-default}` take values from the environment (the');
  out.push('  default also applies when `VAR` is empty; `$$` is a literal `$`). In a flow');
  out.push('  mapping (`{ ... }`) quote them, which makes them strings: use block style');
  out.push('  for numbers from the environment.');
  out.push('- Relative paths (`tls` files, `log.file`, `plugin_dir`) are taken against the');
  out.push('  folder of the config file.');
  out.push('- "—" in the default column: no default (the key may be left out).');
  out.push('  An object with a default of `{}` gets its members\' defaults.');
  out.push('- `a[]` is each element of the array `a`.');
  out.push('');
  const sections = new Map();
  for (const r of rows) {
    const top = r.path.split(/[.[]/)[0];
    if (!sections.has(top)) sections.set(top, []);
    sections.get(top).push(r);
  }
  for (const [top, rs] of sections) {
    out.push(`## \`${top}\``);
    out.push('');
    out.push('| key | type | allowed | default | meaning |');
    out.push('|---|---|---|---|---|');
    for (const r of rs) out.push(`| \`${r.path}\` | ${cell(r.type)} | ${cell(r.range)} | ${cell(r.dflt)} | ${cell(r.description)} |`);
    out.push('');
  }
  return out.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    const args = parseArgs(process.argv.slice(2));
    const md = render(loadSchema(args));
    if (args.out) writeFileSync(args.out, md);
    else process.stdout.write(md);
  } catch (e) {
    process.stderr.write(`gen-config-doc: ${e.message}\n`);
    process.exit(1);
  }
}
