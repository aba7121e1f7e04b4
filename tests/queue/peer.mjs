// Helpers for the queue's interop tests and benchmark: where Redis and
// queue_peer are, Node BullMQ from the repo's pinned package, and
// queue_peer runs whose JSON event lines can be awaited.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const sourceDir = process.env.KIRANA_SOURCE_DIR || join(here, '..', '..');
// bullmq is CommonJS; load the copy package-lock.json pins.
export const bullmq = createRequire(join(sourceDir, 'package.json'))('bullmq');

function serversEnv() {
  const file = process.env.KIRANA_TEST_SERVERS_ENV;
  const env = {};
  if (file && existsSync(file)) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
      if (m) env[m[1]] = m[2];
    }
  }
  return env;
}

export const redisUrl = process.env.KIRANA_TEST_REDIS_URL || serversEnv().KIRANA_TEST_REDIS_URL;
export const peerBin =
  process.env.KIRANA_QUEUE_PEER ||
  join(process.env.KIRANA_BUILD_DIR || join(sourceDir, 'build'), 'tests', 'queue', 'queue_peer');

if (!redisUrl) throw new Error('no Redis: set KIRANA_TEST_SERVERS_ENV or KIRANA_TEST_REDIS_URL');
if (!existsSync(peerBin)) throw new Error(`queue_peer not built at ${peerBin}`);

export function connectionOf(url = redisUrl) {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 6379), db: Number(u.pathname.slice(1) || 0) };
}

// A queue name no other test uses.
export function queueName(tag) {
  return `kq-${tag}-${randomBytes(4).toString('hex')}`;
}

export const sleep = ms => new Promise(r => setTimeout(r, ms));

// Polls fn until it returns a truthy value, at most timeoutMs.
export async function until(fn, timeoutMs = 10000, what = 'condition') {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

function baseArgs(opts = {}) {
  const a = ['--redis', opts.redis || redisUrl];
  if (opts.lockDuration) a.push('--lock-duration', String(opts.lockDuration));
  if (opts.stalledInterval) a.push('--stalled-interval', String(opts.stalledInterval));
  if (opts.maxStalled !== undefined) a.push('--max-stalled', String(opts.maxStalled));
  if (opts.drainDelay) a.push('--drain-delay', String(opts.drainDelay));
  if (opts.prefix) a.push('--prefix', opts.prefix);
  return a;
}

// Runs queue_peer to completion: {code, stdout, stderr}.
export function peerRun(args, opts = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(peerBin, [...baseArgs(opts), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    p.stdout.on('data', d => (stdout += d));
    p.stderr.on('data', d => (stderr += d));
    p.on('error', reject);
    p.on('close', code => resolve({ code, stdout, stderr }));
  });
}

// queue_peer add: the job id.
export async function peerAdd(queue, name, data, jobOpts, opts = {}) {
  const args = ['add', queue, name, JSON.stringify(data)];
  if (jobOpts) args.push(JSON.stringify(jobOpts));
  const r = await peerRun(args, opts);
  if (r.code !== 0) throw new Error(`queue_peer add failed (${r.code}): ${r.stderr}`);
  return r.stdout.trim();
}

export async function peerCounts(queue, opts = {}) {
  const r = await peerRun(['counts', queue], opts);
  if (r.code !== 0) throw new Error(`queue_peer counts failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

// A running `queue_peer consume`: its events (each with `at`, ms since
// start), a way to wait for one, and its exit.
export function peerConsume(queue, consumeArgs = [], opts = {}) {
  const t0 = Date.now();
  const p = spawn(peerBin, [...baseArgs(opts), 'consume', queue, ...consumeArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const events = [];
  const waiters = [];
  let stderr = '';
  p.stderr.on('data', d => (stderr += d));
  createInterface({ input: p.stdout }).on('line', line => {
    let ev;
    try {
      ev = JSON.parse(line);
    } catch {
      return;
    }
    ev.at = Date.now() - t0;
    events.push(ev);
    for (const w of waiters.slice()) if (w.pred(ev)) w.resolve(ev);
  });
  const exited = new Promise(resolve => p.on('close', (code, signal) => resolve({ code, signal })));
  return {
    proc: p,
    events,
    get stderr() {
      return stderr;
    },
    exited,
    waitFor(pred, timeoutMs = 10000, what = 'a queue_peer event') {
      const found = events.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const w = { pred, resolve: ev => (clearTimeout(timer), waiters.splice(waiters.indexOf(w), 1), resolve(ev)) };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`timed out waiting for ${what}; stderr: ${stderr}`));
        }, timeoutMs);
        waiters.push(w);
      });
    },
    started(id) {
      return events.filter(e => e.event === 'start' && (id === undefined || e.id === id));
    },
    async stop() {
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
      return exited;
    },
  };
}

// Node BullMQ objects for one queue, closed (and the queue removed) together.
export async function nodeSide(queue) {
  const connection = connectionOf();
  const q = new bullmq.Queue(queue, { connection });
  // From the stream's start: the queue is new, and reading from '$' would
  // miss events added before the first XREAD.
  const events = new bullmq.QueueEvents(queue, { connection, lastEventId: '0-0' });
  await events.waitUntilReady();
  await q.waitUntilReady();
  const workers = [];
  return {
    connection,
    queue: q,
    events,
    worker(fn, opts = {}) {
      const w = new bullmq.Worker(queue, fn, { connection, ...opts });
      workers.push(w);
      return w;
    },
    async close() {
      for (const w of workers) await w.close(true);
      await events.close();
      await q.obliterate({ force: true }).catch(() => {});
      await q.close();
    },
  };
}

// Collects QueueEvents `name` events into an array.
export function collect(events, name) {
  const seen = [];
  events.on(name, e => seen.push({ ...e, at: Date.now() }));
  return seen;
}
