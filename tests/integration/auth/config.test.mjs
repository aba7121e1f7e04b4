// auth.so's startup rules: no JWT secret (or a short one) outside dev
// refuses to start with a clear line; dev runs with a random secret and
// says so; the config schema refuses unknown keys and bad numbers.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { runKirana, tempDir, writeConfig, baseConfig, serversEnv } from '../lib/harness.mjs';
import { freshDatabase } from '../lib/db.mjs';
import { authConfig, merge, startAuth, SECRET } from './helpers.mjs';

describe('startup', () => {
  const dbs = [];
  after(async () => { for (const db of dbs) await db.drop(); });

  async function configFile(extra = {}) {
    const env = serversEnv();
    const db = await freshDatabase('kauthcfg');
    dbs.push(db);
    const dir = tempDir('kirana-auth-cfg-');
    const config = baseConfig({
      roles: ['http', 'worker'],
      db: { uri: db.uri }, redis: { url: env.KIRANA_TEST_REDIS_URL }, queue: { redis: env.KIRANA_TEST_REDIS_URL },
      plugins: [{ name: 'auth', path: 'auth.so', mount: '/auth', config: merge(authConfig(dir, 'cfg'), extra) }],
    });
    return writeConfig(dir, config);
  }

  const serve = async (extra, env) => runKirana(['--config', await configFile(extra)], { env });
  const check = async (extra, env = { KIRANA_JWT_SECRET: SECRET }) =>
    runKirana(['--check-config', await configFile(extra)], { env });

  it('refuses to start without the JWT secret', async () => {
    const r = await serve({}, { KIRANA_JWT_SECRET: '' });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr + r.stdout, /\$KIRANA_JWT_SECRET must hold a secret of at least 32 bytes/);
  });

  it('refuses a secret shorter than 32 bytes, and reads the variable config names', async () => {
    let r = await check({}, { KIRANA_JWT_SECRET: 'x'.repeat(31) });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr + r.stdout, /at least 32 bytes/);
    r = await check({}, { KIRANA_JWT_SECRET: 'x'.repeat(32) });
    assert.equal(r.code, 0, r.stderr);
    r = await check({ jwt: { secret_env: 'SHOP_JWT' } }, { SHOP_JWT: SECRET, KIRANA_JWT_SECRET: '' });
    assert.equal(r.code, 0, r.stderr);
  });

  it('runs in dev without a secret, and a new user logs in from the console log line', async () => {
    const t = await startAuth({ env: { KIRANA_JWT_SECRET: '' }, auth: { dev: true, sms: { provider: 'console' } } });
    try {
      assert.ok(t.k.lines.some((l) => l.level === 'warn' && /random secret/.test(l.msg)));
      const phone = '+919888800001';
      assert.equal((await t.sendOtp(phone)).status, 202);
      const line = await t.k.waitLog((l) => l.msg?.startsWith(`OTP for ${phone} is `), 10000);
      const v = await t.verify(phone, /is (\d{6})/.exec(line.msg)[1]);
      assert.equal(v.status, 200);
      assert.equal((await t.get('/auth/me', v.json.access_token)).status, 200);
    } finally { await t.stop(); }
  });

  it('refuses unknown keys, numbers out of range and incomplete providers', async () => {
    const cases = [
      [{ otp: { ttl_seconds: 5 } }, /ttl_seconds/],
      [{ jwtt: {} }, /jwtt/],
      [{ otp: { length: 3 } }, /length/],
      [{ otp: { countries: ['+91'] } }, /countries/],
      [{ jwt: { access_ttl: 0 } }, /access_ttl/],
      [{ sms: { provider: 'carrier-pigeon' } }, /provider/],
      [{ sms: { provider: 'http' } }, /needs sms\.url/],
      [{ otp: { dev_reusable_codes: true } }, /needs dev: true/],
      [{ admins: ['+14155550123'] }, /admins\[0\]/],
    ];
    for (const [extra, why] of cases) {
      const r = await check(extra);
      assert.notEqual(r.code, 0, JSON.stringify(extra));
      assert.match(r.stderr + r.stdout, why, JSON.stringify(extra));
    }
  });
});
