// lib/inspect.mjs on the backend of this run (PostgreSQL, or MongoDB under
// KIRANA_TEST_DB=mongo): documents, filters, counts, indexes, $set updates
// and deletes read back the same on both. The documents and indexes are
// written here the way kirana writes them (core/db/README.md).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileP } from './harness.mjs';
import { freshDatabase } from './db.mjs';
import { inspector } from './inspect.mjs';

const DOCS = [
  { _id: 'a1', phone: '+911', role: 'user', n: 3, tags: ['x', 'y'], addr: { city: 'Pune' } },
  { _id: 'a2', phone: '+912', role: 'admin', n: 5, holds: [{ order: 'o1', qty: 2 }] },
  { _id: 'a3', phone: '+913', role: 'user', n: 4.5, name: null },
];
let db, ins;

before(async () => {
  db = await freshDatabase('inspect');
  if (db.uri.startsWith('postgres')) {
    const q = (s) => `'${s.replace(/'/g, "''")}'`;
    await execFileP('psql', [db.uri, '-qc', `
      CREATE TABLE users (id text COLLATE "C" NOT NULL, doc jsonb NOT NULL, CONSTRAINT "users._id_" PRIMARY KEY (id));
      CREATE UNIQUE INDEX "users.phone_1" ON users ((doc->'phone'));
      CREATE INDEX "users.phone_1~arr" ON users ((doc->'phone')) WHERE jsonb_typeof(doc->'phone') = 'array';
      CREATE INDEX "users.city_n" ON users ((doc #> '{addr,city}') DESC, (doc->'n'));
      ${DOCS.map((d) => `INSERT INTO users VALUES (${q(d._id)}, ${q(JSON.stringify(d))});`).join('\n')}`]);
  } else {
    const { MongoClient } = await import('mongodb');
    const c = new MongoClient(db.uri);
    try {
      const u = c.db().collection('users');
      await u.insertMany(DOCS);
      await u.createIndex({ phone: 1 }, { name: 'phone_1', unique: true });
      await u.createIndex({ 'addr.city': -1, n: 1 }, { name: 'city_n' });
    } finally { await c.close(); }
  }
  ins = await inspector(db);
});

after(async () => {
  await ins?.close();
  await db?.drop();
});

test('find, findOne and count with equality, dotted paths, arrays and operators', async () => {
  assert.deepEqual((await ins.find('users')).map((d) => d._id), ['a1', 'a2', 'a3']);
  assert.deepEqual(await ins.findOne('users', { _id: 'a1' }), DOCS[0]);
  assert.equal(await ins.count('users'), 3);
  assert.equal((await ins.findOne('users', { phone: '+912' })).role, 'admin');
  assert.equal((await ins.findOne('users', { tags: 'y' }))._id, 'a1');
  assert.equal((await ins.findOne('users', { 'holds.order': 'o1' }))._id, 'a2');
  assert.equal((await ins.findOne('users', { 'addr.city': 'Pune' }))._id, 'a1');
  assert.equal(await ins.count('users', { role: 'user' }), 2);
  assert.equal(await ins.count('users', { n: { $gte: 4 } }), 2);
  assert.equal(await ins.count('users', { n: { $lt: 4 } }), 1);
  assert.equal(await ins.count('users', { role: { $in: ['admin', 'x'] } }), 1);
  assert.equal(await ins.count('users', { role: { $ne: 'admin' } }), 2);
  assert.equal(await ins.count('users', { holds: { $exists: false } }), 2);
  assert.equal(await ins.count('users', { name: null }), 3, 'null matches a missing field too');
  assert.equal(await ins.findOne('users', { phone: 'nobody' }), null);
  assert.deepEqual(await ins.find('no_such_collection'), []);
  assert.equal(await ins.count('no_such_collection'), 0);
});

test('indexes: names, keys in order with directions, uniqueness', async () => {
  const ix = (await ins.indexes('users')).sort((a, b) => (a.name < b.name ? -1 : 1));
  assert.deepEqual(ix.map((i) => ({ ...i, keys: Object.entries(i.keys) })), [
    { name: '_id_', keys: [['_id', 1]], unique: true },
    { name: 'city_n', keys: [['addr.city', -1], ['n', 1]], unique: false },
    { name: 'phone_1', keys: [['phone', 1]], unique: true },
  ]);
  assert.deepEqual(await ins.indexes('no_such_collection'), []);
});

test('updateOne ($set, dotted paths) and deleteMany', async () => {
  assert.equal(await ins.updateOne('users', { phone: '+911' }, { $set: { role: 'admin', 'addr.zip': 411001, 'p.q': 1 } }), 1);
  const a1 = await ins.findOne('users', { _id: 'a1' });
  assert.equal(a1.role, 'admin');
  assert.deepEqual(a1.addr, { city: 'Pune', zip: 411001 });
  assert.deepEqual(a1.p, { q: 1 });
  assert.equal(await ins.updateOne('users', { phone: 'nobody' }, { $set: { role: 'x' } }), 0);
  assert.equal(await ins.deleteMany('users', { role: 'admin' }), 2);
  assert.deepEqual((await ins.find('users')).map((d) => d._id), ['a3']);
});

test('refuses what it does not support, naming it', async () => {
  await assert.rejects(ins.updateOne('users', {}, { $inc: { n: 1 } }), /updateOne takes \{\$set: \{\.\.\.\}\} only/);
  await assert.rejects(ins.find('users', { $or: [{ n: 1 }] }), /unsupported filter operator \$or/);
  await assert.rejects(ins.find('users', { n: { $mod: [2, 0] } }), /unsupported operator \$mod/);
  await assert.rejects(ins.find('users; drop', {}), /bad collection name/);
  await assert.rejects(inspector({ uri: 'redis://x' }), /unsupported database URI scheme: redis/);
});
