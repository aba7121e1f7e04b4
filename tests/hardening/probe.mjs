// What the abuse tests measure on the server and ask of it: memory and CPU
// of a process from /proc, and /healthz on a fresh connection with a clock.
import { readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';

/**
 * Environment for a kirana whose RSS a test bounds. Under ASan, freed
 * memory waits in a quarantine of 256 MiB before reuse, so RSS follows
 * allocation churn rather than live memory; a small quarantine keeps
 * use-after-free detection for recent frees and makes RSS mean something.
 */
export function memoryEnv() {
  if (process.env.KIRANA_SANITIZE !== '1') return {};
  return { ASAN_OPTIONS: `${process.env.ASAN_OPTIONS || ''}:quarantine_size_mb=8:thread_local_quarantine_size_kb=256` };
}

/** Resident set size of pid in KiB (VmRSS). */
export function rssKB(pid) {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
}

/** User + system CPU seconds pid has used (all threads). */
export function cpuSeconds(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in USER_HZ (100)
}

/** Open file descriptors of pid. */
export function fdCount(pid) {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/**
 * GET /healthz on a new connection (HTTP/1.1, or h2c when h2 is set);
 * resolves {status, ms}, status 0 when it failed or took longer than
 * timeoutMs.
 */
export function healthz(port, { h2 = false, timeoutMs = 5000 } = {}) {
  const t0 = process.hrtime.bigint();
  const ms = () => Number(process.hrtime.bigint() - t0) / 1e6;
  return new Promise((resolve) => {
    let done = false;
    const finish = (status, cleanup) => { if (done) return; done = true; cleanup(); resolve({ status, ms: ms() }); };
    if (h2) {
      const s = http2.connect(`http://127.0.0.1:${port}`);
      const timer = setTimeout(() => finish(0, () => s.destroy()), timeoutMs);
      s.on('error', () => finish(0, () => { clearTimeout(timer); s.destroy(); }));
      const req = s.request({ ':path': '/healthz' });
      req.on('response', (h) => finish(h[':status'], () => { clearTimeout(timer); s.close(); }));
      req.on('error', () => finish(0, () => { clearTimeout(timer); s.destroy(); }));
      req.end();
    } else {
      const req = http.get({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => {
        res.resume();
        finish(res.statusCode, () => clearTimeout(timer));
      });
      const timer = setTimeout(() => finish(0, () => req.destroy()), timeoutMs);
      req.on('error', () => finish(0, () => clearTimeout(timer)));
    }
  });
}
