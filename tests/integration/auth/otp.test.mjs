// auth.so's OTP rules over HTTP/2 against a real kirana, its database
// (PostgreSQL, or MongoDB under KIRANA_TEST_DB=mongo) and Redis: the
// send-otp / verify-otp flow, one live code per phone, single use, 5 wrong
// tries kill a code (also under concurrent guessing), wrong,
// expired, killed and never-sent codes answer alike, the resend cool-down,
// the per-phone hourly and daily limits, the per-IP limit (client IP as the
// core reports it), the country allow-list and validation.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sleep, waitFor } from '../lib/harness.mjs';
import { startAuth, problem } from './helpers.mjs';

const wrongOf = (code) => String((Number(code) + 1) % 1000000).padStart(6, '0');

describe('send-otp and verify-otp', () => {
  let t;
  before(async () => { t = await startAuth({ auth: { otp: { resend_after: 1, per_ip_per_hour: 100000 } } }); });
  after(async () => { await t?.stop(); });

  it('queues a 6-digit code and keeps only a keyed hash of it in Redis', async () => {
    const phone = '+919811100001';
    const r = await t.sendOtp(phone);
    assert.equal(r.status, 202);
    assert.deepEqual(r.json, { expires_in: 300, retry_after: 1 });
    const code = await t.code(phone);
    assert.match(code, /^\d{6}$/);
    const key = `${t.tag}:auth:otp:${phone}`;
    const hash = await t.redis('HGET', key, 'h');
    assert.match(hash, /^[0-9a-f]{64}$/);
    assert.equal((await t.redis('HGETALL', key)).includes(code), false);
    const ttl = Number(await t.redis('TTL', key));
    assert.ok(ttl > 290 && ttl <= 300, `ttl ${ttl}`);
    // the job is removed once sent
    await waitFor(async () => (await t.redis('KEYS', `${t.tag}q:otp:[0-9]*`)) === '', 5000, 'the job to go');
    // (and the worker scheduled the hourly sweep of expired refresh families)
    assert.match(await t.redis('KEYS', `${t.tag}q:auth-sweep:sweep-*`), /sweep-\d+$/);
  });

  it('creates the user on first login and finds it on the next', async () => {
    const phone = '+919811100002';
    const first = await t.login(phone);
    assert.equal(first.token_type, 'Bearer');
    assert.equal(first.expires_in, 900);
    assert.equal(typeof first.access_token, 'string');
    assert.match(first.refresh_token, /^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(Object.keys(first.user).sort(), ['id', 'name', 'phone']);
    assert.equal(first.user.phone, phone);
    assert.equal(first.user.name, null);
    await sleep(1100);
    // any spelling of the number is the same user
    const s = await t.sendOtp('+91 98111-00002');
    assert.equal(s.status, 202);
    const v = await t.verify('0091 (98111) 00002', await t.code(phone, 2));
    assert.equal(v.status, 200);
    assert.equal(v.json.user.id, first.user.id);
    assert.equal(await t.store.count('users', { phone }), 1);
    const me = await t.get('/auth/me', v.json.access_token);
    assert.equal(me.status, 200);
    assert.deepEqual(me.json, { id: first.user.id, phone, name: null });
  });

  it('answers wrong, expired-by-kill and never-sent codes with one identical 401', async () => {
    const phone = '+919811100003';
    assert.equal((await t.sendOtp(phone)).status, 202);
    const code = await t.code(phone);
    const wrong = await t.verify(phone, wrongOf(code));
    assert.equal(wrong.status, 401);
    assert.equal(wrong.json.code, 'otp_invalid');
    assert.equal(wrong.headers['content-type'], 'application/problem+json');
    for (let i = 0; i < 4; i++) assert.deepEqual(problem(await t.verify(phone, wrongOf(code))), problem(wrong));
    // five wrong tries killed it: the right code is refused the same way
    assert.deepEqual(problem(await t.verify(phone, code)), problem(wrong));
    assert.deepEqual(problem(await t.verify('+919811199999', '123456')), problem(wrong));
    assert.equal(await t.redis('HEXISTS', `${t.tag}:auth:otp:${phone}`, 'h'), '0');
  });

  it('accepts the right code after four wrong ones', async () => {
    const phone = '+919811100004';
    assert.equal((await t.sendOtp(phone)).status, 202);
    const code = await t.code(phone);
    for (let i = 0; i < 4; i++) assert.equal((await t.verify(phone, wrongOf(code))).status, 401);
    assert.equal((await t.verify(phone, code)).status, 200);
  });

  it('counts concurrent guesses: 20 at once still kill the code after 5', async () => {
    const phone = '+919811100005';
    assert.equal((await t.sendOtp(phone)).status, 202);
    const code = await t.code(phone);
    const guesses = Array.from({ length: 20 }, (_, i) => String((Number(code) + 1 + i) % 1000000).padStart(6, '0'));
    const answers = await Promise.all(guesses.map((g) => t.verify(phone, g)));
    assert.ok(answers.every((a) => a.status === 401));
    assert.equal((await t.verify(phone, code)).status, 401);
  });

  it('lets only one of two concurrent right answers in (single use)', async () => {
    const phone = '+919811100006';
    assert.equal((await t.sendOtp(phone)).status, 202);
    const code = await t.code(phone);
    const both = await Promise.all([t.verify(phone, code), t.verify(phone, code)]);
    assert.deepEqual(both.map((b) => b.status).sort(), [200, 401]);
    assert.equal((await t.verify(phone, code)).status, 401);
  });

  it('keeps one live code per phone: a resend kills the previous code', async () => {
    const phone = '+919811100007';
    assert.equal((await t.sendOtp(phone)).status, 202);
    const old = await t.code(phone);
    await sleep(1100);
    assert.equal((await t.sendOtp(phone)).status, 202);
    const fresh = await t.code(phone, 2);
    if (old !== fresh) assert.equal((await t.verify(phone, old)).status, 401);
    assert.equal((await t.verify(phone, fresh)).status, 200);
  });

  it('refuses a resend inside the cool-down with 429 and Retry-After', async () => {
    const phone = '+919811100008';
    assert.equal((await t.sendOtp(phone)).status, 202);
    const r = await t.sendOtp(phone);
    assert.equal(r.status, 429);
    assert.equal(r.headers['retry-after'], '1');
    assert.equal(r.json.code, 'rate_limited');
    assert.equal(r.json.retry_after, 1);
    await sleep(1100);
    assert.equal((await t.sendOtp(phone)).status, 202);
  });

  it('refuses numbers of other countries and invalid numbers', async () => {
    let r = await t.sendOtp('+14155550123');
    assert.equal(r.status, 400);
    assert.equal(r.json.code, 'phone_not_allowed');
    r = await t.verify('+14155550123', '123456');
    assert.equal(r.json.code, 'phone_not_allowed');
    for (const bad of ['9876543210', '+91 98765', '+91 5876543210', '+91 98765 4321x', '']) {
      r = await t.sendOtp(bad);
      assert.equal(r.status, 400, bad);
      assert.equal(r.json.code, 'validation_failed');
      assert.equal(r.json.errors[0].field, 'phone');
      assert.equal(typeof r.json.errors[0].message, 'string');
    }
    r = await t.post('/auth/send-otp', { phone: '+919811100009', extra: true });
    assert.equal(r.status, 400);
    assert.deepEqual(r.json.errors.map((e) => e.field), ['extra']);
    r = await t.post('/auth/verify-otp', { phone: '+919811100009', code: '12345' });
    assert.equal(r.status, 400);
    assert.deepEqual(r.json.errors.map((e) => e.field), ['code']);
    r = await t.post('/auth/send-otp', '[1, 2]');
    assert.equal(r.status, 400);
  });
});

describe('send limits', () => {
  let t;
  before(async () => {
    t = await startAuth({
      server: { trusted_proxy_hops: 1 },
      auth: { otp: { resend_after: 1, per_phone_per_hour: 2, per_phone_per_day: 10, per_ip_per_hour: 3 } },
    });
  });
  after(async () => { await t?.stop(); });

  const from = (ip) => ({ 'x-forwarded-for': ip });

  it('allows per_phone_per_hour sends per phone, then 429 until the first is an hour old', async () => {
    const phone = '+919822200001';
    assert.equal((await t.sendOtp(phone, from('198.51.100.1'))).status, 202);
    await sleep(1100);
    assert.equal((await t.sendOtp(phone, from('198.51.100.2'))).status, 202);
    await sleep(1100);
    const r = await t.sendOtp(phone, from('198.51.100.3'));
    assert.equal(r.status, 429);
    assert.equal(r.json.code, 'rate_limited');
    const retry = Number(r.headers['retry-after']);
    assert.ok(retry > 3590 && retry <= 3600, `retry-after ${retry}`);
  });

  it('allows per_ip_per_hour sends per client IP, whatever the phone', async () => {
    const ip = from('203.0.113.7');
    for (let i = 0; i < 3; i++) assert.equal((await t.sendOtp(`+91982220010${i}`, ip)).status, 202);
    const r = await t.sendOtp('+919822200109', ip);
    assert.equal(r.status, 429);
    assert.ok(Number(r.headers['retry-after']) > 3590);
    // another client is not affected, and the refused phone got no cool-down
    assert.equal((await t.sendOtp('+919822200109', from('203.0.113.8'))).status, 202);
  });
});

describe('daily limit and expiry', () => {
  let t;
  before(async () => {
    t = await startAuth({ auth: { otp: { ttl: 2, resend_after: 1, per_phone_per_day: 2 } } });
  });
  after(async () => { await t?.stop(); });

  it('allows per_phone_per_day sends per phone, then 429 for most of a day', async () => {
    const phone = '+919833300001';
    assert.equal((await t.sendOtp(phone)).status, 202);
    await sleep(1100);
    assert.equal((await t.sendOtp(phone)).status, 202);
    await sleep(1100);
    const r = await t.sendOtp(phone);
    assert.equal(r.status, 429);
    const retry = Number(r.headers['retry-after']);
    assert.ok(retry > 86390 && retry <= 86400, `retry-after ${retry}`);
  });

  it('answers an expired code exactly as a wrong one', async () => {
    const phone = '+919833300002';
    assert.equal((await t.sendOtp(phone)).status, 202);
    const code = await t.code(phone);
    const wrong = await t.verify(phone, wrongOf(code));
    await sleep(2200);
    const expired = await t.verify(phone, code);
    assert.equal(expired.status, 401);
    assert.deepEqual(problem(expired), problem(wrong));
  });
});
