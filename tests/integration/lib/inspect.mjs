// Backend-neutral look into a test database, so that one integration test
// checks what kirana stored on PostgreSQL and on MongoDB alike.
//
//   const ins = await inspector(db);      // db from freshDatabase() (db.mjs)
//   await ins.findOne('users', { phone: '+919800000001' });
//   await ins.indexes('products');        // [{name, keys: {sku: 1}, unique: true}, ...]
//   await ins.close();
//
// Documents are plain JSON objects with `_id` as kirana stores it (a string).
// Filters: `{path: value}` on dotted paths (an array matches when an element
// equals the value, as on MongoDB) and `$eq $ne $in $nin $exists $gt $gte
// $lt $lte` on a path. Updates: `$set` only (dotted paths create missing
// objects). On PostgreSQL the rows are read with psql (layout in
// core/db/README.md: one table per collection, `(id text, doc jsonb)`) and
// filtered here; on MongoDB the driver runs the filter.
//
// Also: backendKind(), skipWithoutAtomicUpdates() (the one place that
// decides whether the concurrency cases can run on this run's database) and
// skipOnFerretDB() (one check that a known FerretDB difference breaks).
import { readFileSync } from 'node:fs';
import { execFileP } from './harness.mjs';

const FERRETDB_NO_ATOMIC =
  'FerretDB v1 has no atomic single-document updates (FerretDB #3040); ' +
  'set KIRANA_TEST_MONGODB_URI to a real MongoDB to run this case';

/** 'postgresql', 'mongodb' (a real MongoDB: mongod or KIRANA_TEST_MONGODB_URI)
 * or 'ferretdb': the server that freshDatabase() hands out databases on. */
export function backendKind() {
  if (process.env.KIRANA_TEST_DB !== 'mongo') return 'postgresql';
  if (process.env.KIRANA_TEST_MONGODB_URI) return 'mongodb';
  return mongoKindFromEnvFile();
}

function mongoKindFromEnvFile() {
  // Read lazily: the env file exists only under the ctest fixture `mongo`.
  const f = process.env.KIRANA_TEST_MONGO_ENV;
  let kind = process.env.KIRANA_TEST_MONGO_KIND;
  if (!kind && f) {
    try {
      const m = /^KIRANA_TEST_MONGO_KIND=(.*)$/m.exec(readFileSync(f, 'utf8'));
      if (m) kind = m[1].trim();
    } catch { /* no file: the database helpers report it */ }
  }
  return kind === 'ferretdb' ? 'ferretdb' : 'mongodb';
}

/** For node:test's `skip` option: false when the database applies each
 * single-document update atomically (PostgreSQL, MongoDB), else the reason
 * (printed by the test reporter), e.g.
 *   test('50 racing orders', { skip: skipWithoutAtomicUpdates() }, ...) */
export function skipWithoutAtomicUpdates() {
  return backendKind() === 'ferretdb' ? FERRETDB_NO_ATOMIC : false;
}

/** For one check inside a test that a known FerretDB v1 difference
 * (core/db/README.md) breaks: on FerretDB prints "skipped on FerretDB: why"
 * as the test's diagnostic and answers true (leave the check out); else
 * false. `t` is the node:test context. */
export function skipOnFerretDB(t, why) {
  if (backendKind() !== 'ferretdb') return false;
  t.diagnostic(`skipped on FerretDB: ${why}`);
  return true;
}

