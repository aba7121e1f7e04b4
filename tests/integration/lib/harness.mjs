// Test harness: real kirana processes, real servers, real HTTP/2 clients.
//
// startKirana() writes a config (JSON is YAML) into a fresh temp dir, starts
// the binary on port 0, reads the bound ports from its log and returns a
// handle to talk to it, signal it and read its log lines.
//
// Every answer h2req() receives from a kirana started here is checked against
// that server's GET /openapi.json (status, content type, JSON body by the
// operation's schema; lib/openapi.mjs): a mismatch makes h2req throw, so the
// test fails. startKirana(config, {checkResponses: false}) turns it off.
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http2 from 'node:http2';
import { promisify } from 'node:util';
import { ResponseChecker } from './openapi.mjs';

export const execFileP = promisify(execFile);
export const SRC = process.env.KIRANA_SOURCE_DIR;
export const BUILD = process.env.KIRANA_BUILD_DIR;
export const BIN = process.env.KIRANA_BIN;
export const PLUGINS = process.env.KIRANA_PLUGIN_DIR;
export const FIXTURES = process.env.KIRANA_FIXTURE_PLUGIN_DIR;
export const SANITIZED = process.env.KIRANA_SANITIZE === '1';

/** KEY=VALUE pairs of the servers fixture (PostgreSQL, Redis). */
export function serversEnv() {
  const f = process.env.KIRANA_TEST_SERVERS_ENV;
  if (!f || !existsSync(f)) throw new Error(`servers env file missing: ${f}`);
  const env = {};
  for (const line of readFileSync(f, 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m) env[m[1]] = m[2];
  }
  return env;
}

// Every folder tempDir() makes goes when the test process exits, whatever
// the test did with it (KIRANA_KEEP_TEST_DIRS=1 keeps them for a post
// mortem). Servers a test started are stopped by then.
const madeDirs = [];
process.on('exit', () => {
  if (process.env.KIRANA_KEEP_TEST_DIRS === '1') return;
  for (const d of madeDirs) {
    try { rmSync(d, { recursive: true, force: true }); } catch { /* a server still writing: left */ }
  }
});

