// Dependency outages: with Redis unreachable or the database gone, auth's
// endpoints and the authenticator answer 503 problems, and the server lives
// on. The database goes by DROP DATABASE on PostgreSQL; on MongoDB (where a
// dropped database comes back on the next write) a private server of the
// kind the `mongo` fixture runs is killed instead.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileP, h2req, serversEnv, SRC, tempDir } from '../lib/harness.mjs';
import { backendKind } from '../lib/inspect.mjs';
import { startAuth, craftJwt, goodClaims } from './helpers.mjs';

const FERRETDB_SH = join(SRC, 'tests/servers/ferretdb.sh');

/** A private MongoDB wire server (tests/servers/ferretdb.sh: mongod, else
 * FerretDB), never the shared one of KIRANA_TEST_MONGODB_URI, which a test
 * must not kill: {uri, kill(), stop()}. */
async function privateMongo() {
  const dir = join(tempDir('kirana-auth-mongo-'), 'server');
  const env = { ...process.env };
  delete env.KIRANA_TEST_MONGODB_URI;
  await execFileP(FERRETDB_SH, ['start', dir], { env });
  const port = /^KIRANA_TEST_MONGO_PORT=(\d+)$/m.exec(readFileSync(join(dir, 'env'), 'utf8'))[1];
  return {
    uri: `mongodb://127.0.0.1:${port}/kauth_${randomBytes(6).toString('hex')}`,
    kill: () => execFileP(FERRETDB_SH, ['kill', dir]),
    stop: () => execFileP(FERRETDB_SH, ['stop', dir]),
  };
}

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
    const mongo = backendKind() === 'postgresql' ? null : await privateMongo();
    const t = await startAuth({ auth: { otp: { resend_after: 1 } }, dbUri: mongo?.uri,
      dbConfig: mongo ? { timeout_ms: 2000 } : {} }) // each call on the dead server waits that long
      .catch(async (e) => { await mongo?.stop(); throw e; });
    try {
      const a = await t.login('+919899900002');
      if (mongo) await mongo.kill();
      else await execFileP('psql', [serversEnv().KIRANA_TEST_PG_URI, '-qc', `DROP DATABASE ${t.db.name} WITH (FORCE)`]);
      assert.equal((await t.get('/auth/me', a.access_token)).status, 503);
      assert.equal((await t.refresh(a.refresh_token)).status, 503);
      assert.equal((await t.req('POST', '/auth/logout', undefined, { authorization: `Bearer ${a.access_token}` })).status, 503);
      // Redis still works: a code can be sent, but logging in needs the DB
      await new Promise((r) => setTimeout(r, 1100));
      const phone = '+919899900003';
      assert.equal((await t.sendOtp(phone)).status, 202);
      assert.equal((await t.verify(phone, await t.code(phone))).status, 503);
      assert.equal((await h2req(t.k.url, { path: '/healthz' })).status, 200);
    } finally {
      try { await t.stop(); } finally { await mongo?.stop(); }
    }
  });
});
