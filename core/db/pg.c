/* Core: the PostgreSQL backend of kr_db (postgresql:// URIs).
 *
 * Each call checks a connection out of the pool for its length, makes sure
 * the helper functions and the collection's table exist (once per process,
 * again if they vanish), and runs one statement, so each operation is as
 * atomic as one SQL statement. Single-document updates lock the row they
 * pick and update it in the same statement:
 *   WITH o AS (SELECT id, doc FROM "c" WHERE <filter> [ORDER BY ..] LIMIT 1
 *              FOR UPDATE)
 *   UPDATE "c" AS t SET doc = <update of t.doc> FROM o WHERE t.id = o.id
 *   RETURNING o.doc | t.doc
 * Under READ COMMITTED a concurrent change makes FOR UPDATE wait, then
 * re-check the filter on the new row version (and move on to the next
 * match if it no longer holds), so guarded updates such as
 * {stock: {$gte: 1}} -> {$inc: {stock: -1}} never oversell. Upserts update
 * first and insert when nothing matched; an insert that loses a race on a
 * unique index retries the update. */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db/backend.h"
#include "core/db/id.h"
#include "core/db/pg_filter.h"
#include "core/db/pg_pool.h"
#include "core/db/pg_schema.h"
#include "core/db/pg_sort.h"
#include "core/db/pg_update.h"
#include "core/db/projection.h"
#include "core/db/upsert.h"
#include "core/util/err.h"

/* Statements retried after a transient failure (a vanished table, a
 * deadlock, a lost upsert race). */
#define RETRIES 3

typedef struct pg_db {
    krc_pg_pool *pool;
    int timeout_ms;
    atomic_int helpers; /* the kirana_v1_* functions are known to exist */
} pg_db;

/* PostgreSQL index name -> the name the plugin gave, for messages. */
typedef struct pg_index {
    struct pg_index *next;
    char pgname[64];
    char name[128];
} pg_index;

typedef struct pg_coll {
    atomic_int table;     /* the table is known to exist */
    pthread_mutex_t lock; /* guards indexes */
    pg_index *indexes;
} pg_coll;

/* One call: a connection and a deadline. */
typedef struct call {
    pg_db *db;
    kr_coll *c;
    pg_coll *pc;
    int64_t deadline;
    krc_pg_conn *conn;
} call;

static void *pg_open(const char *uri, const krc_db_opts *opts, char *err, size_t errlen)
{
    char *perr = NULL;
    PQconninfoOption *o = PQconninfoParse(uri, &perr);
    if (o == NULL) {
        char line[200];
        snprintf(line, sizeof(line), "%s", perr != NULL ? perr : "out of memory");
        line[strcspn(line, "\r\n")] = '\0';
        snprintf(err, errlen, "db.uri: %s", line);
        PQfreemem(perr);
        return NULL;
    }
    PQconninfoFree(o);
    pg_db *db = calloc(1, sizeof(*db));
    if (db == NULL || (db->pool = krc_pg_pool_new(uri, opts->pool_size, opts->timeout_ms)) == NULL) {
        free(db);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    db->timeout_ms = opts->timeout_ms;
    return db;
}

static void pg_close(void *impl)
{
    pg_db *db = impl;
    krc_pg_pool_free(db->pool);
    free(db);
}

static void index_register(pg_coll *pc, const char *pgname, const char *name)
{
    pthread_mutex_lock(&pc->lock);
    pg_index *i = pc->indexes;
    while (i != NULL && strcmp(i->pgname, pgname) != 0)
        i = i->next;
    if (i == NULL && (i = calloc(1, sizeof(*i))) != NULL) {
        snprintf(i->pgname, sizeof(i->pgname), "%s", pgname);
        snprintf(i->name, sizeof(i->name), "%s", name);
        i->next = pc->indexes;
        pc->indexes = i;
    }
    pthread_mutex_unlock(&pc->lock);
}

static void *pg_coll_open(void *impl, const kr_coll *c)
{
    (void)impl;
    pg_coll *pc = calloc(1, sizeof(*pc));
    if (pc == NULL)
        return NULL;
    pthread_mutex_init(&pc->lock, NULL);
    char pk[64];
    krc_pg_schema_index_name(c->name, "_id_", pk);
    index_register(pc, pk, "_id_");
    return pc;
}

static void pg_coll_close(void *coll_impl)
{
    pg_coll *pc = coll_impl;
    for (pg_index *i = pc->indexes, *next; i != NULL; i = next) {
        next = i->next;
        free(i);
    }
    pthread_mutex_destroy(&pc->lock);
    free(pc);
}

static int helpers_script(call *k)
{
    krc_pg_sql q;
    krc_pg_sql_init(&q);
    krc_pg_schema_helpers_sql(&q);
    int rc = krc_pg_sql_status(&q);
    if (rc == 0)
        rc = krc_pg_conn_script(k->conn, krc_pg_sql_text(&q), k->deadline);
    krc_pg_sql_free(&q);
    return rc;
}

/* Creates the helper functions unless the database has this version of
 * them: most processes only read the version, so they need no right to
 * replace functions and do not queue on the DDL lock at startup. */
static int helpers_install(call *k, int force)
{
    if (force)
        return helpers_script(k);
    char want[17];
    krc_pg_schema_helpers_version(want);
    PGresult *r;
    int rc = krc_pg_conn_exec(k->conn, KRC_PG_HELPERS_VERSION_SQL, 0, NULL, k->deadline, &r);
    if (rc == 0) {
        int same = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), want) == 0;
        PQclear(r);
        if (same)
            return 0;
    } else if (strcmp(krc_pg_conn_sqlstate(k->conn), "42883") != 0) {
        return rc;
    }
    return helpers_script(k);
}

