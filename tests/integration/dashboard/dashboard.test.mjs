// The queue dashboard (tools/queue-dashboard): Bull Board over kirana's
// queue Redis. A browser (Debian's chromium through playwright-core) sees
// the otp, order and delivery queues with jobs that kirana processes ran,
// and the sidecar's own rules are checked over its JSON API.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKirana, baseConfig, h2req, serversEnv, waitFor, SRC, BUILD, FIXTURES } from '../lib/harness.mjs';

const DASH = join(SRC, 'tools/queue-dashboard');
// The dashboard's own lockfile pins Bull Board, bullmq, ioredis and
// playwright-core (scripts/deps.sh runs npm ci there).
const dashRequire = createRequire(join(DASH, 'package.json'));
const { Queue, Worker } = dashRequire('bullmq');
const IORedis = dashRequire('ioredis');
const CHROMIUM = '/usr/bin/chromium';

const redisUrl = serversEnv().KIRANA_TEST_REDIS_URL;

// A key prefix of our own: other suites share the test Redis and may use
// queues named otp, order or delivery under the default prefix.
const newPrefix = (tag) => `kt-${tag}-${randomBytes(4).toString('hex')}`;

async function dropPrefix(prefix) {
  const r = new IORedis(redisUrl);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

/** Starts `node tools/queue-dashboard/server.mjs` (the documented command) on a free port. */
async function startDashboard(env) {
  const p = spawn(process.execPath, [join(DASH, 'server.mjs')], {
    env: { ...process.env, KIRANA_DASHBOARD_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const d = { proc: p, out: '', lines: [], exited: null };
  p.stdout.on('data', (b) => {
    d.out += b;
    d.lines = d.out.split('\n').filter(Boolean).map((l) => { try { return JSON.parse(l); } catch { return { raw: l }; } });
  });
  p.stderr.on('data', (b) => (d.out += b));
  p.on('exit', (code) => (d.exited = { code }));
  d.stop = async () => {
    if (!d.exited) p.kill('SIGTERM');
    await waitFor(() => d.exited, 10000, 'the dashboard to exit');
  };
  await waitFor(() => d.exited || d.lines.find((l) => l.port), 15000, 'the dashboard to listen').catch((e) => {
    p.kill('SIGKILL');
    throw new Error(`${e.message}\n${d.out}`);
  });
  if (d.exited) throw new Error(`dashboard exited ${d.exited.code}:\n${d.out}`);
  d.url = `http://127.0.0.1:${d.lines.find((l) => l.port).port}`;
  return d;
}

async function getJson(url, init) {
  const r = await fetch(url, init);
  return { status: r.status, json: await r.json().catch(() => null) };
}

const queueNames = async (d) => (await getJson(`${d.url}/api/queues`)).json.queues.map((q) => q.name).sort();

describe('the sidecar', () => {
  test('refuses to start without KIRANA_QUEUE_REDIS_URL, naming it', async () => {
    const p = spawn(process.execPath, [join(DASH, 'server.mjs')], {
      env: { ...process.env, KIRANA_QUEUE_REDIS_URL: '' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    p.stdout.on('data', (b) => (out += b));
    const code = await new Promise((r) => p.on('exit', r));
    assert.equal(code, 2);
    assert.match(out, /set KIRANA_QUEUE_REDIS_URL/);
  });

  test('discovers queues under its prefix only, also ones created after it started', async () => {
    const prefix = newPrefix('disc');
    const other = newPrefix('other');
    const conn = { connection: new IORedis(redisUrl, { maxRetriesPerRequest: null }) };
    const qa = new Queue('alpha', { ...conn, prefix });
    const qx = new Queue('elsewhere', { ...conn, prefix: other });
    await qa.add('a', { n: 1 });
    await qx.add('x', { n: 1 });
    const d = await startDashboard({ KIRANA_QUEUE_REDIS_URL: redisUrl, KIRANA_QUEUE_PREFIX: prefix, KIRANA_DASHBOARD_REFRESH_MS: '200' });
    try {
      assert.deepEqual(await queueNames(d), ['alpha']);
      const qb = new Queue('beta', { ...conn, prefix });
      await qb.add('b', { n: 2 });
      await waitFor(async () => (await queueNames(d)).includes('beta'), 5000, 'beta to be discovered');
      assert.deepEqual(await queueNames(d), ['alpha', 'beta']);
      const h = await getJson(`${d.url}/healthz`);
      assert.equal(h.status, 200);
      assert.deepEqual(h.json, { status: 'ok', queues: ['alpha', 'beta'] });
      await qb.close();
    } finally {
      await d.stop();
      await qa.close();
      await qx.close();
      conn.connection.disconnect();
      await dropPrefix(prefix);
      await dropPrefix(other);
    }
  });

  test('KIRANA_DASHBOARD_QUEUES fixes the list; read-only unless KIRANA_DASHBOARD_READ_ONLY=0', async () => {
    const prefix = newPrefix('ro');
    const connection = new IORedis(redisUrl, { maxRetriesPerRequest: null });
    const q = new Queue('jobs', { connection, prefix });
    const hidden = new Queue('hidden', { connection, prefix });
    await hidden.add('h', {});
    const job = await q.add('doomed', { n: 1 });
    const blocking = connection.duplicate();
    const w = new Worker('jobs', async () => { throw new Error('no luck'); }, { connection: blocking, prefix });
    await waitFor(async () => (await job.getState()) === 'failed', 10000, 'the job to fail');
    await w.close();
    blocking.disconnect();
    const env = { KIRANA_QUEUE_REDIS_URL: redisUrl, KIRANA_QUEUE_PREFIX: prefix, KIRANA_DASHBOARD_QUEUES: 'jobs' };
    let d = await startDashboard(env);
    try {
      const qs = (await getJson(`${d.url}/api/queues`)).json.queues;
      assert.deepEqual(qs.map((x) => x.name), ['jobs']);
      assert.equal(qs[0].readOnlyMode, true);
      assert.equal(qs[0].counts.failed, 1);
      const refused = await getJson(`${d.url}/api/queues/jobs/retry/failed`, { method: 'PUT' });
      assert.equal(refused.status, 405);
      assert.equal(await job.getState(), 'failed');
      await d.stop();

      d = await startDashboard({ ...env, KIRANA_DASHBOARD_READ_ONLY: '0' });
      const ok = await getJson(`${d.url}/api/queues/jobs/retry/failed`, { method: 'PUT' });
      assert.equal(ok.status, 200);
      assert.equal(await job.getState(), 'waiting');
    } finally {
      await d.stop();
      await q.close();
      await hidden.close();
      connection.disconnect();
      await dropPrefix(prefix);
    }
  });
});

describe('in a browser', () => {
  const prefix = newPrefix('dash');
  const ks = [];
  let dash;
  // What each queue gets, and what kirana's testkit consumer must make of it.
  const plan = { otp: { ok: 3 }, order: { ok: 2 }, delivery: { ok: 2, fail: 1 } };

  before(async () => {
    const queue = { redis: redisUrl, prefix };
    // One process in the http and worker roles, two worker-only processes,
    // as a deployment runs them: each consumes one queue with testkit.
    const roles = { otp: ['http', 'worker'], order: ['worker'], delivery: ['worker'] };
    for (const name of Object.keys(plan)) {
      ks.push(await startKirana(baseConfig({
        roles: roles[name], plugin_dir: FIXTURES, queue,
        plugins: [{ name: 'testkit', path: 'testkit.so', config: { consume: name } }],
      })));
    }
    // Every job is added by kirana's producer (testkit's POST /enqueue).
    for (const [name, p] of Object.entries(plan)) {
      for (let i = 0; i < p.ok; i++) {
        const r = await h2req(ks[0].url, { method: 'POST', path: '/enqueue', body: { queue: name, name: `${name}-job`, data: { seq: i, tag: `${name}-${i}` } } });
        assert.equal(r.status, 201, r.body);
      }
      for (let i = 0; i < (p.fail || 0); i++) {
        const r = await h2req(ks[0].url, { method: 'POST', path: '/enqueue', body: { queue: name, name: `${name}-job`, data: { fail: true }, opts: { attempts: 1 } } });
        assert.equal(r.status, 201, r.body);
      }
    }
    const connection = new IORedis(redisUrl, { maxRetriesPerRequest: null });
    try {
      for (const [name, p] of Object.entries(plan)) {
        const q = new Queue(name, { connection, prefix });
        await waitFor(async () => {
          const c = await q.getJobCounts('completed', 'failed');
          return c.completed === p.ok && c.failed === (p.fail || 0);
        }, 15000, `kirana to run the ${name} jobs`);
        await q.close();
      }
    } finally {
      connection.disconnect();
    }
    dash = await startDashboard({ KIRANA_QUEUE_REDIS_URL: redisUrl, KIRANA_QUEUE_PREFIX: prefix });
  });

  after(async () => {
    if (dash) await dash.stop();
    for (const k of ks) { await k.stop(); k.cleanup(); }
    await dropPrefix(prefix);
  });

  test('shows otp, order and delivery with the jobs kirana ran, and saves screenshots', async (t) => {
    if (!existsSync(CHROMIUM)) {
      const why = `${CHROMIUM} is missing: scripts/deps.sh could not install Debian's chromium`;
      console.log(`# SKIP dashboard browser test: ${why}`);
      t.skip(why);
      return;
    }
    const { chromium } = dashRequire('playwright-core');
    const out = join(BUILD, 'test-output');
    mkdirSync(out, { recursive: true });
    const userDataDir = mkdtempSync(join(tmpdir(), 'kirana-chromium-'));
    const browser = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run'],
      viewport: { width: 1280, height: 800 },
    });
    try {
      const page = await browser.newPage();
      await page.goto(`${dash.url}/`);
      // The board renders the queue list first and fills the cards and the
      // status counts when its API answers.
      await page.waitForFunction(() => /COMPLETED\s*\d/i.test(document.body.innerText), null, { timeout: 15000 });
      for (const name of Object.keys(plan))
        assert.equal(await page.getByText(name, { exact: true }).count(), 2, `${name} in the list and as a card`);
      const overview = await page.innerText('body');
      // kirana's consumers name their connections as BullMQ workers do, so
      // the board lists them: no queue card says "No workers".
      assert.doesNotMatch(overview, /No workers/);
      // The status tab counts jobs over all queues: 7 completed, 1 failed.
      assert.match(overview, /COMPLETED\s*7/i);
      assert.match(overview, /FAILED\s*1/i);
      const shot = join(out, 'dashboard.png');
      await page.screenshot({ path: shot, fullPage: true });
      assert.ok(statSync(shot).size > 10000, 'a real screenshot');

      for (const [name, p] of Object.entries(plan)) {
        await page.goto(`${dash.url}/queue/${name}?status=completed`);
        await page.getByText(`${name}-${p.ok - 1}`).first().waitFor({ timeout: 15000 });
        const text = await page.innerText('body');
        // Each job shows the data kirana was given and the return value its
        // consumer stored ({echo: data, attempt}).
        for (let i = 0; i < p.ok; i++) assert.match(text, new RegExp(`${name}-${i}`));
        assert.match(text, /returnValue/);
        assert.match(text, /echo/);
        await page.screenshot({ path: join(out, `dashboard-${name}-completed.png`), fullPage: true });
      }
      await page.goto(`${dash.url}/queue/delivery?status=failed`);
      await page.getByText('asked to fail').first().waitFor({ timeout: 15000 });
      await page.screenshot({ path: join(out, 'dashboard-delivery-failed.png'), fullPage: true });
    } finally {
      await browser.close();
      rmSync(userDataDir, { recursive: true, force: true });
    }
  });
});
