// Load for the fault runs: C concurrent shoppers, each a loop over fresh
// users who fill a cart (1 to 3 lines) and place one order with one
// Idempotency-Key. A request that fails (5xx, reset, refused, timeout) is
// retried as a client would: the same cart change (a PUT of the line), the
// same key and body,
// until a final answer (201, 409, 422) or a deadline. Requests go to the
// world's current http process, so a replacement is picked up.
import http2 from 'node:http2';
import { randomBytes } from 'node:crypto';
import { sleep } from '../../integration/lib/harness.mjs';
import { ADMIN } from './system.mjs';

export const ADDRESS = { line1: '7 Fault Lane', city: 'Bengaluru', pincode: '560001' };
const REQUEST_MS = 15000;

/** An HTTP/2 client that follows w.http and reconnects after errors. */
export function client(w) {
  let session = null, url = null;
  const get = () => {
    if (!session || session.closed || session.destroyed || url !== w.http.url) {
      session?.destroy();
      url = w.http.url;
      session = http2.connect(url);
      session.on('error', () => {});
      session.setMaxListeners(0);
    }
    return session;
  };
  return {
    /** Resolves {status, json} or {status: 0, error}. */
    request(method, path, headers = {}, body) {
      return new Promise((resolve) => {
        let s;
        try {
          s = get();
        } catch (e) {
          return resolve({ status: 0, error: e.code || e.message });
        }
        const h = { ':method': method, ':path': path, ...headers };
        if (body !== undefined) h['content-type'] = 'application/json';
        let req;
        try {
          req = s.request(h);
        } catch (e) {
          session?.destroy();
          return resolve({ status: 0, error: e.code || e.message });
        }
        let status = 0, data = '';
        const timer = setTimeout(() => { req.close(http2.constants.NGHTTP2_CANCEL); }, REQUEST_MS);
        req.on('response', (hh) => (status = hh[':status']));
        req.on('data', (d) => (data += d));
        req.on('end', () => {
          clearTimeout(timer);
          let json = null;
          try { json = JSON.parse(data); } catch { /* not JSON */ }
          resolve(status ? { status, json } : { status: 0, error: 'no answer' });
        });
        req.on('error', (e) => {
          clearTimeout(timer);
          resolve({ status: 0, error: e.code || e.message, message: e.message });
        });
        req.end(body === undefined ? undefined : JSON.stringify(body));
      });
    },
    close() { session?.destroy(); },
  };
}

const transient = (r) => r.status === 0 || r.status >= 500 || (r.status === 409 && r.json?.code === 'idempotency_key_in_use');

/**
 * Starts the shoppers. products: {normal: [ids], scarce: id}. Returns
 * {stats, stop()} — stop() lets each shopper finish its user and resolves
 * when all have.
 */
