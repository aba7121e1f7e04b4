// Fresh databases on the MongoDB wire-protocol server of the `mongo` fixture
// (tests/servers/ferretdb.sh: FerretDB, or mongod), one per test file: the
// MongoDB twin of db.mjs, which hands these out when KIRANA_TEST_DB=mongo.
//
// The server comes from KIRANA_TEST_MONGODB_URI (a real MongoDB) when set,
// else from the fixture's env file, KIRANA_TEST_MONGO_ENV.
//
// `node mongo.mjs --check-switch` exits non-zero unless db.mjs's
// freshDatabase() answers a mongodb:// URI under KIRANA_TEST_DB=mongo, so
// a run meant for MongoDB cannot pass on PostgreSQL unnoticed.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

function mongoEnv() {
  const f = process.env.KIRANA_TEST_MONGO_ENV;
  if (!f || !existsSync(f)) throw new Error(`mongo fixture env file missing: ${f} (ctest fixture 'mongo')`);
  const env = {};
  for (const line of readFileSync(f, 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m) env[m[1]] = m[2];
  }
  return env;
}

// uri with its database replaced by name (options kept).
function withDatabase(uri, name) {
  const q = uri.indexOf('?');
  const query = q >= 0 ? uri.slice(q) : '';
  const base = q >= 0 ? uri.slice(0, q) : uri;
  const slash = base.indexOf('/', base.indexOf('://') + 3);
  return `${slash >= 0 ? base.slice(0, slash) : base}/${name}${query}`;
}

/** {name, uri, drop()}, the shape of db.mjs's freshDatabase. MongoDB makes
 * a database on its first write, so nothing is sent here. drop() drops the
 * database (dropDatabase through the Node driver); errors there are ignored,
 * as db.mjs does, since the server may be down by then. */
export async function freshMongoDatabase(prefix = 'kt') {
  const server = process.env.KIRANA_TEST_MONGODB_URI || mongoEnv().KIRANA_TEST_MONGO_URI;
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const uri = withDatabase(server, name);
  return {
    name,
    uri,
    async drop() {
      const { MongoClient } = await import('mongodb');
      const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5000 });
      try {
        await client.db(name).dropDatabase();
      } catch {
        // the server may be gone (outage tests); the fixture removes its data
      } finally {
        await client.close().catch(() => {});
      }
    },
  };
}

// No top-level await: db.mjs imports this module, which must finish first.
if (process.argv[2] === '--check-switch' && import.meta.url === pathToFileURL(process.argv[1]).href) {
  import('./db.mjs').then(async ({ freshDatabase }) => {
    const db = await freshDatabase();
    if (!db.uri.startsWith('mongodb')) {
      console.error('KIRANA_TEST_DB=mongo is not wired into tests/integration/lib/db.mjs: freshDatabase() ' +
        'answered a non-MongoDB database');
      await db.drop();
      process.exitCode = 1;
    }
  });
}
