// GET /openapi.json: the core's routes merged with every plugin's
// description. The document must be valid OpenAPI 3.1 (checked by
// @seriousme/openapi-schema-validator), describe exactly the routes the
// server registered (`kirana --list-routes`), and the response checker every
// integration test goes through (lib/openapi.mjs) must fail on an answer
// that does not match it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import {
  BUILD, SANITIZED, SRC, baseConfig, execFileP, h2connect, h2req, runKirana, serversEnv, startKirana, tempDir, writeConfig,
} from '../lib/harness.mjs';
import { freshDatabase } from '../lib/db.mjs';
import { ResponseChecker } from '../lib/openapi.mjs';

const SECRET = 'openapi-test-secret-0123456789abcdef-0123456789';
const ENV = { KIRANA_JWT_SECRET: SECRET };
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

let db, k, doc, dir;
const tag = `oa${randomBytes(3).toString('hex')}`;

function config(wishlist = { popular: true }) {
  const env = serversEnv();
  return baseConfig({
    roles: ['http'],
    db: { uri: db.uri },
    redis: { url: env.KIRANA_TEST_REDIS_URL },
    queue: { redis: env.KIRANA_TEST_REDIS_URL, prefix: `${tag}q` },
    log: { level: 'info', access: false },
    plugins: [
      { name: 'auth', path: 'auth.so', mount: '/auth',
        config: { redis_prefix: `${tag}:auth:`, sms: { provider: 'file', path: `${dir}/sms.jsonl` } } },
      { name: 'product', path: 'product.so', mount: '/products' },
      { name: 'cart', path: 'cart.so', mount: '/cart' },
      { name: 'order', path: 'order.so', mount: '/orders', config: { events_channel: `${tag}:order-events` } },
      { name: 'hello', path: 'hello.so', mount: '/hello' },
      { name: 'wishlist', path: 'wishlist.so', mount: '/wishlist', config: wishlist },
    ],
  });
}

/** "METHOD /path" of every operation of a document. */
function described(d) {
  const out = new Map();
  for (const [path, item] of Object.entries(d.paths)) {
    for (const [m, op] of Object.entries(item)) if (METHODS.includes(m)) out.set(`${m.toUpperCase()} ${path}`, op);
  }
  return out;
}

/** The routes `kirana --list-routes` prints: Map "METHOD /path" -> {owner, auth}. */
async function registered(cfg) {
  const r = await runKirana(['--list-routes', '--config', writeConfig(dir, cfg, `routes-${randomBytes(3).toString('hex')}.yaml`)],
    { env: ENV });
  assert.equal(r.code, 0, r.stderr);
  const out = new Map();
  for (const line of r.stdout.trim().split('\n')) {
    const [method, path, owner, auth] = line.split(' ');
    out.set(`${method} ${path}`, { owner, auth });
  }
  return out;
}

before(async () => {
  db = await freshDatabase('openapi');
  dir = tempDir('kirana-openapi-');
  k = await startKirana(config(), { env: ENV });
  const r = await h2req(k.url, { path: '/openapi.json' });
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'application/json');
  doc = r.json;
});

after(async () => {
  await k?.stop();
  k?.cleanup();
  await db?.drop();
});

test('the document is valid OpenAPI 3.1', async () => {
  const v = new Validator();
  const res = await v.validate(structuredClone(doc));
  assert.ok(res.valid, JSON.stringify(res.errors, null, 2));
  assert.equal(v.version, '3.1');
  assert.match(doc.openapi, /^3\.1\./);
  assert.ok(doc.components.schemas.Problem, 'the core\'s problem schema');
  assert.equal(doc.components.securitySchemes.bearer.scheme, 'bearer');
});

test('every registered route is described, every described operation is a route', async () => {
  const routes = await registered(config());
  const ops = described(doc);
  assert.ok(routes.size >= 30, `kirana registered ${routes.size} routes`);
  assert.deepEqual([...ops.keys()].sort(), [...routes.keys()].sort());
  for (const [key, { owner, auth }] of routes) {
    const op = ops.get(key);
    assert.ok(!op['x-kirana-undescribed'], `${key} (${owner}) is described by its plugin`);
    assert.ok(op.responses && Object.keys(op.responses).length > 0, `${key} lists its responses`);
    assert.ok(op.responses.default || Object.keys(op.responses).some((s) => s >= '400'), `${key} describes its errors`);
    if (auth === 'none') {
      assert.equal(op['x-kirana-auth'], undefined, key);
    } else {
      assert.equal(op['x-kirana-auth'], auth, key);
      assert.deepEqual(op.security, [{ bearer: [] }], `${key} needs a bearer token`);
    }
  }
  for (const p of ['/healthz', '/readyz', '/metrics', '/openapi.json']) assert.ok(ops.has(`GET ${p}`), p);
});

