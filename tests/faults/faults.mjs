// Fault injection (run by tests/faults/run.sh, which starts the servers and
// sets the environment). For each fault, one at a time: a fresh system
// (kirana `http` and `worker` processes, a new database and queue prefix),
// shoppers placing orders and changing carts, the fault injected and ended
// under that load, a probe order placed and confirmed (recovery, without
// restarting kirana), the load stopped, everything in flight allowed to
// finish, and then the invariants of lib/checks.mjs. Prints one table row
// per fault; exits 1 if any check failed.
//
//   node faults.mjs [FAULT ...]     (default: all; names as in the table)
import { appendFileSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileP, sleep } from '../integration/lib/harness.mjs';
import { ADMIN, newWorld, servers, startQueueRedis, until } from './lib/system.mjs';
import { client, probeRecovery, startHealthProbe, startLoad } from './lib/load.mjs';
import { ordersOf, productViews, quiesce, verify } from './lib/checks.mjs';
import { lockRows, lockWaits } from './lib/rowlock.mjs';

const WARM_MS = 1500, AFTER_MS = 1500;
let live = []; // the kirana processes of the running fault

/** Products of one world: six plentiful ones, one scarce (sells out under load), two for the worker faults. */
async function makeProducts(w) {
  const c = client(w);
  const initial = new Map();
  const make = async (stock, name) => {
    const r = await c.request('POST', '/products', ADMIN, { name, price: 1000 + initial.size, stock });
    if (r.status !== 201) throw new Error(`creating a product: ${r.status} ${JSON.stringify(r.json)}`);
    initial.set(r.json.id, stock);
    return r.json.id;
  };
  const normal = [];
  for (let i = 0; i < 6; i++) normal.push(await make(100000, `Staple ${i}`));
  const scarce = await make(25, 'Scarce');
  const special = [await make(1000, 'Special A'), await make(1000, 'Special B')].sort();
  c.close();
  return { initial, normal, scarce, special };
}

/**
 * Orders of `n` fresh users for the two special products (qty 1 and 2),
 * placed while the worker is stopped so that none is confirmed yet.
 */
async function specialOrders(w, products, n) {
  const c = client(w);
  const ids = [];
  for (let i = 0; i < n; i++) {
    const u = w.user();
    for (const [pid, qty] of [[products.special[0], 1], [products.special[1], 2]]) {
      const r = await c.request('PUT', `/cart/items/${pid}`, u.h, { qty });
      if (r.status !== 200) throw new Error(`cart: ${r.status} ${JSON.stringify(r.json)}`);
    }
    const r = await c.request('POST', '/orders', { ...u.h, 'idempotency-key': `special-${i}` }, { address: { line1: 'x', city: 'y', pincode: '560001' } });
    if (r.status !== 201) throw new Error(`special order: ${r.status} ${JSON.stringify(r.json)}`);
    ids.push(r.json.id);
  }
  c.close();
  return ids;
}

/** Marks a process as taken down (or back) on purpose: /healthz probes spanning the change do not count. */
function aside(k, down) {
  k.terminating = down;
  k.epoch = (k.epoch || 0) + 1;
}

const statusCount = async (w, ids, status) => Number(await w.sql(
  `SELECT count(*) FROM orders WHERE id IN (${ids.map((i) => `'${i}'`).join(',')}) AND doc->>'status' = '${status}'`));

async function committedOf(w, id) {
  const c = client(w);
  try {
    return (await c.request('GET', `/products/${id}`, ADMIN)).json?.committed;
  } finally {
    c.close();
  }
}

/**
 * SIGKILL of the worker role stopped inside `order` jobs: `before` — every
 * job confirmed its order and waits to commit the first line; `after` —
 * every line committed, the job waits to mark the order finished. A new
 * worker (as a supervisor would start) recovers the stalled jobs.
 */