/* Creates the collection's table unless it exists: looking first needs no
 * right to create and takes no lock. */
static int table_create(call *k)
{
    char quoted[80];
    snprintf(quoted, sizeof(quoted), "\"%s\"", k->c->name);
    const char *params[] = {quoted};
    PGresult *r;
    int rc = krc_pg_conn_exec(k->conn, "SELECT to_regclass($1) IS NOT NULL", 1, params, k->deadline, &r);
    if (rc != 0)
        return rc;
    int exists = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (exists)
        return 0;
    krc_pg_sql q;
    krc_pg_sql_init(&q);
    krc_pg_schema_table_sql(&q, k->c->name);
    rc = krc_pg_sql_status(&q);
    if (rc == 0)
        rc = krc_pg_conn_script(k->conn, krc_pg_sql_text(&q), k->deadline);
    krc_pg_sql_free(&q);
    return rc;
}

/* Creates what the call needs that is not known to exist. */
static int ensure(call *k)
{
    if (!atomic_load(&k->db->helpers)) {
        int rc = helpers_install(k, 0);
        if (rc != 0)
            return rc;
        atomic_store(&k->db->helpers, 1);
    }
    if (k->pc != NULL && !atomic_load(&k->pc->table)) {
        int rc = table_create(k);
        if (rc != 0)
            return rc;
        atomic_store(&k->pc->table, 1);
    }
    return 0;
}

static int call_begin(call *k, pg_db *db, kr_coll *c)
{
    *k = (call){.db = db, .c = c, .pc = c != NULL ? c->impl : NULL};
    k->deadline = krc_pg_now_ms() + db->timeout_ms;
    int rc = krc_pg_pool_get(db->pool, k->deadline, &k->conn);
    if (rc == 0)
        rc = ensure(k);
    return rc;
}

static void call_end(call *k)
{
    if (k->conn != NULL)
        krc_pg_pool_put(k->db->pool, k->conn);
    k->conn = NULL;
}

/* The plugin's name for a PostgreSQL index of this collection. */
static void index_user_name(call *k, const char *pgname, char *out, size_t len)
{
    size_t n = strlen(k->c->name);
    if (strncmp(pgname, k->c->name, n) == 0 && pgname[n] == '.') {
        snprintf(out, len, "%s", pgname + n + 1);
        return;
    }
    snprintf(out, len, "%s", pgname);
    pthread_mutex_lock(&k->pc->lock);
    for (pg_index *i = k->pc->indexes; i != NULL; i = i->next)
        if (strcmp(i->pgname, pgname) == 0)
            snprintf(out, len, "%s", i->name);
    pthread_mutex_unlock(&k->pc->lock);
}

