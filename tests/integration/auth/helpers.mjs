// Shared by the auth integration tests: a kirana with auth.so on a fresh
// database, its own Redis key prefix and queue prefix (test files run in
// parallel against one Redis), the `file` SMS provider, and small helpers
// for the flows (send, read the code, log in) and for crafting JWTs.
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { baseConfig, execFileP, h2connect, h2req, serversEnv, startKirana, tempDir, waitFor } from '../lib/harness.mjs';
import { freshDatabase } from '../lib/db.mjs';
import { inspector } from '../lib/inspect.mjs';

export const SECRET = 'integration-secret-0123456789abcdef-0123456789';

/** Deep merge of plain objects (arrays and scalars replace). */
export function merge(a, b) {
  const out = { ...a };
  for (const [k, v] of Object.entries(b || {})) {
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && a[k] && typeof a[k] === 'object' ? merge(a[k], v) : v;
  }
  return out;
}

/** The auth plugin's config block for a test: file provider, India, one admin. */
export function authConfig(dir, tag, extra = {}) {
  return merge({
    redis_prefix: `${tag}:auth:`,
    jwt: { leeway: 0 },
    otp: { countries: ['91', '44'] },
    sms: { provider: 'file', path: join(dir, 'sms.jsonl'), backoff_ms: 100 },
    admins: ['+919000000001'],
  }, extra);
}

/**
 * Starts kirana with auth.so. opts: auth (merged into the auth config),
 * server, roles, env, db (reuse a database: an object freshDatabase()
 * returns), dbUri (the database kirana uses instead), dbConfig (more keys of
 * the config's db block), dir, plugins (more plugins). t.store is an inspector
 * (lib/inspect.mjs) on the database kirana uses, PostgreSQL or MongoDB.
 */
export async function startAuth(opts = {}) {
  const env = serversEnv();
  const db = opts.db || await freshDatabase('kauth');
  const dir = opts.dir || tempDir('kirana-auth-');
  const tag = opts.tag || `t${randomBytes(4).toString('hex')}`;
  const auth = authConfig(dir, tag, opts.auth);
  const config = baseConfig({
    roles: opts.roles || ['http', 'worker'],
    server: opts.server || {},
    log: { level: 'debug', access: false },
    db: { uri: opts.dbUri || db.uri, ...(opts.dbConfig || {}) },
    redis: { url: opts.redisUrl || env.KIRANA_TEST_REDIS_URL },
    queue: { redis: env.KIRANA_TEST_REDIS_URL, prefix: `${tag}q` },
    plugins: [{ name: 'auth', path: 'auth.so', mount: '/auth', config: auth }, ...(opts.plugins || [])],
  });
  const k = await startKirana(config, { dir, keepDir: true, env: { KIRANA_JWT_SECRET: SECRET, ...(opts.env || {}) } });
  const store = await inspector(opts.dbUri ? { name: db.name, uri: opts.dbUri } : db);
  const session = h2connect(k.url);
  session.on('error', () => {});
  const t = {
    k, db, dir, tag, auth, config, session, store,
    smsFile: auth.sms.path,
    redisPort: env.KIRANA_TEST_REDIS_PORT,
    req(method, path, body, headers = {}) {
      const h = body !== undefined ? { 'content-type': 'application/json', ...headers } : headers;
      return h2req(session, { method, path, body, headers: h });
    },
    post(path, body, headers) { return t.req('POST', path, body, headers); },
    get(path, token) { return t.req('GET', path, undefined, token ? { authorization: `Bearer ${token}` } : {}); },
    sendOtp(phone, headers) { return t.post('/auth/send-otp', { phone }, headers); },
    verify(phone, code) { return t.post('/auth/verify-otp', { phone, code }); },
    refresh(token) { return t.post('/auth/refresh', { refresh_token: token }); },
    /** Lines the file provider wrote for phone, oldest first. */
    sms(phone) {
      if (!existsSync(t.smsFile)) return [];
      return readFileSync(t.smsFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
        .filter((j) => j.phone === phone);
    },
    /** Waits for the n-th (1-based) code sent to phone. */
    async code(phone, n = 1, ms = 10000) {
      const lines = await waitFor(() => { const l = t.sms(phone); return l.length >= n ? l : null; }, ms, `SMS #${n} to ${phone}`);
      return lines[n - 1].code;
    },
    /** send-otp, read the code, verify-otp: the 200 body. */
    async login(phone) {
      const before = t.sms(phone).length;
      const s = await t.sendOtp(phone);
      if (s.status !== 202) throw new Error(`send-otp ${s.status} ${s.body}`);
      const code = await t.code(phone, before + 1);
      const v = await t.verify(phone, code);
      if (v.status !== 200) throw new Error(`verify-otp ${v.status} ${v.body}`);
      return v.json;
    },
    redis(...args) { return redisCli(env.KIRANA_TEST_REDIS_PORT, ...args); },
    /** SIGTERM; throws if kirana did not exit 0 or a sanitizer spoke. */
    async stop() {
      session.close();
      const e = await k.stop();
      k.cleanup();
      await store.close();
      if (!opts.db) await db.drop();
      if (e.code !== 0 || /Sanitizer|runtime error:/.test(k.raw)) {
        throw new Error(`kirana exited ${JSON.stringify(e)}\n${k.raw.split('\n').slice(-40).join('\n')}`);
      }
    },
  };
  return t;
}

export async function redisCli(port, ...args) {
  const { stdout } = await execFileP('redis-cli', ['-p', String(port), '--raw', ...args]);
  return stdout.replace(/\n$/, '');
}

/** The claims of a JWT (not verified). */
export function claims(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
}

/** A JWT with the given header and claims, HMAC-signed with secret and
 * the named hash ('sha256', 'sha512'), or unsigned when secret is null. */
export function craftJwt(header, payload, secret = SECRET, hash = 'sha256') {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${enc(header)}.${enc(payload)}`;
  const sig = secret === null ? '' : createHmac(hash, secret).update(input).digest('base64url');
  return `${input}.${sig}`;
}

/** Good access-token claims for sub/sid, issued now. */
export function goodClaims(sub, sid, extra = {}) {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: 'kirana', aud: 'kirana-app', sub, iat: now, nbf: now, exp: now + 900,
    jti: randomBytes(16).toString('base64url'), typ: 'access', role: 'user', sid, ...extra,
  };
}

/** A problem body minus the parts that may differ per request. */
export function problem(r) {
  return { status: r.status, contentType: r.headers['content-type'], body: r.body };
}