function workerKill(after) {
  return async (w, ctx) => {
    const n = 6;
    const [a, b] = ctx.products.special;
    const paused = w.worker;
    aside(paused, true); // stopped on purpose: not probed
    paused.proc.kill('SIGSTOP');
    const ids = await specialOrders(w, ctx.products, n);
    const products = await lockRows(w, 'products', after ? [a, b] : [a]);
    paused.proc.kill('SIGCONT');
    aside(paused, false);
    await until(async () => (await statusCount(w, ids, 'confirmed')) === n, 30000, 'the special orders confirmed');
    let rows = products;
    if (after) {
      const orders = await lockRows(w, 'orders', ids);
      await products.release();
      rows = orders;
      await until(async () => (await committedOf(w, a)) === n && (await committedOf(w, b)) === 2 * n, 30000,
        'every special line committed');
    }
    await until(async () => (await lockWaits(w)) > 0, 30000, 'the worker to wait on a locked row');
    const at = { a: await committedOf(w, a), b: await committedOf(w, b) };
    const killed = w.worker;
    aside(killed, true);
    killed.proc.kill('SIGKILL');
    await until(() => killed.exited, 10000, 'the worker to die');
    await rows.release();
    const end = Date.now();
    await w.startWorker();
    const expect = after ? { a: n, b: 2 * n } : { a: 0, b: 0 };
    return {
      end,
      extra: [{ name: after ? 'killed after every commit' : 'killed before any commit',
        ok: at.a === expect.a && at.b === expect.b, detail: `committed at the kill: ${JSON.stringify(at)}` }],
      note: `${n} jobs killed`,
    };
  };
}

async function sigtermHttp(w, ctx) {
  const old = w.http;
  aside(old, true);
  const at = Date.now();
  old.proc.kill('SIGTERM');
  await w.startHttp();
  const exit = await until(() => old.exited, 30000, 'the http process to drain and exit');
  const doneMs = Date.now() - at;
  ctx.sigtermAt = at;
  ctx.exits.push({ roles: 'http (SIGTERM)', ...exit, tail: exit.code === 0 ? '' : old.raw.slice(-2000) });
  return { end: Date.now(), note: `drained in ${doneMs} ms`, check: (load, orders) => {
    // a request the old process had taken must have been answered; only
    // streams it refused (GOAWAY) may fail, and those are safe to retry
    const cut = load.errors.filter((e) => e.t0 < at && e.t1 >= at && !/REFUSED_STREAM|GOAWAY/i.test(e.error));
    const half = orders.filter((o) => o.reason === 'placement_timeout');
    return [
      { name: 'in-flight requests answered', ok: !cut.length, detail: `${cut.length} cut: ${JSON.stringify(cut.slice(0, 3))}` },
      { name: 'no placement half-applied', ok: !half.length, detail: `${half.length} orders cancelled as placement_timeout` },
    ];
  } };
}

async function sigtermWorker(w, ctx) {
  const old = w.worker;
  aside(old, true);
  const at = Date.now();
  old.proc.kill('SIGTERM');
  const exit = await until(() => old.exited, 30000, 'the worker to drain and exit');
  const doneMs = Date.now() - at;
  ctx.exits.push({ roles: 'worker (SIGTERM)', ...exit, tail: exit.code === 0 ? '' : old.raw.slice(-2000) });
  await w.startWorker();
  return { end: Date.now(), note: `drained in ${doneMs} ms`, check: (load, orders, figures) => [
    { name: 'no job failed by the drain', ok: figures.jobs.order.failed === 0 && figures.jobs.delivery.failed === 0,
      detail: JSON.stringify(figures.jobs) }] };
}

/** The log files on a 1 MiB tmpfs, filled up while the load runs, then freed. */
async function diskFull(w, ctx) {
  const dir = ctx.logDir;
  const files = ['http.log', 'worker.log'].map((f) => join(dir, f));
  const sizes = () => files.map((f) => statSync(f).size);
  const filler = join(dir, 'filler');
  const fd = openSync(filler, 'w');
  const chunk = Buffer.alloc(4096, 120);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (e) {
    if (e.code !== 'ENOSPC') throw e;
  } finally {
    closeSync(fd);
  }
  const full0 = sizes();
  const before = ctx.load.stats.requests;
  await sleep(3000);
  const full1 = sizes();
  const served = ctx.load.stats.requests - before;
  rmSync(filler);
  const end = Date.now();
  const freed = sizes();
  await until(async () => sizes().every((s, i) => s > freed[i] + 200), 20000, 'log lines again').catch(() => {});
  ctx.after = async () => {
    // the disk may cut one line per file short; that fragment must stay on
    // a line of its own, every other line whole JSON
    let bad = 0, merged = 0, total = 0;
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      for (const line of text.split('\n').filter(Boolean)) {
        total++;
        if (line.indexOf('{"ts":', 1) > 0) merged++;
        try { JSON.parse(line); } catch { bad++; }
      }
    }
    const grew = sizes().every((s, i) => s > freed[i]);
    return [
      { name: 'log writes failed while full', ok: full1.every((s, i) => s - full0[i] < 8192) && served > 0,
        detail: `log grew ${full1.map((s, i) => s - full0[i])} bytes while full; ${served} requests served meanwhile` },
      { name: 'logging resumed', ok: grew, detail: `sizes ${freed} -> ${sizes()}` },
      { name: 'log lines whole', ok: merged === 0 && bad <= files.length,
        detail: `${bad} of ${total} lines are not JSON, ${merged} hold the start of another line` },
    ];
  };
  return { end, note: `${served} requests while full` };
}

