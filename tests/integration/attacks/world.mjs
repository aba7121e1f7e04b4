// Shared by the attack suite: one real system (kirana with auth.so, product.so,
// cart.so and order.so on a fresh database, Redis and a queue of its own),
// real logins (console SMS provider: the code is read from the log), real
// tokens, and helpers to craft the tokens an attacker would send.
import assert from 'node:assert/strict';
import { createHmac, createSign, generateKeyPairSync, randomBytes } from 'node:crypto';
import { baseConfig, execFileP, h2connect, h2req, serversEnv, startKirana, waitFor } from '../lib/harness.mjs';
import { freshDatabase } from '../lib/db.mjs';

export const SECRET = 'attack-suite-secret-0123456789abcdef-0123456789';
export const ADMIN_PHONE = '+919000000001';
export const ADDRESS = { line1: '12 MG Road', city: 'Bengaluru', pincode: '560001' };

/** Deep merge of plain objects (arrays and scalars replace). */
export function merge(a, b) {
  const out = { ...a };
  for (const [k, v] of Object.entries(b || {})) {
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && a[k] && typeof a[k] === 'object' ? merge(a[k], v) : v;
  }
  return out;
}

/**
 * Starts the system. opts: server (merged into server:), auth (merged into
 * the auth config), plugins (replaces the plugin list after auth).
 */
export async function startWorld(opts = {}) {
  const env = serversEnv();
  const db = await freshDatabase('katk');
  const run = randomBytes(4).toString('hex');
  const prefix = `atk-${run}`;
  const auth = merge({
    redis_prefix: `${prefix}:auth:`,
    jwt: { leeway: 0 },
    otp: { countries: ['91'], per_ip_per_hour: 1000, per_phone_per_hour: 1000, per_phone_per_day: 1000 },
    sms: { provider: 'console', backoff_ms: 100 },
    admins: [ADMIN_PHONE],
  }, opts.auth);
  const plugins = opts.plugins || [
    { name: 'product', path: 'product.so', mount: '/products' },
    { name: 'cart', path: 'cart.so', mount: '/cart', config: { max_qty_per_item: 1000000, max_lines: 50 } },
    { name: 'order', path: 'order.so', mount: '/orders', config: { events_channel: `${prefix}:order-events` } },
  ];
  const config = baseConfig({
    roles: ['http', 'worker'],
    server: { workers: 8, ...(opts.server || {}) },
    log: { level: 'info', access: true },
    db: { uri: db.uri },
    redis: { url: env.KIRANA_TEST_REDIS_URL },
    queue: { redis: env.KIRANA_TEST_REDIS_URL, prefix: `${prefix}q`, stalled_interval_ms: 1000 },
    plugins: [{ name: 'auth', path: 'auth.so', mount: '/auth', config: auth }, ...plugins],
  });
  const k = await startKirana(config, { env: { KIRANA_JWT_SECRET: SECRET } });
  const session = h2connect(k.url);
  session.setMaxListeners(0);
  session.on('error', () => {});
  let phones = 0;
  const w = {
    k, db, env, run, prefix, session,
    /** One request on the shared session; a body object is sent as JSON. */
    req(method, path, { body, headers = {}, token } = {}) {
      const h = { ...headers };
      if (body !== undefined && h['content-type'] === undefined) h['content-type'] = 'application/json';
      if (token) h.authorization = `Bearer ${token}`;
      return h2req(session, { method, path, headers: h, body });
    },
    /** A phone number nobody used yet in this run. */
    phone() {
      const n = (parseInt(run.slice(0, 6), 16) % 1000000) * 1000 + (++phones);
      return `+9198${String(n).padStart(9, '0').slice(-8)}`;
    },
    /** The OTP codes the console provider logged for phone, oldest first. */
    codes(phone) {
      const re = new RegExp(`^OTP for \\${phone} is (\\d+) `);
      return k.lines.map((l) => (typeof l.msg === 'string' ? re.exec(l.msg) : null)).filter(Boolean).map((m) => m[1]);
    },
    /** Waits for the n-th (1-based) code sent to phone. */
    async code(phone, n) {
      const c = await waitFor(() => { const all = w.codes(phone); return all.length >= n ? all : null; }, 10000,
        `OTP #${n} for ${phone} in the log`);
      return c[n - 1];
    },
    /** send-otp, read the code, verify-otp: the 200 body (tokens and user). */
    async login(phone = w.phone(), headers = {}) {
      const before = w.codes(phone).length;
      const s = await w.req('POST', '/auth/send-otp', { body: { phone }, headers });
      assert.equal(s.status, 202, s.body);
      const code = await w.code(phone, before + 1);
      const v = await w.req('POST', '/auth/verify-otp', { body: { phone, code } });
      assert.equal(v.status, 200, v.body);
      return { phone, ...v.json, token: v.json.access_token };
    },
    redis(...args) {
      return execFileP('redis-cli', ['-p', env.KIRANA_TEST_REDIS_PORT, '--raw', ...args]).then((r) => r.stdout.trim());
    },
    async close() {
      session.close();
      const e = await k.stop();
      k.cleanup();
      await w.redis('EVAL', "for _,k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end", '0', `${prefix}*`)
        .catch(() => {});
      await db.drop();
      assert.equal(e.code, 0, `kirana exited cleanly (no sanitizer report): ${JSON.stringify(e)}\n${k.raw.slice(-3000)}`);
      assert.doesNotMatch(k.raw, /Sanitizer|runtime error:/, 'no sanitizer report');
    },
  };
  return w;
}

/** Asserts a problem+json refusal with the given status and code. */
export function refused(r, status, code, what = '') {
  assert.equal(r.status, status, `${what} status: ${r.body}`);
  assert.match(String(r.headers['content-type']), /^application\/problem\+json/, `${what} content-type`);
  assert.equal(r.json?.code, code, `${what} code: ${r.body}`);
  assert.equal(r.json?.status, status, `${what} body status: ${r.body}`);
}

/** The claims of a JWT (not verified). */
export function claims(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
}

const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');

/** A JWT with the given header and claims, HMAC-signed with secret and the
 * named hash ('sha256', 'sha384', 'sha512'), or unsigned when secret is null. */
export function hmacJwt(header, payload, secret = SECRET, hash = 'sha256') {
  const input = `${b64(header)}.${b64(payload)}`;
  const sig = secret === null ? '' : createHmac(hash, secret).update(input).digest('base64url');
  return `${input}.${sig}`;
}

/** An RS256 JWT signed with a fresh RSA key (the server holds no RSA key). */
export function rsaJwt(payload) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const input = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64(payload)}`;
  const sig = createSign('RSA-SHA256').update(input).sign(privateKey).toString('base64url');
  return `${input}.${sig}`;
}

export { h2connect, h2req, waitFor };