/** A backend-neutral inspector for `db` (see the top of this file). */
export async function inspector(db) {
  if (!db || typeof db.uri !== 'string') throw new Error('inspector: expected the object freshDatabase() returns');
  if (/^mongodb(\+srv)?:\/\//.test(db.uri)) return mongoInspector(db);
  if (/^postgres(ql)?:\/\//.test(db.uri)) return pgInspector(db);
  throw new Error(`inspector: unsupported database URI scheme: ${db.uri.split(':')[0]}`);
}

// ---------------------------------------------------------------- MongoDB

async function mongoInspector(db) {
  const { MongoClient } = await import('mongodb');
  const client = new MongoClient(db.uri, { serverSelectionTimeoutMS: 10000 }); // connects on first use
  const mdb = client.db(); // the database the URI names
  const c = (coll) => mdb.collection(checkColl(coll));
  return {
    async find(coll, filter = {}) {
      return c(coll).find(checkFilter(filter)).sort({ _id: 1 }).toArray();
    },
    async findOne(coll, filter = {}) {
      return c(coll).findOne(checkFilter(filter));
    },
    async count(coll, filter = {}) {
      return c(coll).countDocuments(checkFilter(filter));
    },
    async indexes(coll) {
      let list;
      try {
        list = await c(coll).listIndexes().toArray();
      } catch (e) {
        if (e.code === 26) return []; // NamespaceNotFound: no collection yet
        throw e;
      }
      return list.map((ix) => ({ name: ix.name, keys: normKeys(ix.key), unique: ix.name === '_id_' || !!ix.unique }));
    },
    async updateOne(coll, filter, update) {
      checkUpdate(update);
      const r = await c(coll).updateOne(checkFilter(filter), update);
      return r.matchedCount;
    },
    async deleteMany(coll, filter) {
      const r = await c(coll).deleteMany(checkFilter(filter));
      return r.deletedCount;
    },
    async close() {
      await client.close();
    },
  };
}

function normKeys(key) {
  const out = {};
  for (const [k, v] of Object.entries(key)) out[k] = Number(v) < 0 ? -1 : 1;
  return out;
}

// ------------------------------------------------------------- PostgreSQL

const sqlLit = (s) => `'${String(s).replace(/'/g, "''")}'`;
const sqlIdent = (s) => `"${String(s).replace(/"/g, '""')}"`;

async function pgInspector(db) {
  const psql = async (sql) => {
    const { stdout } = await execFileP('psql', [db.uri, '-qAtX', '-v', 'ON_ERROR_STOP=1', '-c', sql],
      { maxBuffer: 256 << 20 });
    return stdout.trim();
  };
  // Every document of coll (none when its table does not exist yet), by _id.
  const all = async (coll) => {
    const t = sqlIdent(checkColl(coll));
    const exists = await psql(`SELECT to_regclass(${sqlLit(t)}) IS NOT NULL`);
    if (exists !== 't') return [];
    return JSON.parse(await psql(`SELECT coalesce(json_agg(doc ORDER BY id), '[]') FROM ${t}`));
  };
  const find = async (coll, filter = {}) => {
    checkFilter(filter);
    return (await all(coll)).filter((d) => matches(d, filter));
  };
  return {
    find,
    async findOne(coll, filter = {}) {
      return (await find(coll, filter))[0] ?? null;
    },
    async count(coll, filter = {}) {
      return (await find(coll, filter)).length;
    },
    async indexes(coll) {
      const t = sqlIdent(checkColl(coll));
      const rows = JSON.parse(await psql(`
        SELECT coalesce(json_agg(json_build_object(
          'name', c.relname, 'unique', i.indisunique, 'partial', i.indpred IS NOT NULL,
          'cols', (SELECT json_agg(json_build_object('expr', pg_get_indexdef(i.indexrelid, k, true),
                                                     'desc', (i.indoption[k - 1] & 1) = 1) ORDER BY k)
                   FROM generate_series(1, i.indnatts) k)) ORDER BY c.relname), '[]')
        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid = to_regclass(${sqlLit(t)})`));
      const out = [];
      for (const r of rows) {
        if (r.partial) continue; // the `~arr` twins of pg_schema.c: not indexes of the plugin's
        const keys = {};
        for (const col of r.cols) keys[pgIndexPath(col.expr)] = col.desc ? -1 : 1;
        const ix = { keys, unique: r.unique };
        // "<coll>.<name>"; names too long for PostgreSQL are a hash ("~...").
        if (r.name.startsWith(`${coll}.`)) ix.name = r.name.slice(coll.length + 1);
        out.push(ix);
      }
      return out;
    },
    async updateOne(coll, filter, update) {
      checkUpdate(update);
      const doc = (await find(coll, filter))[0];
      if (!doc) return 0;
      for (const [path, v] of Object.entries(update.$set)) setPath(doc, path, v);
      await psql(`UPDATE ${sqlIdent(coll)} SET doc = ${sqlLit(JSON.stringify(doc))}::jsonb WHERE id = ${sqlLit(doc._id)}`);
      return 1;
    },
    async deleteMany(coll, filter) {
      const ids = (await find(coll, filter)).map((d) => d._id);
      if (ids.length === 0) return 0;
      await psql(`DELETE FROM ${sqlIdent(coll)} WHERE id IN (${ids.map(sqlLit).join(', ')})`);
      return ids.length;
    },
    async close() {},
  };
}

// An index column as pg_get_indexdef prints it: `id`, `(doc -> 'a'::text)`,
// `(doc #> '{a,b}'::text[])`, `((doc -> 'a'::text) -> 'b'::text)`.
function pgIndexPath(expr) {
  if (expr === 'id') return '_id';
  const arr = /#>\s*'\{([^}]*)\}'/.exec(expr);
  if (arr) return arr[1].split(',').map((s) => s.replace(/^"|"$/g, '')).join('.');
  const segs = [...expr.matchAll(/->>?\s*'((?:[^']|'')*)'/g)].map((m) => m[1].replace(/''/g, "'"));
  if (segs.length === 0) throw new Error(`inspector: unexpected index expression: ${expr}`);
  return segs.join('.');
}

// --------------------------------------------------- filters and updates

function checkColl(coll) {
  if (typeof coll !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(coll))
    throw new Error(`inspector: bad collection name: ${JSON.stringify(coll)}`);
  return coll;
}

const OPS = new Set(['$eq', '$ne', '$in', '$nin', '$exists', '$gt', '$gte', '$lt', '$lte']);

function isOpObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0 &&
    Object.keys(v).every((k) => k.startsWith('$'));
}