test('a route only some configurations register is described only when registered', async () => {
  assert.ok(described(doc).has('GET /wishlist/popular'));
  const cfg = config({ popular: false });
  const routes = await registered(cfg);
  assert.ok(!routes.has('GET /wishlist/popular'));
  const k2 = await startKirana(cfg, { env: ENV });
  try {
    const d2 = (await h2req(k2.url, { path: '/openapi.json' })).json;
    assert.deepEqual([...described(d2).keys()].sort(), [...routes.keys()].sort());
  } finally {
    await k2.stop();
    k2.cleanup();
  }
});

test('answers of the plugins match the document (checked in h2req)', async () => {
  const s = h2connect(k.url);
  try {
    const user = { authorization: `Bearer ${randomBytes(4).toString('hex')}` };
    const answers = [
      await h2req(s, { path: '/hello/world' }),
      await h2req(s, { method: 'POST', path: '/hello/echo', body: { a: [1, 2] } }),
      await h2req(s, { path: '/products?limit=5' }),
      await h2req(s, { path: '/products/nope' }),
      await h2req(s, { path: '/products?limit=0' }),
      await h2req(s, { path: '/cart', headers: user }),
      await h2req(s, { method: 'POST', path: '/auth/send-otp', body: { phone: 'x' } }),
      await h2req(s, { path: '/healthz' }),
      await h2req(s, { path: '/metrics' }),
    ];
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 404, 400, 401, 400, 200, 200]);
  } finally {
    s.close();
  }
});

test('the checker fails an answer that does not match its schema', async () => {
  const broken = structuredClone(doc);
  broken.components.responses.HelloGreeting.content['application/json'].schema.properties.message = { type: 'integer' };
  const checker = new ResponseChecker(async () => ({ status: 200, json: broken }));
  const good = new ResponseChecker(async () => ({ status: 200, json: doc }));
  const r = await h2req(k.url, { path: '/hello/world' });
  await good.check(k.url, 'GET', '/hello/world', r);
  await assert.rejects(checker.check(k.url, 'GET', '/hello/world', r), /does not match \/openapi\.json.*message must be integer/s);
  // a status the operation does not list falls to `default`, a problem
  await assert.rejects(good.check(k.url, 'GET', '/hello/world', { ...r, status: 201 }),
    /content type application\/json is not one of application\/problem\+json/);
  delete broken.paths['/hello/{name}'].get.responses.default;
  await assert.rejects(checker.check(k.url, 'GET', '/hello/world', { ...r, status: 418 }), /status 418 is not described/);
  await assert.rejects(good.check(k.url, 'GET', '/hello/world', { ...r, headers: { 'content-type': 'text/plain' } }),
    /content type text\/plain is not one of/);
  await assert.rejects(good.check(k.url, 'DELETE', '/wishlist/items/x', { status: 204, headers: {}, body: 'x', json: null }),
    /no content, the answer has a body/);
});

/** Builds a one-route plugin: init registers `routes` and calls
 * kr_openapi_add with `spec` (a string), with the SDK's default
 * kr_plugin_openapi_json when spec is 'sdk-default', or not at all when null. */
async function plugin(name, routes, spec) {
  const lit = (x) => JSON.stringify(x);
  const adds = routes.map(([m, p, auth]) => `(rc = kr_route_add(ctx, ${lit(m)}, ${lit(p)}, ${auth || 'KR_AUTH_NONE'}, h, NULL)) < 0`);
  const describe = spec === null ? 'KR_OK' : `kr_openapi_add(ctx, ${spec === 'sdk-default' ? 'kr_plugin_openapi_json' : lit(spec)})`;
  const src = `#include <kirana/kirana.h>
static int h(kr_req *req, void *u) { (void)u; return kr_reply_json(req, 200, json_pack("{s:b}", "ok", 1)); }
static int init(kr_plugin_ctx *ctx) { int rc; if (${adds.join(' || ') || '0'}) return rc; return ${describe}; }
static const kr_plugin d = { KR_PLUGIN_HEADER, .name = ${lit(name)}, .version = "0", .init = init };
__attribute__((visibility("default"))) const kr_plugin *kr_plugin_entry(void) { return &d; }
`;
  const c = join(dir, `${name}.c`), so = join(dir, `${name}.so`);
  writeFileSync(c, src);
  const jansson = (await execFileP('pkg-config', ['--cflags', '--libs', 'jansson'])).stdout.trim().split(/\s+/);
  await execFileP('cc', ['-std=gnu17', '-Wall', '-Werror', '-shared', '-fPIC', '-fvisibility=hidden',
    ...(SANITIZED ? ['-fsanitize=address,undefined'] : []), `-I${join(SRC, 'sdk/include')}`, '-o', so, c,
    join(BUILD, 'sdk/libkirana_sdk.a'), ...jansson]);
  return so;
}

