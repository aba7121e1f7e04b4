/* The PostgreSQL backend's find against a real server (the servers
 * fixture's, KIRANA_TEST_SERVERS_ENV): a non-unique index ending in _id is
 * read in order by a sorted find (the ~sort index on krc_pg_sort's own
 * expressions) and gives the same pages as no index, mixed types and all;
 * projections cut documents down in SQL and still answer exactly what
 * krc_db_projection_apply makes of the whole document, key order included. */
#include <libpq-fe.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/db/db.h"
#include "core/db/pg_sort.h"
#include "core/db/projection.h"
#include "core/util/err.h"
#include "servers_env.h"

static kr_host h = {.size = sizeof h, .abi_major = KR_ABI_MAJOR, .abi_minor = KR_ABI_MINOR};
static char uri[512];
static krc_db *db;
static char indexed[32], plain[32];
static kr_coll *ci, *cp; /* the same documents, with and without the index */

/* The first value of sql's first row as a number (-1 on error). */
static long long admin_value(const char *sql)
{
    PGconn *c = PQconnectdb(uri);
    PGresult *r = PQexec(c, sql);
    long long v = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    else if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return v;
}

static char *dump(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

static void assert_same_json(const json_t *a, const json_t *b)
{
    char *x = dump(a), *y = dump(b);
    assert_string_equal(x, y);
    free(x);
    free(y);
}

static json_t *find(kr_coll *c, const char *filter, const char *sort, const char *proj, int64_t limit)
{
    json_t *f = json_loads(filter, 0, NULL), *s = sort != NULL ? json_loads(sort, 0, NULL) : NULL;
    json_t *p = proj != NULL ? json_loads(proj, 0, NULL) : NULL, *out = NULL;
    int rc = h.db_find(c, f, s, p, 0, limit, &out);
    if (rc != 0)
        fail_msg("find %s %s %s: %s", filter, sort ? sort : "", proj ? proj : "", krc_err_msg());
    json_decref(f);
    json_decref(s);
    json_decref(p);
    return out;
}

/* idx_scan of the ~sort index. An idle backend flushes its statistics
 * within PGSTAT_IDLE_INTERVAL (10 s), so wait up to 20 s for a change from
 * before when asked. */
static long long sort_index_scans(long long before)
{
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = '%s.name_1__id_1~sort'", indexed);
    for (int i = 0; i < 200; i++) {
        long long v = admin_value(sql);
        if (before < 0 || v != before)
            return v;
        nanosleep(&(struct timespec){.tv_nsec = 100000000}, NULL);
    }
    return before;
}

static void test_sort_index_matches_order_by(void **state)
{
    (void)state;
    /* the index's columns are ORDER BY's expressions, parenthesised */
    krc_pg_sql ob, ix;
    krc_pg_sql_init(&ob);
    krc_pg_sql_init(&ix);
    json_t *keys = json_pack("{s:i, s:i}", "a.b", -1, "_id", 1);
    assert_int_equal(krc_pg_sort(&ob, keys, "doc", "id"), 0);
    assert_int_equal(krc_pg_sort_index_sql(&ix, "c", keys, "c.x~sort"), 0);
    const char *o = krc_pg_sql_text(&ob), *i = krc_pg_sql_text(&ix);
    assert_non_null(strstr(i, "CREATE INDEX IF NOT EXISTS \"c.x~sort\" ON \"c\" ((CASE jsonb_typeof((doc #> "
                              "'{a,b}'::text[])) WHEN 'number' THEN 2"));
    assert_non_null(strstr(i, "#>> '{}' END) COLLATE \"C\" DESC, (doc #> '{a,b}'::text[]) DESC, id ASC); COMMIT;"));
    assert_non_null(strstr(o, "#>> '{}' END COLLATE \"C\" DESC, (doc #> '{a,b}'::text[]) DESC, id ASC"));
    json_decref(keys);
    krc_pg_sql_free(&ob);
    krc_pg_sql_free(&ix);
    /* without _id the index still ends in id, as ORDER BY does */
    krc_pg_sql_init(&ix);
    keys = json_pack("{s:i}", "n", 1);
    assert_int_equal(krc_pg_sort_index_sql(&ix, "c", keys, "c.y~sort"), 0);
    assert_non_null(strstr(krc_pg_sql_text(&ix), "(doc->'n') ASC, id ASC); COMMIT;"));
    json_decref(keys);
    krc_pg_sql_free(&ix);
    krc_pg_sql_init(&ix);
    keys = json_pack("{s:i}", "n", 2);
    assert_int_equal(krc_pg_sort_index_sql(&ix, "c", keys, "c.z~sort"), KR_EINVAL);
    json_decref(keys);
    krc_pg_sql_free(&ix);
}

static void test_sorted_pages_read_the_index(void **state)
{
    (void)state;
    long long before = sort_index_scans(-1);
    assert_true(before >= 0); /* the index exists */
    json_t *page = find(ci, "{\"active\": true}", "{\"name\": 1, \"_id\": 1}", NULL, 21);
    assert_int_equal(json_array_size(page), 21);
    json_decref(page);
    assert_true(sort_index_scans(before) > before);
}

/* Every page of a keyset walk is the same with the index as without, for
 * names of every type; and so is a descending sort. */
static void test_index_changes_no_order(void **state)
{
    (void)state;
    static const char *const sorts[] = {"{\"name\": 1, \"_id\": 1}", "{\"name\": -1, \"_id\": -1}",
                                        "{\"name\": 1}"};
    for (size_t s = 0; s < sizeof(sorts) / sizeof(sorts[0]); s++) {
        json_t *a = find(ci, "{}", sorts[s], NULL, 0), *b = find(cp, "{}", sorts[s], NULL, 0);
        assert_int_equal(json_array_size(a), 2400);
        assert_same_json(a, b);
        json_t *la = find(ci, "{}", sorts[s], NULL, 7), *lb = find(cp, "{}", sorts[s], NULL, 7);
        assert_int_equal(json_array_size(la), 7);
        assert_same_json(la, lb);
        for (size_t i = 0; i < 7; i++)
            assert_same_json(json_array_get(la, i), json_array_get(a, i));
        json_decref(a);
        json_decref(b);
        json_decref(la);
        json_decref(lb);
    }
}

/* What a projected find answers is what the projection makes of the whole
 * document, in the same key order. */
static void test_projection_in_sql_is_exact(void **state)
{
    (void)state;
    static const char *const projs[] = {
        "{\"name\": 1, \"price\": 1}",
        "{\"price\": 1, \"name\": 1, \"_id\": 0}",
        "{\"_id\": 1}",
        "{\"_id\": 0}",
        "{\"holds.qty\": 1, \"name\": 1}",
        "{\"holds\": 0, \"commits\": 0}",
        "{\"holds.order\": 0, \"name\": 0}",
        "{\"nested.a\": 1}",
        "{\"missing\": 1}",
        "{\"missing\": 0, \"_id\": 0}",
        "{\"name\": true, \"stock\": 1.0}",
    };
    json_t *all = find(ci, "{}", "{\"_id\": 1}", NULL, 60);
    for (size_t p = 0; p < sizeof(projs) / sizeof(projs[0]); p++) {
        json_t *spec = json_loads(projs[p], 0, NULL);
        krc_db_projection *proj;
        assert_int_equal(krc_db_projection_compile(spec, &proj), 0);
        json_t *got = find(ci, "{}", "{\"_id\": 1}", projs[p], 60);
        assert_int_equal(json_array_size(got), json_array_size(all));
        for (size_t i = 0; i < json_array_size(all); i++) {
            json_t *want = krc_db_projection_apply(proj, json_array_get(all, i));
            assert_same_json(json_array_get(got, i), want);
            json_decref(want);
        }
        json_decref(got);
        krc_db_projection_free(proj);
        json_decref(spec);
    }
    json_decref(all);
}

static void test_projection_top_names(void **state)
{
    (void)state;
    const char *names[4];
    size_t n;
    int done;
    krc_db_projection *p;
    json_t *spec = json_pack("{s:i, s:i}", "a.b", 1, "c", 1);
    assert_int_equal(krc_db_projection_compile(spec, &p), 0);
    assert_int_equal(krc_db_projection_top(p, names, 4, &n, &done), 1);
    assert_int_equal(n, 3);
    assert_int_equal(done, 0);
    assert_string_equal(names[0], "a");
    assert_string_equal(names[1], "c");
    assert_string_equal(names[2], "_id");
    assert_int_equal(krc_db_projection_top(p, names, 2, &n, &done), -1);
    krc_db_projection_free(p);
    json_decref(spec);
    spec = json_pack("{s:i, s:i, s:i}", "a.b", 0, "c", 0, "_id", 0);
    assert_int_equal(krc_db_projection_compile(spec, &p), 0);
    assert_int_equal(krc_db_projection_top(p, names, 4, &n, &done), 0);
    assert_int_equal(n, 2); /* a stays: only a.b goes */
    assert_string_equal(names[0], "c");
    assert_string_equal(names[1], "_id");
    assert_int_equal(done, 0); /* a.b is still to drop */
    krc_db_projection_free(p);
    json_decref(spec);
    spec = json_pack("{s:i, s:i}", "holds", 0, "_id", 0);
    assert_int_equal(krc_db_projection_compile(spec, &p), 0);
    assert_int_equal(krc_db_projection_top(p, names, 4, &n, &done), 0);
    assert_int_equal(n, 2);
    assert_int_equal(done, 1);
    krc_db_projection_free(p);
    json_decref(spec);
}

/* A name of some type, by i: strings (with case, accents and a code point
 * that sorts differently under a locale), numbers, null, missing, objects,
 * arrays, booleans. */
static json_t *name_of(int i)
{
    static const char *const words[] = {"apple", "Apple", "banana", "Zebra", "\xc3\xa9" "clair", "eclair", "a b", "ab"};
    switch (i % 12) {
    case 0:
        return json_integer(i % 7);
    case 1:
        return json_real((i % 5) + 0.5);
    case 2:
        return json_null();
    case 3:
        return NULL;
    case 4:
        return json_pack("{s:i}", "k", i % 3);
    case 5:
        return json_pack("[i]", i % 4);
    case 6:
        return json_boolean(i % 2);
    default: {
        char s[64];
        snprintf(s, sizeof(s), "%s %03d", words[i % 8], i % 50);
        return json_string(s);
    }
    }
}

static int setup(void **state)
{
    (void)state;
    const char *env = getenv("KIRANA_TEST_SERVERS_ENV");
    if (env == NULL || kt_servers_env_get(env, "KIRANA_TEST_PG_URI", uri, sizeof(uri)) != 0) {
        fprintf(stderr, "test_pg_find_index: KIRANA_TEST_SERVERS_ENV names no servers.sh env file\n");
        return -1;
    }
    h.errmsg = krc_err_msg;
    krc_db_host_fill(&h);
    char err[256];
    krc_db_opts opts = {.pool_size = 2, .timeout_ms = 30000};
    if ((db = krc_db_open(uri, &opts, &h, err, sizeof(err))) == NULL) {
        fprintf(stderr, "test_pg_find_index: %s\n", err);
        return -1;
    }
    snprintf(indexed, sizeof(indexed), "sortix_%d", (int)getpid());
    snprintf(plain, sizeof(plain), "sortpl_%d", (int)getpid());
    ci = h.db_coll(krc_db_handle(db), indexed);
    cp = h.db_coll(krc_db_handle(db), plain);
    /* as product.so: the filter's index gives the planner statistics on
     * doc->'active' (else it guesses a few rows match and sorts them) */
    json_t *keys = json_pack("{s:i, s:i}", "name", 1, "_id", 1), *active = json_pack("{s:i}", "active", 1);
    int rc = h.db_create_index(ci, active, 0, NULL);
    json_decref(active);
    if (rc != 0 || h.db_create_index(ci, keys, 0, NULL) != 0) {
        fprintf(stderr, "test_pg_find_index: create_index: %s\n", krc_err_msg());
        return -1;
    }
    json_decref(keys);
    for (int i = 0; i < 2400; i++) {
        char id[16];
        snprintf(id, sizeof(id), "d%05d", (i * 7919) % 2400); /* ids not in name order */
        json_t *d = json_pack("{s:s, s:b, s:i, s:{s:i, s:[i]}}", "_id", id, "active", 1, "price", i % 90, "nested",
                              "a", i, "z", i);
        json_t *name = name_of(i);
        if (name != NULL)
            json_object_set_new(d, "name", name);
        json_t *holds = json_array();
        for (int k = 0; k < i % 40; k++)
            json_array_append_new(holds, json_pack("{s:s, s:i}", "order", "0123456789abcdef01234567", "qty", k));
        json_object_set_new(d, "holds", holds);
        json_object_set_new(d, "commits", json_pack("[{s:s, s:i}]", "order", "o", "qty", 1));
        json_object_set_new(d, "stock", json_integer(i));
        if (h.db_insert_one(ci, d, NULL) != 0 || h.db_insert_one(cp, d, NULL) != 0) {
            fprintf(stderr, "test_pg_find_index: insert: %s\n", krc_err_msg());
            return -1;
        }
        json_decref(d);
    }
    char sql[96];
    snprintf(sql, sizeof(sql), "ANALYZE \"%s\"", indexed);
    admin_value(sql);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    krc_db_close(db);
    PGconn *c = PQconnectdb(uri);
    char sql[96];
    snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS \"%s\", \"%s\"", indexed, plain);
    PQclear(PQexec(c, sql));
    PQfinish(c);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sort_index_matches_order_by),
        cmocka_unit_test(test_projection_top_names),
        cmocka_unit_test(test_sorted_pages_read_the_index),
        cmocka_unit_test(test_index_changes_no_order),
        cmocka_unit_test(test_projection_in_sql_is_exact),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