const FAULTS = [
  { name: 'worker-kill-before-commit', what: 'SIGKILL of the worker role with 6 jobs confirmed, before their commits', inject: workerKill(false) },
  { name: 'worker-kill-after-commit', what: 'SIGKILL of the worker role with 6 jobs committed, before they finished', inject: workerKill(true) },
  { name: 'queue-redis-restart', what: 'SIGKILL of the queue Redis (AOF), 1 s down, restarted', inject: async (w) => {
    await w.qredis.kill9();
    await sleep(1000);
    await w.qredis.up();
    return { end: Date.now() };
  } },
  { name: 'cart-redis-restart', what: 'cart Redis restarted (no persistence: carts lost)', inject: async () => {
    await servers('restart', 'redis');
    return { end: Date.now() };
  } },
  { name: 'cart-redis-flush', what: 'FLUSHALL of the cart Redis, twice', inject: async (w) => {
    await w.cartRedis.flushall();
    await sleep(700);
    await w.cartRedis.flushall();
    return { end: Date.now() };
  } },
  { name: 'pg-restart', what: 'PostgreSQL restarted (pg_ctl restart -m fast)', inject: async () => {
    await servers('restart', 'pg');
    return { end: Date.now() };
  } },
  { name: 'pg-pause', what: 'PostgreSQL SIGSTOPped for 3 s (every process), then SIGCONT', inject: async () => {
    await servers('pause', 'pg');
    await sleep(3000);
    await servers('resume', 'pg');
    return { end: Date.now() };
  } },
  { name: 'http-sigterm', what: 'SIGTERM of the http role under load; a new one started', inject: sigtermHttp },
  { name: 'worker-sigterm', what: 'SIGTERM of the worker role under load; a new one started', inject: sigtermWorker },
  { name: 'log-disk-full', what: 'log files on a full 1 MiB tmpfs for 3 s, then space freed', inject: diskFull, disk: true },
];

async function runFault(f, qredis) {
  const t0 = Date.now();
  const ctx = { exits: [] };
  if (f.disk) {
    ctx.logDir = mkdtempSync(join(process.env.KIRANA_FAULTS_TMP || tmpdir(), 'log-'));
    await execFileP('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', ctx.logDir]);
  }
  const w = await newWorld(f.name, qredis, { logDir: ctx.logDir });
  live = w.procs;
  try {
    await w.cartRedis.connect();
    await w.startHttp();
    await w.startWorker();
    ctx.products = await makeProducts(w);
    const load = ctx.load = startLoad(w, ctx.products);
    const health = startHealthProbe(w);
    await sleep(WARM_MS);
    load.stats.window = true;
    const r = await f.inject(w, ctx);
    const recovery = await probeRecovery(w, ctx.products.normal[0], r.end);
    load.stats.window = false;
    await sleep(AFTER_MS);
    await load.stop();
    await health.stop();
    let quietMs = null, quietErr = null;
    try {
      quietMs = await quiesce(w);
    } catch (e) {
      quietErr = e.message;
    }
    const extra = [...(r.extra || []), ...(ctx.after ? await ctx.after() : [])];
    extra.push({ name: 'settled', ok: !quietErr, detail: quietErr });
    const views = await productViews(w, ctx.products);
    const exits = [...ctx.exits, ...(await w.stopAll())];
    if (process.env.KIRANA_FAULTS_DEBUG) debugLogs(w);
    const res = await verify(w, { products: ctx.products, views, load: load.stats, health: health.st, recovery, exits, extra });
    if (r.check) {
      for (const c of r.check(load.stats, await ordersOf(w), res.figures)) res.checks.push({ ...c, detail: c.ok ? '' : c.detail });
    }
    res.figures.quietMs = quietMs;
    res.figures.note = r.note;
    res.figures.totalMs = Date.now() - t0;
    return res;
  } finally {
    await w.close();
    if (ctx.logDir) {
      await execFileP('umount', [ctx.logDir]).catch(() => {});
      rmSync(ctx.logDir, { recursive: true, force: true });
    }
  }
}

