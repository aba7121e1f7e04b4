// Fresh databases, one per test file: PostgreSQL on the servers fixture, or,
// with KIRANA_TEST_DB=mongo, MongoDB on the mongo fixture (mongo.mjs).
// lib/inspect.mjs reads either.
import { randomBytes } from 'node:crypto';
import { execFileP, serversEnv } from './harness.mjs';
import { freshMongoDatabase } from './mongo.mjs';

export async function freshDatabase(prefix = 'kt') {
  if (process.env.KIRANA_TEST_DB === 'mongo') return freshMongoDatabase(prefix);
  const env = serversEnv();
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  await execFileP('psql', [env.KIRANA_TEST_PG_URI, '-qc', `CREATE DATABASE ${name}`]);
  return {
    name,
    uri: `postgresql://postgres@127.0.0.1:${env.KIRANA_TEST_PG_PORT}/${name}`,
    async drop() {
      await execFileP('psql', [env.KIRANA_TEST_PG_URI, '-qc', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`]).catch(() => {});
    },
  };
}
