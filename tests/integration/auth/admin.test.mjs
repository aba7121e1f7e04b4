// Roles: admins named in auth's config get role admin at login, and
// `kirana admin grant|revoke PHONE` (same config, same DB) changes a user's
// role, creating the user when the phone never logged in.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { runKirana, sleep } from '../lib/harness.mjs';
import { skipOnFerretDB } from '../lib/inspect.mjs';
import { startAuth, claims, SECRET } from './helpers.mjs';

describe('admins', () => {
  let t;
  const cli = (...args) => runKirana(['--config', t.k.cfgPath, 'admin', ...args], { env: { KIRANA_JWT_SECRET: SECRET } });
  const role = async (phone) => (await t.store.findOne('users', { phone })).role;

  before(async () => { t = await startAuth({ auth: { otp: { resend_after: 1 } } }); });
  after(async () => { await t?.stop(); });

  it('gives phones listed in config the admin role at login', async () => {
    const a = await t.login('+919000000001');
    assert.equal(claims(a.access_token).role, 'admin');
    assert.equal(await role('+919000000001'), 'admin');
    const u = await t.login('+919866600009');
    assert.equal(claims(u.access_token).role, 'user');
    assert.equal(await role('+919866600009'), 'user');
  });

  it('grants admin to a phone that never logged in, then revokes it', async (tc) => {
    let r = await cli('grant', '+91 98666 00001');
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    assert.match(lines[0], /^\+919866600001 is now admin \(user [0-9a-f]+\)$/);
    const doc = await t.store.findOne('users', { phone: '+919866600001' });
    assert.equal(doc.role, 'admin');
    if (!skipOnFerretDB(tc, 'an upsert leaves out $setOnInsert fields whose value is null (core/db/README.md)')) {
      assert.equal(doc.name, null);
    }
    assert.ok(doc.created_at);

    const a = await t.login('+919866600001');
    assert.equal(a.user.id, lines[0].match(/user ([0-9a-f]+)/)[1]);
    assert.equal(claims(a.access_token).role, 'admin');

    r = await cli('revoke', '+919866600001');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\+919866600001 is now user \(user [0-9a-f]+\)\n$/);
    // issued tokens keep their role until they expire; the next refresh
    // carries the new one
    const again = await t.refresh(a.refresh_token);
    assert.equal(again.status, 200);
    assert.equal(claims(again.json.access_token).role, 'user');
  });

  it('grants admin to an existing user; repeating it is harmless', async () => {
    const u = await t.login('+919866600002');
    assert.equal(claims(u.access_token).role, 'user');
    for (let i = 0; i < 2; i++) assert.equal((await cli('grant', '+919866600002')).code, 0);
    assert.equal(await t.store.count('users', { phone: '+919866600002' }), 1);
    await sleep(1100);
    const a = await t.login('+919866600002');
    assert.equal(a.user.id, u.user.id);
    assert.equal(claims(a.access_token).role, 'admin');
  });

  it('says that a config admin comes back at the next login', async () => {
    const r = await cli('revoke', '+919000000001');
    assert.equal(r.code, 0);
    assert.match(r.stdout, /still listed in the auth config's admins/);
  });

  it('refuses a bad phone or usage with exit status 2', async () => {
    let r = await cli('grant', '12345');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /12345 must start with \+ and the country code/);
    r = await cli('grant', '+14155550123');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /outside the countries/);
    r = await cli('grant');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /usage: kirana admin grant\|revoke PHONE/);
    r = await cli('promote', '+919866600003');
    assert.equal(r.code, 2);
    assert.equal(await t.store.count('users', { phone: '+919866600003' }), 0);
  });
});
