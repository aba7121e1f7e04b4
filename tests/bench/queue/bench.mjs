// Queue benchmark: kirana (queue_peer) beside a Node BullMQ Worker, on the
// same Redis in the same run.
//
//   node tests/bench/queue/bench.mjs [--jobs N] [--latency-jobs M] [--rate R]
//        [--concurrency 1,8] [--redis URL]
//
// Throughput: N jobs are added first (Queue.addBulk), then one consumer with
// a no-op function runs them all; jobs/s = N / (start of the consumer to the
// last completion). Latency: M jobs added one by one at R jobs/s to a
// running consumer; enqueue->complete is the job's finishedOn - timestamp
// as BullMQ stores them (millisecond resolution). Without --redis a private
// redis-server is started on a free port. Needs a build: KIRANA_BUILD_DIR
// (default build/) or KIRANA_QUEUE_PEER.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';

const argv = process.argv.slice(2);
const opt = (name, def) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : def;
};
const N = Number(opt('--jobs', 20000));
const M = Number(opt('--latency-jobs', 2000));
const RATE = Number(opt('--rate', 500));
const CONCURRENCY = String(opt('--concurrency', '1,8')).split(',').map(Number);

let redisDir = null;
let redisPort = null;
async function freePort() {
  return new Promise(resolve => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
if (!opt('--redis') && !process.env.KIRANA_TEST_REDIS_URL) {
  redisDir = mkdtempSync(join(tmpdir(), 'kirana-bench-redis-'));
  redisPort = await freePort();
  const r = spawnSync('redis-server', [
    '--bind', '127.0.0.1', '--port', String(redisPort), '--save', '', '--appendonly', 'no', '--dir', redisDir,
    '--daemonize', 'yes', '--pidfile', join(redisDir, 'redis.pid'), '--logfile', join(redisDir, 'redis.log'),
    '--maxmemory-policy', 'noeviction',
  ]);
  if (r.status !== 0) throw new Error(`redis-server: ${r.stderr}`);
  process.env.KIRANA_TEST_REDIS_URL = `redis://127.0.0.1:${redisPort}/0`;
  for (let i = 0; i < 100; i++) {
    if (spawnSync('redis-cli', ['-p', String(redisPort), 'ping'], { encoding: 'utf8' }).stdout.trim() === 'PONG') break;
    await new Promise(r => setTimeout(r, 50));
  }
} else if (opt('--redis')) {
  process.env.KIRANA_TEST_REDIS_URL = opt('--redis');
}

const { bullmq, connectionOf, peerConsume, queueName, sleep, sourceDir } = await import('../../queue/peer.mjs');
const bullmqVersion = JSON.parse(readFileSync(join(sourceDir, 'node_modules', 'bullmq', 'package.json'), 'utf8')).version;
const connection = connectionOf();

async function prefill(name, n) {
  const q = new bullmq.Queue(name, { connection });
  for (let i = 0; i < n; i += 1000) {
    const chunk = [];
    for (let j = i; j < Math.min(n, i + 1000); j++) chunk.push({ name: 'bench', data: { i: j } });
    await q.addBulk(chunk);
  }
  return q;
}

async function throughputKirana(n, concurrency) {
  const name = queueName('bench-k');
  const q = await prefill(name, n);
  const peer = peerConsume(name, ['--mode', 'noop', '--quiet', '--concurrency', String(concurrency), '--exit-after', String(n)]);
  const exit = await peer.exited;
  if (exit.code !== 0) throw new Error(`queue_peer failed: ${peer.stderr}`);
  const ms = peer.events.find(e => e.event === 'exit').elapsed_ms;
  const done = (await q.getJobCounts('completed')).completed;
  await q.obliterate({ force: true });
  await q.close();
  if (done !== n) throw new Error(`kirana completed ${done} of ${n}`);
  return (n / ms) * 1000;
}

async function throughputNode(n, concurrency) {
  const name = queueName('bench-n');
  const q = await prefill(name, n);
  let done = 0;
  let finish;
  const finished = new Promise(r => (finish = r));
  const t0 = Date.now();
  const w = new bullmq.Worker(name, async () => {}, { connection, concurrency });
  w.on('completed', () => {
    if (++done === n) finish(Date.now());
  });
  const t1 = await finished;
  await w.close();
  await q.obliterate({ force: true });
  await q.close();
  return (n / (t1 - t0)) * 1000;
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function latency(kind, m, rate) {
  const name = queueName(`lat-${kind}`);
  const q = new bullmq.Queue(name, { connection });
  await q.waitUntilReady();
  let stop;
  if (kind === 'kirana') {
    const peer = peerConsume(name, ['--mode', 'noop', '--quiet', '--exit-after', String(m)]);
    await peer.waitFor(e => e.event === 'ready');
    stop = async () => {
      const exit = await peer.exited;
      if (exit.code !== 0) throw new Error(`queue_peer failed: ${peer.stderr}`);
    };
  } else {
    let done = 0;
    let finish;
    const finished = new Promise(r => (finish = r));
    const w = new bullmq.Worker(name, async () => {}, { connection });
    w.on('completed', () => ++done === m && finish());
    await w.waitUntilReady();
    stop = async () => {
      await finished;
      await w.close();
    };
  }
  await sleep(200);
  const gap = 1000 / rate;
  const t0 = Date.now();
  for (let i = 0; i < m; i++) {
    await q.add('lat', { i });
    const wait = t0 + (i + 1) * gap - Date.now();
    if (wait > 0) await sleep(wait);
  }
  await stop();
  const jobs = await q.getJobs(['completed'], 0, -1);
  const lat = jobs.map(j => j.finishedOn - j.timestamp).sort((a, b) => a - b);
  await q.obliterate({ force: true });
  await q.close();
  if (lat.length !== m) throw new Error(`${kind}: ${lat.length} of ${m} jobs completed`);
  return { p50: percentile(lat, 50), p99: percentile(lat, 99), max: lat.at(-1) };
}

try {
  console.log(`queue benchmark: ${N} no-op jobs per run, ${cpus().length} cores, bullmq ${bullmqVersion}, redis ${process.env.KIRANA_TEST_REDIS_URL}`);
  const rows = [];
  for (const c of CONCURRENCY) {
    const k = await throughputKirana(N, c);
    const n = await throughputNode(N, c);
    rows.push({ what: `jobs/s, concurrency ${c}`, kirana: k.toFixed(0), node: n.toFixed(0), ratio: (k / n).toFixed(2) });
  }
  const lk = await latency('kirana', M, RATE);
  const ln = await latency('node', M, RATE);
  for (const p of ['p50', 'p99', 'max'])
    rows.push({ what: `enqueue->complete ${p} ms (${M} jobs at ${RATE}/s)`, kirana: String(lk[p]), node: String(ln[p]), ratio: '' });
  const w0 = Math.max(...rows.map(r => r.what.length));
  console.log(`${'measure'.padEnd(w0)}  ${'kirana'.padStart(9)}  ${'node'.padStart(9)}  ${'k/n'.padStart(5)}`);
  for (const r of rows) console.log(`${r.what.padEnd(w0)}  ${r.kirana.padStart(9)}  ${r.node.padStart(9)}  ${r.ratio.padStart(5)}`);
} finally {
  if (redisPort) spawnSync('redis-cli', ['-p', String(redisPort), 'shutdown', 'nosave']);
  if (redisDir) rmSync(redisDir, { recursive: true, force: true });
}
