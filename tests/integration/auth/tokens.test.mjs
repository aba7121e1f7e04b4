// auth.so's tokens over HTTP/2 against a real kirana: the authenticator as
// other plugins see it (principal, 401 + WWW-Authenticate, 403 for a wrong
// role), every refused token (alg none, other algorithms, another secret, a
// tampered payload, wrong iss/aud/typ, expired, not yet valid), refresh
// rotation and family revocation on reuse, logout, access-token expiry, and
// the refresh token's idle and absolute lifetimes.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileP, sleep, SRC } from '../lib/harness.mjs';
import { startAuth, claims, craftJwt, goodClaims, SECRET } from './helpers.mjs';

// A third-party plugin that relies on auth.so: it only reads the principal.
const PEER_SOURCE = `
#include <kirana/kirana.h>
static int whoami(kr_req *req, void *u)
{
    (void)u;
    const kr_principal *p = kr_req_principal(req);
    return kr_reply_json(req, 200, json_pack("{s:s, s:s, s:s?, s:s?}", "user_id", p->user_id, "role", p->role,
                                             "session_id", p->session_id, "token_id", p->token_id));
}
static int init(kr_plugin_ctx *ctx)
{
    int rc = kr_route_add(ctx, "GET", "/whoami", KR_AUTH_USER, whoami, NULL);
    return rc < 0 ? rc : kr_route_add(ctx, "GET", "/admin", KR_AUTH_ADMIN, whoami, NULL);
}
static const kr_plugin d = {KR_PLUGIN_HEADER, .name = "peer", .version = "0", .init = init};
__attribute__((visibility("default"))) const kr_plugin *kr_plugin_entry(void) { return &d; }
`;

async function buildPeer(dir) {
  const src = join(dir, 'peer.c');
  const so = join(dir, 'peer.so');
  writeFileSync(src, PEER_SOURCE);
  const { stdout } = await execFileP('pkg-config', ['--cflags', '--libs', 'jansson']);
  await execFileP('cc', ['-std=gnu17', '-shared', '-fPIC', '-o', so, `-I${SRC}/sdk/include`, src,
    `${SRC}/sdk/lib/sdk.c`, ...stdout.trim().split(/\s+/)]);
  return so;
}

const bearer = (token) => ({ authorization: `Bearer ${token}` });