function checkFilter(filter) {
  if (filter === null || typeof filter !== 'object' || Array.isArray(filter))
    throw new Error('inspector: a filter is an object');
  for (const [path, cond] of Object.entries(filter)) {
    if (path.startsWith('$')) throw new Error(`inspector: unsupported filter operator ${path}`);
    if (isOpObject(cond)) {
      for (const op of Object.keys(cond)) if (!OPS.has(op)) throw new Error(`inspector: unsupported operator ${op}`);
    }
  }
  return filter;
}

function checkUpdate(update) {
  const keys = update && typeof update === 'object' ? Object.keys(update) : [];
  if (keys.length !== 1 || keys[0] !== '$set' || typeof update.$set !== 'object' || update.$set === null)
    throw new Error('inspector: updateOne takes {$set: {...}} only');
}

// The values a dotted path reaches, looking through arrays as MongoDB does.
function reach(v, segs) {
  if (segs.length === 0) return [v];
  if (Array.isArray(v)) {
    const out = [];
    if (/^\d+$/.test(segs[0]) && Number(segs[0]) < v.length) out.push(...reach(v[Number(segs[0])], segs.slice(1)));
    for (const e of v) if (e !== null && typeof e === 'object' && !Array.isArray(e)) out.push(...reach(e, segs));
    return out;
  }
  if (v === null || typeof v !== 'object' || !(segs[0] in v)) return [];
  return reach(v[segs[0]], segs.slice(1));
}

function deepEqual(a, b) {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a), kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
}

// Each value reached, and the elements of reached arrays.
function candidates(vals) {
  const out = [];
  for (const v of vals) {
    out.push(v);
    if (Array.isArray(v)) out.push(...v);
  }
  return out;
}

function eqAny(vals, x) {
  if (x === null) return vals.length === 0 || candidates(vals).some((v) => v === null);
  return candidates(vals).some((v) => deepEqual(v, x));
}

function cmp(vals, x, ok) {
  return candidates(vals).some((v) =>
    (typeof v === 'number' && typeof x === 'number') || (typeof v === 'string' && typeof x === 'string')
      ? ok(v < x ? -1 : v > x ? 1 : 0) : false);
}

function matches(doc, filter) {
  for (const [path, cond] of Object.entries(filter)) {
    const vals = reach(doc, path.split('.'));
    if (!isOpObject(cond)) {
      if (!eqAny(vals, cond)) return false;
      continue;
    }
    for (const [op, x] of Object.entries(cond)) {
      let ok;
      switch (op) {
        case '$eq': ok = eqAny(vals, x); break;
        case '$ne': ok = !eqAny(vals, x); break;
        case '$in': ok = x.some((e) => eqAny(vals, e)); break;
        case '$nin': ok = !x.some((e) => eqAny(vals, e)); break;
        case '$exists': ok = (vals.length > 0) === !!x; break;
        case '$gt': ok = cmp(vals, x, (c) => c > 0); break;
        case '$gte': ok = cmp(vals, x, (c) => c >= 0); break;
        case '$lt': ok = cmp(vals, x, (c) => c < 0); break;
        case '$lte': ok = cmp(vals, x, (c) => c <= 0); break;
      }
      if (!ok) return false;
    }
  }
  return true;
}

function setPath(doc, path, value) {
  const segs = path.split('.');
  if (segs[0] === '_id') throw new Error('inspector: _id cannot be changed');
  let o = doc;
  for (const s of segs.slice(0, -1)) {
    if (o[s] === null || typeof o[s] !== 'object') o[s] = {};
    o = o[s];
  }
  o[segs[segs.length - 1]] = value;
}