static int call_exec(call *k, const krc_pg_sql *q, PGresult **res)
{
    for (int attempt = 0;; attempt++) {
        int rc =
            krc_pg_conn_exec(k->conn, krc_pg_sql_text(q), q->nparams, (const char *const *)q->params, k->deadline, res);
        if (rc == 0)
            return 0;
        const char *st = krc_pg_conn_sqlstate(k->conn);
        int again = attempt < RETRIES && !krc_pg_conn_broken(k->conn);
        if (again && strcmp(st, "42P01") == 0 && k->pc != NULL) {
            atomic_store(&k->pc->table, 0); /* dropped behind our back */
        } else if (again && strcmp(st, "42883") == 0) {
            /* a helper is missing whatever the version says */
            if ((rc = helpers_install(k, 1)) != 0)
                return rc;
        } else if (!(again && (strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0))) {
            if (rc == KR_EDUPLICATE && k->c != NULL) {
                char name[128];
                index_user_name(k, krc_pg_conn_constraint(k->conn), name, sizeof(name));
                krc_err_set(rc, "duplicate key in %s: unique index \"%s\"", k->c->name, name);
            }
            return rc;
        }
        if ((rc = ensure(k)) != 0)
            return rc;
    }
}

/* One statement in its own call. */
static int run(pg_db *db, kr_coll *c, const krc_pg_sql *q, PGresult **res)
{
    call k;
    int rc = call_begin(&k, db, c);
    if (rc == 0)
        rc = call_exec(&k, q, res);
    call_end(&k);
    return rc;
}

static pg_db *db_of(const kr_coll *c)
{
    return c->db->impl;
}

static int parse_doc(const PGresult *r, int row, int col, json_t **out)
{
    json_error_t e;
    const char *s = PQgetvalue(r, row, col);
    size_t len = (size_t)PQgetlength(r, row, col);
    *out = json_loadb(s, len, 0, &e);
    /* jsonb prints a huge real like 1e300 in full, as an integer jansson
     * cannot hold; read such a document with every integer as a real. */
    if (*out == NULL && json_error_code(&e) == json_error_numeric_overflow)
        *out = json_loadb(s, len, JSON_DECODE_INT_AS_REAL, &e);
    if (*out == NULL)
        return krc_err_set(KR_EINTERNAL, "postgresql: unreadable document: %s", e.text);
    return 0;
}

