// One system under test: kirana in the `http` role and in the `worker`
// role (separate processes, as in docker-compose.yml), on the private
// PostgreSQL and cart Redis of tests/servers/servers.sh, and a queue Redis
// of its own with AOF (`appendfsync always`, noeviction), as the README
// asks of a production queue Redis. Each fault gets a fresh database, queue
// prefix and processes; the servers are shared by the faults of one run.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { baseConfig, execFileP, FIXTURES, sleep, startKirana } from '../../integration/lib/harness.mjs';
import { freshDatabase } from '../../integration/lib/db.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
export const Redis = createRequire(join(root, 'package.json'))('ioredis');
export const SERVERS_SH = join(root, 'tests/servers/servers.sh');
export const ADMIN = { authorization: 'Bearer test-admin-faults' };

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export async function until(fn, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** servers.sh CMD DIR [ARG] on the run's private servers. */
export async function servers(cmd, arg) {
  const args = [cmd, process.env.KIRANA_FAULTS_SERVERS_DIR];
  if (arg) args.push(arg);
  await execFileP(SERVERS_SH, args);
}

/**
 * The queue Redis: a child process (so that a SIGKILL leaves no zombie),
 * restarted on the same port and folder, where its AOF brings back every
 * write it acknowledged.
 */
export async function startQueueRedis(dir) {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const args = ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'yes',
    '--appendfsync', 'always', '--dir', dir, '--pidfile', join(dir, 'redis.pid'),
    '--logfile', join(dir, 'redis.log'), '--maxmemory-policy', 'noeviction'];
  const q = {
    port, url: `redis://127.0.0.1:${port}/0`, proc: null,
    async up() {
      const p = spawn('redis-server', args, { stdio: 'ignore' });
      p.exited = false;
      p.on('exit', () => { p.exited = true; });
      q.proc = p;
      await until(async () => (await execFileP('redis-cli', ['-p', String(port), 'ping']).catch(() => ({}))).stdout
        ?.trim() === 'PONG', 10000, 'the queue Redis');
    },
    async kill9() {
      const p = q.proc;
      p.kill('SIGKILL');
      await until(() => p.exited, 10000, 'the queue Redis to die');
    },
    async stop() {
      if (q.proc && !q.proc.exited) {
        q.proc.kill('SIGTERM');
        await until(() => q.proc.exited, 10000, 'the queue Redis to stop');
      }
    },
  };
  await q.up();
  return q;
}

/** Redis settings for each part of the world. */
export function serversEnv() {
  const env = {};
  for (const line of readFileSync(process.env.KIRANA_TEST_SERVERS_ENV, 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m) env[m[1]] = m[2];
  }
  return env;
}

/**
 * A fresh world for one fault. opts.logDir: both processes log to files
 * there, access lines included (else stderr, kept in memory by the
 * harness); the caller owns that folder.
 */
export async function newWorld(tag, qredis, opts = {}) {
  const env = serversEnv();
  const db = await freshDatabase(`flt_${tag.replace(/[^a-z0-9]/g, '_')}`);
  const run = randomBytes(4).toString('hex');
  const prefix = `flt-${tag}-${run}`;
  const cartRedis = new Redis({ port: Number(env.KIRANA_TEST_REDIS_PORT), lazyConnect: true, maxRetriesPerRequest: 1,
    retryStrategy: () => 200 });
  const queueRedis = new Redis({ port: qredis.port, maxRetriesPerRequest: 3, retryStrategy: () => 200 });
  cartRedis.on('error', () => {});
  queueRedis.on('error', () => {});
  let users = 0;
  const w = {
    tag, env, db, run, prefix, qredis, cartRedis, queueRedis, procs: [], http: null, worker: null,
    channel: `flt:${tag}:${run}:order-events`,
    user() {
      const id = `f${run}-${++users}`;
      return { id, h: { authorization: `Bearer test-user-${id}` } };
    },
    config(roles, port) {
      return baseConfig({
        roles,
        server: { listen: [{ host: '127.0.0.1', port }], workers: 16, queue_depth: 10000, shutdown_timeout_ms: 10000 },
        db: { uri: db.uri, pool_size: 24, timeout_ms: 2000 },
        redis: { url: env.KIRANA_TEST_REDIS_URL, pool_size: 24, timeout_ms: 1000 },
        queue: { redis: qredis.url, prefix, stalled_interval_ms: 1000, lock_duration_ms: 2000, timeout_ms: 1000 },
        log: { level: 'info', access: !!opts.logDir, file: opts.logDir ? join(opts.logDir, `${roles.join('-')}.log`) : null },
        plugins: [
          { name: 'testkit', path: `${FIXTURES}/testkit.so`, mount: '/t', config: { authenticator: true } },
          { name: 'product', path: 'product.so', mount: '/products' },
          { name: 'cart', path: 'cart.so', mount: '/cart', config: { max_qty_per_item: 1000 } },
          { name: 'order', path: 'order.so', mount: '/orders', config: {
            events_channel: w.channel, reconcile_interval_ms: 500, pending_timeout_ms: 5000, stuck_after_ms: 5000,
            order_jobs: { concurrency: 8, attempts: 5, backoff_ms: 200 },
            delivery: { concurrency: 2, attempts: 5, backoff_ms: 200 } } },
        ],
      });
    },
    /** A kirana process in the given roles, answering /healthz. */
    async start(roles) {
      const port = await freePort();
      const dir = mkdtempSync(join(process.env.KIRANA_FAULTS_TMP || tmpdir(), 'kirana-'));
      const k = await startKirana(w.config(roles, port), { listeners: 0, dir });
      k.ports.push(port);
      k.roles = roles;
      w.procs.push(k);
      await until(async () => {
        if (k.exited) throw new Error(`kirana ${roles} exited ${JSON.stringify(k.exited)}\n${k.raw}`);
        return (await fetch(`${k.url}/healthz`, { signal: AbortSignal.timeout(1000) }).catch(() => null))?.ok;
      }, 30000, `kirana ${roles} to answer /healthz`);
      return k;
    },
    async startHttp() { w.http = await w.start(['http']); return w.http; },
    async startWorker() { w.worker = await w.start(['worker']); return w.worker; },
    /** psql on the world's database; resolves its output, trimmed. */
    async sql(text) {
      const { stdout } = await execFileP('psql', [db.uri, '-qAtc', text], { maxBuffer: 256 << 20 });
      return stdout.trim();
    },
    /** SIGTERMs every live process; resolves [{roles, code, signal}] of those. */
    async stopAll() {
      const exits = [];
      for (const k of w.procs) {
        if (k.exited) continue;
        const e = await k.stop('SIGTERM', 60000).catch(() => ({ code: 'timeout' }));
        exits.push({ roles: k.roles.join('+'), ...e, tail: e.code === 0 ? '' : k.raw.slice(-2000) });
      }
      return exits;
    },
    async close() {
      for (const k of w.procs) k.cleanup();
      cartRedis.disconnect();
      await queueRedis.eval("for _,k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end return 0",
        0, `${prefix}:*`).catch(() => {});
      queueRedis.disconnect();
      await db.drop();
    },
  };
  return w;
}