export function tempDir(prefix = 'kirana-it-') {
  const d = mkdtempSync(join(tmpdir(), prefix));
  madeDirs.push(d);
  return d;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Runs the kirana binary to completion (for CLI tests). */
export async function runKirana(args, opts = {}) {
  return new Promise((resolve) => {
    const p = spawn(BIN, args, { env: { ...process.env, ...(opts.env || {}) }, cwd: opts.cwd });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

export function writeConfig(dir, config, name = 'kirana.yaml') {
  const path = join(dir, name);
  writeFileSync(path, typeof config === 'string' ? config : JSON.stringify(config, null, 2));
  return path;
}

/** A base config: one h2c/HTTP/1.1 listener on a free port, given plugins. */
export function baseConfig(extra = {}) {
  return {
    server: { listen: [{ host: '127.0.0.1', port: 0 }], threads: 1, workers: 4, ...(extra.server || {}) },
    roles: extra.roles || ['http'],
    log: { level: 'info', access: true, ...(extra.log || {}) },
    plugin_dir: extra.plugin_dir || PLUGINS,
    plugins: extra.plugins || [],
    ...Object.fromEntries(Object.entries(extra).filter(([k]) => !['server', 'roles', 'log', 'plugin_dir', 'plugins'].includes(k))),
  };
}

/** The kirana processes of this test file by port, for response checking. */
const byPort = new Map();
/** The origin each h2connect() session talks to. */
const sessionOrigin = new WeakMap();

export async function startKirana(config, opts = {}) {
  const dir = opts.dir || tempDir();
  const cfgPath = writeConfig(dir, config);
  const proc = spawn(BIN, ['--config', cfgPath], {
    env: { ...process.env, ...(opts.env || {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const k = {
    proc, dir, cfgPath, lines: [], raw: '', ports: [], exited: null,
    get port() { return this.ports[0]; },
    get url() { return `http://127.0.0.1:${this.ports[0]}`; },
    logs() { return this.lines; },
    waitLog(pred, ms = 5000) { return waitFor(() => this.lines.find(pred), ms, 'log line'); },
    async stop(signal = 'SIGTERM', ms = 15000) {
      if (this.exited) return this.exited;
      proc.kill(signal);
      return waitFor(() => this.exited, ms, 'kirana to exit');
    },
    kill() { try { proc.kill('SIGKILL'); } catch { /* gone */ } },
    cleanup() { this.kill(); if (!opts.keepDir) rmSync(dir, { recursive: true, force: true }); },
  };
  let buf = '';
  const onData = (d) => {
    k.raw += d;
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      let j = null;
      try { j = JSON.parse(line); } catch { j = { raw: line }; }
      k.lines.push(j);
      const m = j.msg && /^listening on https?:\/\/[^ ]*:(\d+) /.exec(j.msg);
      if (m) k.ports.push(Number(m[1]));
    }
  };
  proc.stderr.on('data', onData);
  proc.stdout.on('data', onData);
  proc.on('exit', (code, signal) => {
    k.exited = { code, signal };
    for (const p of k.ports) if (byPort.get(p) === k) byPort.delete(p);
  });
  const want = opts.listeners ?? (config.server?.listen?.length || 1);
  try {
    await waitFor(() => k.exited || k.ports.length >= want, opts.startMs ?? 20000, 'kirana to listen');
  } catch (e) {
    k.kill();
    throw new Error(`${e.message}\n--- kirana output ---\n${k.raw}`);
  }
  if (k.exited) throw new Error(`kirana exited ${JSON.stringify(k.exited)}\n${k.raw}`);
  if (opts.checkResponses !== false) {
    k.checker = new ResponseChecker((origin) => rawRequest(origin, 'GET', '/openapi.json'));
    for (const p of k.ports) byPort.set(p, k);
  }
  return k;
}

export async function waitFor(fn, ms, what = 'condition') {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** One HTTP/2 (h2c prior knowledge, or TLS with ca) session. */
export function h2connect(origin, opts = {}) {
  const s = http2.connect(origin, { rejectUnauthorized: false, ...opts });
  sessionOrigin.set(s, String(origin));
  return s;
}

/** One request on a session (or a fresh one); resolves {status, headers, body, json}.
 * The answer is checked against the server's OpenAPI description (see above). */
export async function h2req(originOrSession, { method = 'GET', path = '/', headers = {}, body } = {}) {
  const origin = typeof originOrSession === 'string' ? originOrSession : sessionOrigin.get(originOrSession);
  const r = await rawRequest(originOrSession, method, path, headers, body);
  const k = origin && byPort.get(Number(new URL(origin).port));
  if (k?.checker) await k.checker.check(origin, method, path, r);
  return r;
}

async function rawRequest(originOrSession, method, path, headers = {}, body = undefined) {
  const own = typeof originOrSession === 'string';
  const s = own ? h2connect(originOrSession) : originOrSession;
  try {
    return await new Promise((resolve, reject) => {
      s.on('error', reject);
      const req = s.request({ ':method': method, ':path': path, ...headers });
      let data = Buffer.alloc(0);
      let h;
      req.on('response', (hh) => (h = hh));
      req.on('data', (d) => (data = Buffer.concat([data, d])));
      req.on('end', () => {
        const text = data.toString('utf8');
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: h[':status'], headers: h, body: text, json });
      });
      req.on('error', reject);
      if (body !== undefined) req.end(typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body));
      else req.end();
    });
  } finally {
    if (own) s.close();
  }
}

/** curl with the given args; resolves {code, stdout, stderr}. */
export async function curl(args) {
  try {
    const { stdout, stderr } = await execFileP('curl', ['-sS', ...args], { maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Self-signed certificate for TLS tests. */
export async function makeCert(dir) {
  const crt = join(dir, 'tls.crt'), key = join(dir, 'tls.key');
  await execFileP('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', crt,
    '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1']);
  return { crt, key };
}

/** Parses Prometheus text into {"name{labels}": value}. */
export function parseMetrics(text) {
  const out = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out[line.slice(0, i)] = Number(line.slice(i + 1));
  }
  return out;
}