export function startLoad(w, products, { shoppers = 8, deadlineMs = 45000 } = {}) {
  const stats = {
    users: 0, requests: 0, failed: 0, failedByKind: {}, statuses: {}, orders: [], lost: [], unexpected: [],
    failedWindow: 0, window: false, errors: [],
  };
  const note = (r, t0) => {
    stats.requests++;
    if (r.status === 0) stats.errors.push({ t0, t1: Date.now(), error: r.message || r.error });
    const k = r.status === 0 ? r.error : String(r.status);
    if (transient(r)) {
      stats.failed++;
      stats.failedByKind[k] = (stats.failedByKind[k] || 0) + 1;
      if (stats.window) stats.failedWindow++;
    }
  };
  let stopping = false;
  /** Retries one request until it is final; null when the deadline passed. */
  async function final(c, what, fn) {
    const end = Date.now() + deadlineMs;
    for (;;) {
      const t0 = Date.now();
      const r = await fn();
      note(r, t0);
      if (!transient(r)) return r;
      if (Date.now() > end) {
        stats.lost.push({ what, last: r.status || r.error });
        return null;
      }
      await sleep(150);
    }
  }
  async function shopper(i) {
    const c = client(w);
    let n = 0;
    while (!stopping) {
      const u = w.user();
      stats.users++;
      const lines = new Map();
      const count = 1 + ((i + n) % 3);
      for (let j = 0; j < count; j++) lines.set(products.normal[(i * 7 + n * 3 + j) % products.normal.length], 1 + (j % 2));
      if ((i + n) % 4 === 0) lines.set(products.scarce, 1);
      n++;
      let inCart = 0;
      for (const [pid, qty] of lines) {
        const r = await final(c, `cart ${u.id}`, () => c.request('PUT', `/cart/items/${pid}`, u.h, { qty }));
        if (!r) continue;
        if (r.status === 200) inCart++;
        else if (!(r.status === 409 && r.json?.code === 'insufficient_stock')) stats.unexpected.push({ what: 'cart', status: r.status, body: r.json });
      }
      if (!inCart) continue;
      const key = randomBytes(8).toString('hex');
      const r = await final(c, `order ${u.id}`, () =>
        c.request('POST', '/orders', { ...u.h, 'idempotency-key': key }, { address: ADDRESS }));
      if (!r) continue;
      stats.statuses[r.status] = (stats.statuses[r.status] || 0) + 1;
      if (r.status === 201) stats.orders.push({ user: u.id, id: r.json.id, items: r.json.items });
      else if (!((r.status === 409 && r.json?.code === 'out_of_stock') || (r.status === 422 && r.json?.code === 'cart_empty')))
        stats.unexpected.push({ what: 'order', status: r.status, body: r.json });
    }
    c.close();
  }
  const loops = Array.from({ length: shoppers }, (_, i) => shopper(i));
  return {
    stats,
    async stop() {
      stopping = true;
      await Promise.all(loops);
    },
  };
}

/**
 * After a fault: a fresh user places an order until one is accepted, then
 * waits for the worker to confirm it. Resolves {placedMs, confirmedMs}
 * counted from `since` (null where it never happened).
 */
export async function probeRecovery(w, productId, since, ms = 60000) {
  const c = client(w);
  const end = Date.now() + ms;
  const out = { placedMs: null, confirmedMs: null };
  try {
    let id = null;
    while (!id && Date.now() < end) {
      const u = w.user();
      const a = await c.request('POST', '/cart/items', u.h, { product_id: productId, qty: 1 });
      const r = a.status === 200 ? await c.request('POST', '/orders', { ...u.h, 'idempotency-key': 'probe' }, { address: ADDRESS }) : a;
      if (r.status === 201) id = r.json.id;
      else await sleep(100);
    }
    if (!id) return out;
    out.placedMs = Date.now() - since;
    out.id = id;
    while (Date.now() < end) {
      const r = await c.request('GET', `/orders/${id}`, ADMIN);
      if (r.json?.status === 'confirmed') {
        out.confirmedMs = Date.now() - since;
        break;
      }
      await sleep(100);
    }
    return out;
  } finally {
    c.close();
  }
}

/** /healthz of the world's live processes every 200 ms; each answer must come within 1 s. */
export function startHealthProbe(w) {
  const st = { probes: 0, slow: 0, failed: 0, maxMs: 0, stopped: false, errors: [] };
  const one = async (k) => {
    const t0 = Date.now(), epoch = k.epoch;
    let ok = false;
    try {
      ok = (await fetch(`${k.url}/healthz`, { signal: AbortSignal.timeout(1000) })).ok;
    } catch { /* timeout or refused */ }
    const dt = Date.now() - t0;
    if (k.exited || k.terminating || k.epoch !== epoch) return; // the fault took it down on purpose
    st.probes++;
    st.maxMs = Math.max(st.maxMs, dt);
    if (!ok) {
      st.failed++;
      st.errors.push(`${k.roles} ${dt} ms`);
    } else if (dt > 1000) st.slow++;
  };
  const loop = (async () => {
    while (!st.stopped) {
      await Promise.all([w.http, w.worker].filter((k) => k && !k.exited && !k.terminating).map(one));
      await sleep(200);
    }
  })();
  return { st, async stop() { st.stopped = true; await loop; } };
}