/** Warnings and errors of each process, counted by message (KIRANA_FAULTS_DEBUG=1). */
function debugLogs(w) {
  for (const k of w.procs) {
    const n = new Map();
    for (const l of k.lines) {
      if (l.level === 'info' || l.level === 'debug') continue;
      const m = String(l.msg ?? l.raw).replace(/[0-9a-f]{24}/g, 'ID').replace(/\d+/g, 'N').slice(0, 160);
      n.set(m, (n.get(m) || 0) + 1);
    }
    console.log(`\n  [${k.roles}] ${[...n].map(([m, c]) => `${c}x ${m}`).join('\n  ')}`);
  }
}

function fmtFigures(x) {
  const rec = x.recovery.placedMs === null ? 'none' : `${x.recovery.placedMs}/${x.recovery.confirmedMs ?? '-'} ms`;
  const answers = Object.entries(x.answers).map(([k, v]) => `${k}:${v}`).join(' ');
  return `placed ${x.placed} confirmed ${x.confirmed} out_of_stock ${x.out_of_stock} timed_out ${x.timed_out} ` +
    `(answers ${answers}); ` +
    `failed requests ${x.failed}/${x.requests} (${x.failedWindow} in the fault); ` +
    `recovery place/confirm ${rec}; healthz max ${x.healthMaxMs} ms; ` +
    `jobs order ${x.jobs.order.completed}+${x.jobs.order.failed}f (${x.jobless} orders without one) delivery ${x.jobs.delivery.completed}+${x.jobs.delivery.failed}f; ` +
    `settled ${x.quietMs ?? '-'} ms; ${x.note ? `${x.note}; ` : ''}${(x.totalMs / 1000).toFixed(1)} s`;
}

const want = process.argv.slice(2);
const unknown = want.filter((n) => !FAULTS.some((f) => f.name === n));
if (unknown.length) {
  console.error(`unknown fault(s): ${unknown.join(' ')}; known: ${FAULTS.map((f) => f.name).join(' ')}`);
  process.exit(2);
}
const chosen = want.length ? FAULTS.filter((f) => want.includes(f.name)) : FAULTS;
const qredis = await startQueueRedis(join(process.env.KIRANA_FAULTS_SERVERS_DIR, 'queue-redis'));
// stopped from outside (run.sh forwards TERM): take the processes along
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    for (const k of live) k.kill();
    qredis.proc?.kill('SIGKILL');
    process.exit(143);
  });
}
const rows = [];
const started = Date.now();
try {
  for (const f of chosen) {
    process.stdout.write(`${f.name}: ${f.what} ... `);
    let res;
    try {
      res = await runFault(f, qredis);
    } catch (e) {
      res = { checks: [{ name: 'ran', ok: false, detail: e.stack }], figures: null };
    }
    const failed = res.checks.filter((c) => !c.ok);
    rows.push({ f, res, failed });
    console.log(failed.length ? 'FAIL' : 'pass');
    for (const c of failed) console.log(`  FAIL ${c.name}: ${c.detail}`);
    if (process.env.KIRANA_FAULTS_LOG) appendFileSync(process.env.KIRANA_FAULTS_LOG, `${JSON.stringify({ fault: f.name, ...res })}\n`);
  }
} finally {
  await qredis.stop();
}

console.log('\nChecked after each fault: stock identity (stock + reserved + committed + shipped = initial, none < 0, from ' +
  'the admin view); stock = confirmed orders (committed = their lines, nothing reserved); every 201 order confirmed ' +
  'once; no order doubled (one Idempotency-Key per user, retried); every order confirmed or cancelled with a reason; ' +
  'every queue job completed or failed with a reason; every request answered after retries; /healthz within 1 s; ' +
  'a new order placed and confirmed without restarting kirana; clean exit (0) on SIGTERM; plus per fault.\n');
const line = (a, b, c, d) => console.log(`| ${a} | ${b} | ${c} | ${d} |`);
line('fault', 'checked', 'result', 'figures');
line('---', '---', '---', '---');
for (const { f, res, failed } of rows) {
  const extra = res.checks.length > 10 ? ` + ${res.checks.slice(10).map((c) => c.name).join(', ')}` : '';
  line(f.name, `${res.checks.length - failed.length}/${res.checks.length}${extra}${failed.length ? `; failed: ${failed.map((c) => c.name).join(', ')}` : ''}`,
    failed.length ? 'FAIL' : 'pass', res.figures ? fmtFigures(res.figures) : '-');
}
const bad = rows.filter((r) => r.failed.length).length;
console.log(`\n${rows.length - bad}/${rows.length} faults passed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
process.exit(bad ? 1 : 0);