static int64_t int_value(const PGresult *r, int row, int col)
{
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* The document as a find selects it: cut down in SQL to the top-level
 * fields the projection can keep, so that fields it drops (an order
 * flow's holds, say) are neither sent nor parsed. The projection is still
 * applied to what arrives (it gives the same answer from the cut document),
 * which keeps its key order and its rules for nested paths (unless *done:
 * the projection only dropped top-level fields, which SQL did). One jsonb_each
 * reads a TOASTed document once, where doc->'k' per key would detoast it
 * for each. */
static void select_projected(krc_pg_sql *q, const krc_db_projection *proj, int *done)
{
    const char *names[32];
    size_t n = 0;
    *done = 0;
    int top = proj != NULL ? krc_db_projection_top(proj, names, sizeof(names) / sizeof(names[0]), &n, done) : -1;
    if (top < 0 || (top == 0 && n == 0)) {
        krc_pg_sql_add(q, "doc");
        return;
    }
    if (top == 0) {
        krc_pg_sql_add(q, "doc - ARRAY[");
        for (size_t i = 0; i < n; i++)
            krc_pg_sql_addf(q, "%s'%s'", i ? ", " : "", names[i]);
        krc_pg_sql_add(q, "]::text[]");
        return;
    }
    krc_pg_sql_add(q, "coalesce((SELECT jsonb_object_agg(e.key, e.value) FROM jsonb_each(doc) AS e WHERE e.key IN (");
    for (size_t i = 0; i < n; i++)
        krc_pg_sql_addf(q, "%s'%s'", i ? ", " : "", names[i]);
    krc_pg_sql_add(q, ")), '{}'::jsonb)");
}

static int pg_find(kr_coll *c, const json_t *filter, const json_t *sort, const json_t *projection, int64_t skip,
                   int64_t limit, json_t **out)
{
    krc_db_projection *proj;
    int rc = krc_db_projection_compile(projection, &proj);
    if (rc != 0)
        return rc;
    krc_pg_sql q;
    krc_pg_sql_init(&q);
    krc_pg_sql_add(&q, "SELECT ");
    int done;
    select_projected(&q, proj, &done);
    krc_pg_sql_addf(&q, " FROM \"%s\" WHERE ", c->name);
    rc = krc_pg_filter(&q, filter, "doc", "id");
    if (rc == 0)
        rc = krc_pg_sort(&q, sort, "doc", "id");
    char num[24];
    if (rc == 0 && skip > 0) {
        snprintf(num, sizeof(num), "%" PRId64, skip);
        krc_pg_sql_addf(&q, " OFFSET $%d::bigint", krc_pg_sql_param(&q, num));
    }
    if (rc == 0 && limit > 0) {
        snprintf(num, sizeof(num), "%" PRId64, limit);
        krc_pg_sql_addf(&q, " LIMIT $%d::bigint", krc_pg_sql_param(&q, num));
    }
    if (rc == 0)
        rc = krc_pg_sql_status(&q);
    PGresult *r = NULL;
    if (rc == 0)
        rc = run(db_of(c), c, &q, &r);
    krc_pg_sql_free(&q);
    json_t *all = rc == 0 ? json_array() : NULL;
    if (rc == 0 && all == NULL)
        rc = krc_err_set(KR_ENOMEM, "out of memory");
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        json_t *doc;
        rc = parse_doc(r, i, 0, &doc);
        if (rc != 0)
            break;
        json_t *shown = done ? doc : krc_db_projection_apply(proj, doc);
        if (!done)
            json_decref(doc);
        if (shown == NULL || json_array_append_new(all, shown) != 0)
            rc = krc_err_set(KR_ENOMEM, "out of memory");
    }
    PQclear(r);
    krc_db_projection_free(proj);
    if (rc != 0) {
        json_decref(all);
        return rc;
    }
    *out = all;
    return 0;
}

static int pg_count(kr_coll *c, const json_t *filter, int64_t *n)
{
    krc_pg_sql q;
    krc_pg_sql_init(&q);
    krc_pg_sql_addf(&q, "SELECT count(*) FROM \"%s\" WHERE ", c->name);
    int rc = krc_pg_filter(&q, filter, "doc", "id");
    PGresult *r = NULL;
    if (rc == 0)
        rc = run(db_of(c), c, &q, &r);
    krc_pg_sql_free(&q);
    if (rc == 0)
        *n = int_value(r, 0, 0);
    PQclear(r);
    return rc;
}

static int pg_delete(kr_coll *c, const json_t *filter, int many, int64_t *deleted)
{
    krc_pg_sql q;
    krc_pg_sql_init(&q);
    if (many)
        krc_pg_sql_addf(&q, "DELETE FROM \"%s\" WHERE ", c->name);
    else
        krc_pg_sql_addf(&q, "DELETE FROM \"%s\" WHERE id = (SELECT id FROM \"%s\" WHERE ", c->name, c->name);
    int rc = krc_pg_filter(&q, filter, "doc", "id");
    if (!many)
        krc_pg_sql_add(&q, " LIMIT 1 FOR UPDATE)");
    PGresult *r = NULL;
    if (rc == 0)
        rc = run(db_of(c), c, &q, &r);
    krc_pg_sql_free(&q);
    if (rc == 0)
        *deleted = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return rc;
}

/* The id of a new document: doc's _id, or a generated one, into buf. */
static int new_id(const json_t *id, char buf[25], const char **out)
{
    if (id == NULL) {
        *out = buf;
        return krc_db_id_new(buf);
    }
    if (!json_is_string(id) || strlen(json_string_value(id)) != json_string_length(id))
        return krc_err_set(KR_EINVAL, "_id must be a string (without NUL characters)");
    *out = json_string_value(id);
    return 0;
}

static int pg_insert_one(kr_coll *c, const json_t *doc, char **id_out)
{
    char buf[25];
    const char *id;
    int rc = new_id(json_object_get(doc, "_id"), buf, &id);
    if (rc != 0)
        return rc;
    krc_pg_sql q;
    krc_pg_sql_init(&q);
    int nid = krc_pg_sql_param(&q, id);
    int ndoc = krc_pg_sql_param_json(&q, doc);
    krc_pg_sql_addf(&q, "INSERT INTO \"%s\" (id, doc) VALUES ($%d, $%d::jsonb || jsonb_build_object('_id', $%d::text))",
                    c->name, nid, ndoc, nid);
    rc = krc_pg_sql_status(&q);
    PGresult *r = NULL;
    if (rc == 0)
        rc = run(db_of(c), c, &q, &r);
    PQclear(r);
    krc_pg_sql_free(&q);
    if (rc == 0 && id_out != NULL && (*id_out = strdup(id)) == NULL)
        rc = krc_err_set(KR_ENOMEM, "out of memory");
    return rc;
}

/* The update part shared by update and find_one_and_update: the new
 * document from t.doc. */
static int update_expr(krc_pg_sql *q, const json_t *update, int replacement)
{
    return replacement ? krc_pg_update_replace(q, update, "t.doc") : krc_pg_update(q, update, "t.doc", 0);
}

/* INSERT for an upsert that matched nothing; the new id goes to id (25+). */
static int upsert_sql(krc_pg_sql *q, kr_coll *c, const json_t *filter, const json_t *update, int replacement, char *id,
                      size_t idlen)
{
    json_t *base;
    int rc = krc_db_upsert_base(filter, &base);
    if (rc != 0)
        return rc;
    const json_t *from_filter = json_object_get(base, "_id");
    const json_t *from_update =
        replacement ? json_object_get(update, "_id") : json_object_get(json_object_get(update, "$setOnInsert"), "_id");
    char buf[25];
    const char *chosen = NULL;
    if (from_filter != NULL && from_update != NULL && !json_equal(from_filter, from_update))
        rc = krc_err_set(KR_EINVAL, "upsert: the filter's _id and the update's _id differ");
    if (rc == 0)
        rc = new_id(from_filter != NULL ? from_filter : from_update, buf, &chosen);
    if (rc == 0 && strlen(chosen) >= idlen)
        rc = krc_err_set(KR_EINVAL, "upsert: _id longer than %zu bytes", idlen - 1);
    if (rc != 0) {
        json_decref(base);
        return rc;
    }
    snprintf(id, idlen, "%s", chosen);
    int nid = krc_pg_sql_param(q, id);
    krc_pg_sql_addf(q, "INSERT INTO \"%s\" (id, doc) VALUES ($%d, ", c->name, nid);
    if (replacement) {
        krc_pg_sql_addf(q, "$%d::jsonb", krc_pg_sql_param_json(q, update));
    } else {
        char src[64];
        snprintf(src, sizeof(src), "($%d::jsonb || jsonb_build_object('_id', $%d::text))",
                 krc_pg_sql_param_json(q, base), nid);
        rc = krc_pg_update(q, update, src, 1);
    }
    krc_pg_sql_addf(q, " || jsonb_build_object('_id', $%d::text)) RETURNING doc", nid);
    json_decref(base);
    return rc != 0 ? rc : krc_pg_sql_status(q);
}

/* Longest _id an upsert may insert. */
#define UPSERT_ID_MAX 1024

static int pg_update(kr_coll *c, const json_t *filter, const json_t *update, unsigned flags, int many,
                     kr_update_result *res)
{
    int replacement = krc_pg_update_is_replacement(update);
    if (replacement < 0)
        return replacement;
    if (replacement && many)
        return krc_err_set(KR_EINVAL, "kr_db_update_many: the update needs operators ($set, ...)");
    krc_pg_sql q, ins;
    krc_pg_sql_init(&q);
    krc_pg_sql_init(&ins);
    krc_pg_sql_addf(&q, "WITH o AS (SELECT id, doc FROM \"%s\" WHERE ", c->name);
    int rc = krc_pg_filter(&q, filter, "doc", "id");
    krc_pg_sql_addf(&q, "%s FOR UPDATE), u AS (UPDATE \"%s\" AS t SET doc = ", many ? " ORDER BY id" : " LIMIT 1",
                    c->name);
    if (rc == 0)
        rc = update_expr(&q, update, replacement);
    krc_pg_sql_add(&q, " FROM o WHERE t.id = o.id RETURNING t.doc IS DISTINCT FROM o.doc AS changed) "
                       "SELECT count(*), count(*) FILTER (WHERE changed) FROM u");
    if (rc == 0)
        rc = krc_pg_sql_status(&q);
    char id[UPSERT_ID_MAX + 1];
    if (rc == 0 && (flags & KR_DB_UPSERT))
        rc = upsert_sql(&ins, c, filter, update, replacement, id, sizeof(id));
    call k = {0};
    if (rc == 0)
        rc = call_begin(&k, db_of(c), c);
    for (int attempt = 0; rc == 0; attempt++) {
        PGresult *r;
        if ((rc = call_exec(&k, &q, &r)) != 0)
            break;
        res->matched = int_value(r, 0, 0);
        res->modified = int_value(r, 0, 1);
        PQclear(r);
        if (res->matched > 0 || !(flags & KR_DB_UPSERT))
            break;
        rc = call_exec(&k, &ins, &r);
        PQclear(r);
        if (rc == KR_EDUPLICATE && attempt < RETRIES) {
            rc = 0; /* a concurrent upsert inserted it first: update that */
            continue;
        }
        if (rc == 0 && (res->upserted_id = strdup(id)) == NULL)
            rc = krc_err_set(KR_ENOMEM, "out of memory");
        break;
    }
    call_end(&k);
    krc_pg_sql_free(&q);
    krc_pg_sql_free(&ins);
    return rc;
}

static int pg_find_one_and_update(kr_coll *c, const json_t *filter, const json_t *update, const json_t *sort,
                                  unsigned flags, json_t **out)
{
    int replacement = krc_pg_update_is_replacement(update);
    if (replacement < 0)
        return replacement;
    krc_pg_sql q, ins;
    krc_pg_sql_init(&q);
    krc_pg_sql_init(&ins);
    krc_pg_sql_addf(&q, "WITH o AS (SELECT id, doc FROM \"%s\" WHERE ", c->name);
    int rc = krc_pg_filter(&q, filter, "doc", "id");
    if (rc == 0)
        rc = krc_pg_sort(&q, sort, "doc", "id");
    krc_pg_sql_addf(&q, " LIMIT 1 FOR UPDATE) UPDATE \"%s\" AS t SET doc = ", c->name);
    if (rc == 0)
        rc = update_expr(&q, update, replacement);
    krc_pg_sql_addf(&q, " FROM o WHERE t.id = o.id RETURNING %s", (flags & KR_DB_RETURN_AFTER) ? "t.doc" : "o.doc");
    if (rc == 0)
        rc = krc_pg_sql_status(&q);
    char id[UPSERT_ID_MAX + 1];
    if (rc == 0 && (flags & KR_DB_UPSERT))
        rc = upsert_sql(&ins, c, filter, update, replacement, id, sizeof(id));
    call k = {0};
    if (rc == 0)
        rc = call_begin(&k, db_of(c), c);
    PGresult *r = NULL;
    for (int attempt = 0; rc == 0; attempt++) {
        if ((rc = call_exec(&k, &q, &r)) != 0 || PQntuples(r) > 0 || !(flags & KR_DB_UPSERT))
            break;
        PQclear(r);
        r = NULL;
        rc = call_exec(&k, &ins, &r);
        if (rc == KR_EDUPLICATE && attempt < RETRIES) {
            rc = 0;
            continue;
        }
        if (rc == 0 && !(flags & KR_DB_RETURN_AFTER)) {
            PQclear(r); /* inserted: there was no document before */
            r = NULL;
        }
        break;
    }
    call_end(&k);
    krc_pg_sql_free(&q);
    krc_pg_sql_free(&ins);
    if (rc == 0 && r == NULL && (flags & KR_DB_UPSERT))
        return 0;
    if (rc == 0 && PQntuples(r) == 0)
        rc = krc_err_set(KR_ENOTFOUND, "no document in %s matches the filter", c->name);
    if (rc == 0)
        rc = parse_doc(r, 0, 0, out);
    PQclear(r);
    return rc;
}

/* 1 if keys (checked) has more than one key and _id is the last. */
static int sort_shaped(const json_t *keys)
{
    const char *path, *last = NULL;
    const json_t *v;
    json_object_foreach((json_t *)keys, path, v)
        last = path;
    return json_object_size(keys) > 1 && last != NULL && strcmp(last, "_id") == 0;
}

static int pg_create_index(kr_coll *c, const json_t *keys, unsigned flags, const char *name)
{
    krc_pg_sql q;
    krc_pg_sql_init(&q);
    char user[128];
    int rc = krc_pg_schema_index_sql(&q, c->name, keys, (flags & KR_DB_UNIQUE) != 0, name, user);
    /* A non-unique index whose last key is _id (the shape of a keyset
     * pagination's sort) also gets one on krc_pg_sort's expressions for its
     * keys, so finds sorted by them (a catalogue by name) read it in order
     * and stop at the LIMIT. Only then: each index costs every update. */
    krc_pg_sql sq;
    krc_pg_sql_init(&sq);
    int sorted = rc == 0 && !(flags & KR_DB_UNIQUE) && sort_shaped(keys);
    if (sorted) {
        char sname[160], spg[64];
        snprintf(sname, sizeof(sname), "%s~sort", user);
        krc_pg_schema_index_name(c->name, sname, spg);
        rc = krc_pg_sort_index_sql(&sq, c->name, keys, spg);
    }
    call k = {0};
    if (rc == 0)
        rc = call_begin(&k, db_of(c), c);
    if (rc == 0)
        rc = krc_pg_conn_script(k.conn, krc_pg_sql_text(&q), k.deadline);
    if (rc == 0 && sorted)
        rc = krc_pg_conn_script(k.conn, krc_pg_sql_text(&sq), k.deadline);
    call_end(&k);
    krc_pg_sql_free(&sq);
    krc_pg_sql_free(&q);
    if (rc == KR_EDUPLICATE)
        return krc_err_set(rc, "kr_db_create_index: %s holds documents that break the unique index \"%s\"", c->name,
                           user);
    if (rc == 0) {
        char pgname[64];
        krc_pg_schema_index_name(c->name, user, pgname);
        index_register(c->impl, pgname, user);
    }
    return rc;
}

static int pg_ready(void *impl, char *msg, size_t msglen)
{
    static const krc_pg_sql ping = {.text = "SELECT 1"};
    call k;
    int rc = call_begin(&k, impl, NULL);
    PGresult *r = NULL;
    if (rc == 0)
        rc = call_exec(&k, &ping, &r);
    PQclear(r);
    call_end(&k);
    if (rc != 0) {
        snprintf(msg, msglen, "%s", krc_err_msg());
        return KR_EUNAVAILABLE;
    }
    return 0;
}

const krc_db_backend krc_db_pg_backend = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .ready = pg_ready,
    .coll_open = pg_coll_open,
    .coll_close = pg_coll_close,
    .find = pg_find,
    .insert_one = pg_insert_one,
    .update = pg_update,
    .find_one_and_update = pg_find_one_and_update,
    .delete = pg_delete,
    .count = pg_count,
    .create_index = pg_create_index,
};
