// PostgreSQL row locks held by a psql session: they stop a worker at a
// chosen step of an `order` job (it waits on the locked row) so that a
// SIGKILL lands exactly there.
import { spawn } from 'node:child_process';
import { until } from './system.mjs';

/** Locks rows of table with the given ids until release(). */
export async function lockRows(w, table, ids) {
  const p = spawn('psql', [w.db.uri, '-qAt'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (d) => (out += d));
  p.stderr.on('data', (d) => (out += d));
  const closed = new Promise((r) => p.on('close', r));
  const list = ids.map((i) => `'${i.replace(/'/g, "''")}'`).join(',');
  p.stdin.write(`BEGIN;\nSELECT 'locked:' || count(*) FROM (SELECT id FROM ${table} WHERE id IN (${list}) FOR UPDATE) x;\n`);
  await until(() => out.includes(`locked:${ids.length}`), 30000, `a lock on ${ids.length} ${table} rows (${out})`);
  return {
    async release() {
      p.stdin.end('ROLLBACK;\n');
      await closed;
    },
  };
}

/** Statements of the database waiting for a row lock right now. */
export const lockWaits = async (w) => Number(await w.sql(
  `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`));
