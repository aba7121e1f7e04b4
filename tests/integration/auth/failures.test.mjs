// Dependency outages: with Redis unreachable or the database gone, auth's
// endpoints and the authenticator answer 503 problems, and the server lives
// on.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileP, h2req, serversEnv } from '../lib/harness.mjs';
import { startAuth, craftJwt, goodClaims } from './helpers.mjs';

describe('outages', () => {
  it('answers 503 while Redis is unreachable', async () => {
    const t = await startAuth({ redisUrl: 'redis://127.0.0.1:1/0' });
    try {
      let r = await t.sendOtp('+919899900001');
      assert.equal(r.status, 503);
      assert.equal(r.headers['content-type'], 'application/problem+json');
      r = await t.verify('+919899900001', '123456');
      assert.equal(r.status, 503);
      // the authenticator cannot check the deny-list: 503, not 401 or 200
      const token = craftJwt({ alg: 'HS256', typ: 'JWT' }, goodClaims('u1', 'ssssssssssssssssssssss'));
      r = await t.get('/auth/me', token);
      assert.equal(r.status, 503);
      assert.equal((await h2req(t.k.url, { path: '/healthz' })).status, 200);
    } finally { await t.stop(); }
  });

  it('answers 503 while the database is gone', async () => {
    const t = await startAuth({ auth: { otp: { resend_after: 1 } } });
    try {
      const a = await t.login('+919899900002');
      await execFileP('psql', [serversEnv().KIRANA_TEST_PG_URI, '-qc', `DROP DATABASE ${t.db.name} WITH (FORCE)`]);
      assert.equal((await t.get('/auth/me', a.access_token)).status, 503);
      assert.equal((await t.refresh(a.refresh_token)).status, 503);
      assert.equal((await t.req('POST', '/auth/logout', undefined, { authorization: `Bearer ${a.access_token}` })).status, 503);
      // Redis still works: a code can be sent, but logging in needs the DB
      await new Promise((r) => setTimeout(r, 1100));
      const phone = '+919899900003';
      assert.equal((await t.sendOtp(phone)).status, 202);
      assert.equal((await t.verify(phone, await t.code(phone))).status, 503);
      assert.equal((await h2req(t.k.url, { path: '/healthz' })).status, 200);
    } finally { await t.stop(); }
  });
});
