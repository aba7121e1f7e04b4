#!/usr/bin/env node
// kirana queue dashboard: Bull Board over the queues in kirana's queue Redis.
//
// kirana's queue speaks BullMQ's protocol, so Bull Board reads its jobs as
// it reads any BullMQ queue. Run it beside a kirana deployment:
//
//   KIRANA_QUEUE_REDIS_URL=redis://127.0.0.1:6379 node tools/queue-dashboard/server.mjs
//
// Environment (see README.md beside this file):
//   KIRANA_QUEUE_REDIS_URL     the queue's Redis (queue.redis in kirana's config); required
//   KIRANA_QUEUE_PREFIX        key prefix (queue.prefix), default "bull"
//   KIRANA_DASHBOARD_QUEUES    comma-separated queue names; unset: discovered from Redis
//   KIRANA_DASHBOARD_PORT      port on 127.0.0.1, default 3001 (0: any free port)
//   KIRANA_DASHBOARD_READ_ONLY "0" lets the board retry, promote, clean and remove jobs;
//                              anything else (the default) only shows them
//   KIRANA_DASHBOARD_REFRESH_MS how often discovery looks for new queues, default 10000
//
// It listens on 127.0.0.1 only: the board has no login of its own, so reach
// it through an SSH tunnel or an authenticating reverse proxy.
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { Queue } from 'bullmq';
import express from 'express';
import IORedis from 'ioredis';

function log(level, msg, extra = {}) {
  // kirana's line shape (ts, level, msg), so one collector reads both.
  process.stdout.write(JSON.stringify({ ts: new Date().toISOString(), level, app: 'queue-dashboard', msg, ...extra }) + '\n');
}

function fail(msg) {
  log('error', msg);
  process.exit(2);
}

function intEnv(name, dflt, min, max) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) fail(`${name}=${raw}: want an integer in ${min}..${max}`);
  return n;
}

const redisUrl = process.env.KIRANA_QUEUE_REDIS_URL;
if (!redisUrl) fail('set KIRANA_QUEUE_REDIS_URL to the queue Redis of kirana (queue.redis in its config)');
const prefix = process.env.KIRANA_QUEUE_PREFIX || 'bull';
const fixed = (process.env.KIRANA_DASHBOARD_QUEUES || '').split(',').map((s) => s.trim()).filter(Boolean);
const port = intEnv('KIRANA_DASHBOARD_PORT', 3001, 0, 65535);
const refreshMs = intEnv('KIRANA_DASHBOARD_REFRESH_MS', 10000, 100, 3600000);
const readOnly = process.env.KIRANA_DASHBOARD_READ_ONLY !== '0';

// BullMQ needs maxRetriesPerRequest null on connections it blocks on.
const redis = new IORedis(redisUrl, { maxRetriesPerRequest: null, lazyConnect: true });
redis.on('error', (e) => log('warn', `queue Redis: ${e.message}`));

// Redis glob metacharacters in the prefix (a cluster prefix is "{bull}")
// must match literally.
const globPrefix = prefix.replace(/[*?[\]\\]/g, (c) => '\\' + c);

// Every queue BullMQ (and so kirana) has written: a producer leaves
// <prefix>:<queue>:meta, an auto-numbered job <prefix>:<queue>:id.
async function discover() {
  const names = new Set();
  for (const suffix of ['meta', 'id']) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${globPrefix}:*:${suffix}`, 'COUNT', 1000);
      cursor = next;
      for (const k of keys) names.add(k.slice(prefix.length + 1, k.length - suffix.length - 1));
    } while (cursor !== '0');
  }
  return [...names].filter((n) => n.length > 0).sort();
}

const serverAdapter = new ExpressAdapter();
serverAdapter.setBasePath('/');
const board = createBullBoard({
  queues: [],
  serverAdapter,
  options: { uiConfig: { boardTitle: 'kirana queues' } },
});
const queues = new Map(); // name -> bullmq Queue

function adapter(q) {
  return new BullMQAdapter(q, { readOnlyMode: readOnly, allowRetries: !readOnly });
}

async function refresh() {
  const names = fixed.length > 0 ? fixed : await discover();
  let changed = false;
  for (const name of names) {
    if (queues.has(name)) continue;
    queues.set(name, new Queue(name, { connection: redis, prefix }));
    changed = true;
  }
  if (changed) {
    board.replaceQueues([...queues.values()].map(adapter));
    log('info', `showing queues: ${[...queues.keys()].join(', ')}`, { queues: [...queues.keys()] });
  }
}

const app = express();
app.disable('x-powered-by');
app.get('/healthz', async (_req, res) => {
  try {
    await redis.ping();
    res.json({ status: 'ok', queues: [...queues.keys()] });
  } catch (e) {
    res.status(503).json({ status: 'unavailable', detail: e.message });
  }
});
app.use('/', serverAdapter.getRouter());

try {
  await redis.connect();
  await refresh();
} catch (e) {
  fail(`cannot read the queue Redis at ${redisUrl}: ${e.message}`);
}

// Discovery keeps running so queues that appear later (a new plugin) show up.
const timer = fixed.length > 0 ? null : setInterval(() => refresh().catch((e) => log('warn', `discovery: ${e.message}`)), refreshMs);

const server = app.listen(port, '127.0.0.1', () => {
  const { port: bound } = server.address();
  log('info', `listening on http://127.0.0.1:${bound}/ (${readOnly ? 'read-only' : 'read-write'})`, { port: bound });
});
server.on('error', (e) => fail(`cannot listen on 127.0.0.1:${port}: ${e.message}`));

async function shutdown(sig) {
  log('info', `${sig}: stopping`);
  if (timer) clearInterval(timer);
  server.close();
  await Promise.allSettled([...queues.values()].map((q) => q.close()));
  await redis.quit().catch(() => {});
  process.exit(0);
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
