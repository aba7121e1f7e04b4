// Fresh PostgreSQL databases on the servers fixture, one per test file.
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