describe('tokens and the authenticator', () => {
  let t;
  before(async () => {
    const { tempDir } = await import('../lib/harness.mjs');
    const dir = tempDir('kirana-auth-');
    const peer = await buildPeer(dir);
    t = await startAuth({ dir, plugins: [{ name: 'peer', path: peer, mount: '/peer' }], auth: { otp: { resend_after: 1 } } });
  });
  after(async () => { await t?.stop(); });

  it('hands other plugins the principal; 401 with WWW-Authenticate without a token; 403 for a wrong role', async () => {
    const login = await t.login('+919844400001');
    const c = claims(login.access_token);
    let r = await t.req('GET', '/peer/whoami', undefined, bearer(login.access_token));
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { user_id: login.user.id, role: 'user', session_id: c.sid, token_id: c.jti });
    r = await t.req('GET', '/peer/whoami');
    assert.equal(r.status, 401);
    assert.equal(r.headers['www-authenticate'], 'Bearer');
    r = await t.req('GET', '/peer/admin', undefined, bearer(login.access_token));
    assert.equal(r.status, 403);
    const admin = await t.login('+919000000001');
    r = await t.req('GET', '/peer/admin', undefined, bearer(admin.access_token));
    assert.equal(r.status, 200);
    assert.equal(r.json.role, 'admin');
  });

  it('signs HS256 access tokens with iss aud sub exp nbf iat jti typ role sid', async () => {
    const login = await t.login('+919844400002');
    const [h] = login.access_token.split('.');
    assert.equal(JSON.parse(Buffer.from(h, 'base64url')).alg, 'HS256');
    const c = claims(login.access_token);
    assert.deepEqual(Object.keys(c).sort(), ['aud', 'exp', 'iat', 'iss', 'jti', 'nbf', 'role', 'sid', 'sub', 'typ']);
    assert.equal(c.iss, 'kirana');
    assert.equal(c.aud, 'kirana-app');
    assert.equal(c.typ, 'access');
    assert.equal(c.sub, login.user.id);
    assert.equal(c.exp - c.iat, 900);
    assert.equal(c.sid, login.refresh_token.split('.')[0]);
  });

  it('refuses alg none, other algorithms, other secrets, tampering and bad claims', async () => {
    const login = await t.login('+919844400003');
    const c = claims(login.access_token);
    const hs256 = { alg: 'HS256', typ: 'JWT' };
    // positive control: a token crafted here with the server's secret works
    const control = craftJwt(hs256, goodClaims(c.sub, c.sid));
    assert.equal((await t.get('/auth/me', control)).status, 200);

    const [h, , sig] = login.access_token.split('.');
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...c, role: 'admin' })).toString('base64url')}.${sig}`;
    const now = Math.floor(Date.now() / 1000);
    const refused = {
      'alg none': craftJwt({ alg: 'none', typ: 'JWT' }, goodClaims(c.sub, c.sid), null),
      'alg none with a signature': craftJwt({ alg: 'none', typ: 'JWT' }, goodClaims(c.sub, c.sid)),
      'HS512 with the same secret': craftJwt({ alg: 'HS512', typ: 'JWT' }, goodClaims(c.sub, c.sid), SECRET, 'sha512'),
      'HS384 with the same secret': craftJwt({ alg: 'HS384', typ: 'JWT' }, goodClaims(c.sub, c.sid), SECRET, 'sha384'),
      'RS256 header': craftJwt({ alg: 'RS256', typ: 'JWT' }, goodClaims(c.sub, c.sid)),
      'another secret': craftJwt(hs256, goodClaims(c.sub, c.sid), 'another-secret-that-is-at-least-32-bytes'),
      'tampered payload': tampered,
      'expired': craftJwt(hs256, goodClaims(c.sub, c.sid, { iat: now - 1000, nbf: now - 1000, exp: now - 100 })),
      'not yet valid': craftJwt(hs256, goodClaims(c.sub, c.sid, { nbf: now + 300 })),
      'another issuer': craftJwt(hs256, goodClaims(c.sub, c.sid, { iss: 'evil' })),
      'another audience': craftJwt(hs256, goodClaims(c.sub, c.sid, { aud: 'other-app' })),
      'a refresh typ': craftJwt(hs256, goodClaims(c.sub, c.sid, { typ: 'refresh' })),
      'no jti': craftJwt(hs256, goodClaims(c.sub, c.sid, { jti: undefined })),
      'a string exp': craftJwt(hs256, goodClaims(c.sub, c.sid, { exp: String(now + 900) })),
      'garbage': 'not-a-jwt',
    };
    for (const [what, token] of Object.entries(refused)) {
      const r = await t.get('/auth/me', token);
      assert.equal(r.status, 401, what);
      assert.equal(r.headers['www-authenticate'], 'Bearer', what);
      assert.equal(r.json.code, 'unauthorized', what);
    }
    const r = await t.req('GET', '/auth/me', undefined, { authorization: `Basic ${login.access_token}` });
    assert.equal(r.status, 401);
  });

  it('rotates refresh tokens and revokes the family when a rotated one comes back', async () => {
    const first = await t.login('+919844400004');
    const r1 = await t.refresh(first.refresh_token);
    assert.equal(r1.status, 200);
    assert.deepEqual(Object.keys(r1.json).sort(), ['access_token', 'expires_in', 'refresh_token', 'token_type', 'user']);
    assert.notEqual(r1.json.refresh_token, first.refresh_token);
    assert.equal(claims(r1.json.access_token).sid, claims(first.access_token).sid);
    const r2 = await t.refresh(r1.json.refresh_token);
    assert.equal(r2.status, 200);
    assert.equal((await t.get('/auth/me', r2.json.access_token)).status, 200);

    await sleep(1100);
    const other = await t.login('+919844400004'); // a second device: another family

    const replay = await t.refresh(first.refresh_token);
    assert.equal(replay.status, 401);
    assert.equal(replay.json.code, 'refresh_invalid');
    // the whole family is gone: its newest refresh token and access tokens
    assert.equal((await t.refresh(r2.json.refresh_token)).status, 401);
    assert.equal((await t.get('/auth/me', r2.json.access_token)).status, 401);
    assert.equal((await t.get('/auth/me', first.access_token)).status, 401);
    const doc = await t.store.findOne('auth_sessions', { _id: claims(first.access_token).sid });
    assert.equal(doc.revoked, true);
    assert.equal(doc.revoked_reason, 'reuse');
    // the refresh token is stored only as a hash
    assert.equal(JSON.stringify(doc).includes(r2.json.refresh_token.split('.')[1]), false);
    // the other device is unaffected
    assert.equal((await t.get('/auth/me', other.access_token)).status, 200);
    assert.equal((await t.refresh(other.refresh_token)).status, 200);
  });

  it('logs out: 204, the family and the access token are revoked', async () => {
    const a = await t.login('+919844400005');
    await sleep(1100);
    const b = await t.login('+919844400005');
    const r = await t.req('POST', '/auth/logout', undefined, bearer(a.access_token));
    assert.equal(r.status, 204);
    assert.equal(r.body, '');
    assert.equal((await t.get('/auth/me', a.access_token)).status, 401);
    assert.equal((await t.refresh(a.refresh_token)).status, 401);
    assert.equal((await t.req('POST', '/auth/logout', undefined, bearer(a.access_token))).status, 401);
    const c = claims(a.access_token);
    const ttl = Number(await t.redis('TTL', `${t.tag}:auth:deny:jti:${c.jti}`));
    assert.ok(ttl > 890 && ttl <= 900, `deny ttl ${ttl}`);
    assert.equal(await t.redis('EXISTS', `${t.tag}:auth:deny:sid:${c.sid}`), '1');
    assert.equal((await t.get('/auth/me', b.access_token)).status, 200);
    assert.equal((await t.req('POST', '/auth/logout')).status, 401);
  });

  it('lets a user change only their name', async () => {
    const a = await t.login('+919844400006');
    const patch = (body) => t.req('PATCH', '/auth/me', body, { 'content-type': 'application/json', ...bearer(a.access_token) });
    let r = await patch({ name: 'Priya' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { id: a.user.id, phone: '+919844400006', name: 'Priya' });
    r = await patch({ name: 'Priya', phone: '+919999999999' });
    assert.equal(r.status, 400);
    assert.equal(r.json.code, 'validation_failed');
    assert.deepEqual(r.json.errors.map((e) => e.field), ['phone']);
    r = await patch({ role: 'admin' });
    assert.equal(r.status, 400);
    r = await patch({ name: '' });
    assert.equal(r.status, 400);
    r = await patch({ name: 'x'.repeat(65) });
    assert.equal(r.status, 400);
    assert.equal((await t.get('/auth/me', a.access_token)).json.name, 'Priya');
  });
});

describe('token lifetimes', () => {
  let t;
  before(async () => {
    t = await startAuth({ auth: { jwt: { access_ttl: 2, refresh_idle_ttl: 2, refresh_ttl: 4 }, otp: { resend_after: 1 } } });
  });
  after(async () => { await t?.stop(); });

  it('refuses an access token once it expired', async () => {
    const a = await t.login('+919855500001');
    assert.equal((await t.get('/auth/me', a.access_token)).status, 200);
    await sleep(2100);
    assert.equal((await t.get('/auth/me', a.access_token)).status, 401);
  });

  it('ends a refresh family left idle for refresh_idle_ttl', async () => {
    const a = await t.login('+919855500002');
    await sleep(2100);
    assert.equal((await t.refresh(a.refresh_token)).status, 401);
  });

  it('ends a refresh family at refresh_ttl however often it is used', async () => {
    const a = await t.login('+919855500003');
    let token = a.refresh_token;
    for (let i = 0; i < 3; i++) {
      await sleep(1500);
      const r = await t.refresh(token);
      if (i < 2) {
        assert.equal(r.status, 200, `refresh ${i}`);
        token = r.json.refresh_token;
      } else {
        assert.equal(r.status, 401, 'after refresh_ttl');
      }
    }
  });
});