/** --check-config with hello and the given plugin at /x: {code, stderr}. */
async function check(so) {
  const cfg = baseConfig({ plugins: [{ name: 'hello', path: 'hello.so', mount: '/hello' }, { name: 'x', path: so, mount: '/x' }] });
  return runKirana(['--check-config', writeConfig(dir, cfg, `check-${randomBytes(3).toString('hex')}.yaml`)]);
}

const frag = (paths, components) => JSON.stringify({ paths, ...(components ? { components } : {}) });
const ok = { responses: { 200: { description: 'ok' } } };

test('descriptions that do not fit the routes are refused at startup, one line naming the plugin', async () => {
  const cases = [
    [[['GET', '/a']], frag({ '/a': { get: ok }, '/b': { get: ok } }), /^kirana: .*plugin "bad\d+": OpenAPI describes GET \/x\/b, which is not one of its routes/m],
    [[['GET', '/a'], ['POST', '/a']], frag({ '/a': { get: ok } }), /^kirana: .*plugin "bad\d+": route POST \/x\/a is not described in its OpenAPI description/m],
    [[['GET', '/a']], '{"paths": {"/a": ', /^kirana: .*OpenAPI description is not JSON: line 1/m],
    [[['GET', '/a']], frag({ a: { get: ok } }), /^kirana: .*path "a" must start with \//m],
    [[['GET', '/a']], frag({ '/a': { GET: ok } }), /^kirana: .*unknown member "GET" \(operations are lower-case/m],
    [[['GET', '/a']], frag({ '/a': { get: ok } }, { responses: { HelloGreeting: { description: 'x' } } }),
      /^kirana: .*plugin "bad\d+": OpenAPI component responses\/HelloGreeting is also defined by plugin "hello"/m],
    [[['GET', '/a']], frag({ '/a': { get: { responses: { 200: { $ref: '#/components/responses/Nope' } } } } }),
      /^kirana: .*plugin "bad\d+": \$ref "#\/components\/responses\/Nope" points nowhere/m],
    [[['GET', '/a']], 'sdk-default', /^kirana: .*plugin "bad\d+" has no OpenAPI description built in: build it with kirana_add_plugin/m],
  ];
  let n = 0;
  for (const [routes, spec, want] of cases) {
    const r = await check(await plugin(`bad${n++}`, routes, spec));
    assert.notEqual(r.code, 0, `${spec} was accepted`);
    assert.match(r.stderr, want);
    assert.equal(r.stderr.trim().split('\n').filter((l) => l.startsWith('kirana:')).length, 1, r.stderr);
  }
  const good = await check(await plugin('good', [['GET', '/a'], ['POST', '/', 'KR_AUTH_NONE']],
    frag({ '/a': { get: ok }, '/': { post: ok } })));
  assert.equal(good.code, 0, good.stderr);
});

test('a plugin that describes nothing still loads; its routes are marked undescribed', async () => {
  const so = await plugin('old', [['GET', '/a'], ['GET', '/{id}/b']], null);
  const cfg = baseConfig({ plugins: [{ name: 'old', path: so, mount: '/old' }] });
  const k2 = await startKirana(cfg);
  try {
    const d = (await h2req(k2.url, { path: '/openapi.json' })).json;
    assert.equal(d.paths['/old/a'].get['x-kirana-undescribed'], true);
    assert.deepEqual(d.paths['/old/{id}/b'].get.parameters.map((p) => [p.name, p.in, p.required]), [['id', 'path', true]]);
    const v = new Validator();
    assert.ok((await v.validate(structuredClone(d))).valid);
    assert.ok(k2.logs().some((l) => l.level === 'warn' && /plugin "old" gives no OpenAPI description/.test(l.msg)));
  } finally {
    await k2.stop();
    k2.cleanup();
  }
});
