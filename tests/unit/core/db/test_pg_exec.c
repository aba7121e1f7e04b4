/* The PostgreSQL backend against a real server (the servers fixture's,
 * KIRANA_TEST_SERVERS_ENV): whatever the compilers accept runs -- random
 * filters, sorts, updates and upserts (gen.h) come back as results or
 * KR_EINVAL, never KR_EINTERNAL, which would mean SQL the compilers should
 * not have written -- and what kirana created is made again if it
 * vanishes. */
#include <libpq-fe.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/db/db.h"
#include "core/util/err.h"
#include "servers_env.h"
#include "gen.h"

static kr_host h = {.size = sizeof h, .abi_major = KR_ABI_MAJOR, .abi_minor = KR_ABI_MINOR};
static char uri[512];
static char table[32];
static krc_db *db;
static kr_coll *coll;

static void expect_rc(int rc, const char *what, const json_t *input, int also)
{
    if (rc == 0 || rc == KR_EINVAL || rc == also)
        return;
    char *text = json_dumps(input, 0);
    fail_msg("%s %s: error %d (%s)", what, text, rc, krc_err_msg());
}

static void test_random_filters_and_sorts(void **state)
{
    (void)state;
    int found = 0;
    for (int i = 0; i < 3000; i++) {
        json_t *f = filter(0), *out = NULL;
        json_t *sort = rnd(3) == 0 ? json_pack("{s:i}", name_for_sort(), rnd(2) ? 1 : -1) : NULL;
        int rc = h.db_find(coll, f, sort, NULL, 0, 5, &out);
        expect_rc(rc, "find", f, 0);
        found += rc == 0 && json_array_size(out) > 0;
        json_decref(out);
        json_decref(f);
        json_decref(sort);
    }
    print_message("filters that found documents: %d of 3000\n", found);
    assert_true(found > 30);
}

static void test_random_updates(void **state)
{
    (void)state;
    int changed = 0;
    for (int i = 0; i < 2000; i++) {
        json_t *u = update(), *f = rnd(2) ? filter(1) : NULL;
        kr_update_result r = {0};
        int rc = h.db_update(coll, f, u, rnd(4) == 0 ? KR_DB_UPSERT : 0, 1, &r);
        if (rc == KR_EINVAL && rnd(2) == 0) /* one-document form and replacements too */
            rc = h.db_update(coll, f, u, KR_DB_UPSERT, 0, &r);
        expect_rc(rc, "update", u, KR_EDUPLICATE);
        changed += rc == 0 && (r.modified > 0 || r.upserted_id != NULL);
        free(r.upserted_id);
        json_decref(u);
        json_decref(f);
    }
    print_message("updates that changed something: %d of 2000\n", changed);
    assert_true(changed > 50);
}

static void admin(const char *fmt, const char *arg)
{
    char sql[256];
    snprintf(sql, sizeof(sql), fmt, arg);
    PGconn *c = PQconnectdb(uri);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

/* A table or helper function dropped while the process runs is made again
 * by the next call that needs it. */
static void test_recreates_what_vanished(void **state)
{
    (void)state;
    char name[32];
    snprintf(name, sizeof(name), "vanish_%d", (int)getpid());
    kr_coll *c = h.db_coll(krc_db_handle(db), name);
    json_t *d = json_pack("{s:s, s:i}", "_id", "v", "n", 1), *f = json_pack("{s:s}", "_id", "v");
    json_t *u = json_pack("{s:{s:i}}", "$inc", "n", 1), *out = NULL;
    assert_int_equal(h.db_insert_one(c, d, NULL), 0);
    admin("DROP TABLE \"%s\"", name);
    assert_int_equal(h.db_find_one(c, f, NULL, NULL, &out), KR_ENOTFOUND);
    assert_int_equal(h.db_insert_one(c, d, NULL), 0);
    admin("DROP FUNCTION %s(jsonb, text[], jsonb)", "kirana_v1_inc");
    assert_int_equal(h.db_find_one_and_update(c, f, u, NULL, KR_DB_RETURN_AFTER, &out), 0);
    assert_int_equal(json_integer_value(json_object_get(out, "n")), 2);
    json_decref(out);
    /* padding an array is bounded (a PostgreSQL-backend limit) */
    json_t *list = json_pack("{s:{s:[i]}}", "$set", "list", 1), *far = json_pack("{s:{s:i}}", "$set", "list.20000", 1);
    assert_int_equal(h.db_update(c, f, list, 0, 0, NULL), 0);
    assert_int_equal(h.db_update(c, f, far, 0, 0, NULL), KR_EINVAL);
    assert_non_null(strstr(krc_err_msg(), "too far past the end"));
    json_decref(far);
    json_decref(list);
    /* an _id too big for the primary key's index */
    char *big = malloc(10000);
    for (int i = 0; i < 9999; i++)
        big[i] = (char)('a' + rnd(26)); /* incompressible */
    big[9999] = '\0';
    json_t *huge = json_pack("{s:s}", "_id", big);
    assert_int_equal(h.db_insert_one(c, huge, NULL), KR_ETOOBIG);
    json_decref(huge);
    free(big);
    admin("DROP TABLE \"%s\"", name);
    json_decref(d);
    json_decref(f);
    json_decref(u);
}

static int setup(void **state)
{
    (void)state;
    const char *env = getenv("KIRANA_TEST_SERVERS_ENV");
    if (env == NULL || kt_servers_env_get(env, "KIRANA_TEST_PG_URI", uri, sizeof(uri)) != 0) {
        fprintf(stderr, "test_pg_exec: KIRANA_TEST_SERVERS_ENV names no servers.sh env file\n");
        return -1;
    }
    h.errmsg = krc_err_msg;
    krc_db_host_fill(&h);
    char err[256];
    krc_db_opts opts = {.pool_size = 2, .timeout_ms = 10000};
    if ((db = krc_db_open(uri, &opts, &h, err, sizeof(err))) == NULL) {
        fprintf(stderr, "test_pg_exec: %s\n", err);
        return -1;
    }
    snprintf(table, sizeof(table), "fuzz_%d", (int)getpid());
    coll = h.db_coll(krc_db_handle(db), table);
    for (int i = 0; i < 200; i++) {
        json_t *d = json_object();
        for (int k = 0; k < 6; k++)
            json_object_set_new(d, name_plain(), value(0));
        json_object_set_new(d, "holds", json_pack("[{s:o, s:i}]", "order", value(2), "qty", (int)rnd(5)));
        if (h.db_insert_one(coll, d, NULL) != 0) {
            fprintf(stderr, "test_pg_exec: insert: %s\n", krc_err_msg());
            return -1;
        }
        json_decref(d);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    krc_db_close(db);
    PGconn *c = PQconnectdb(uri);
    char sql[64];
    snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS \"%s\"", table);
    PQclear(PQexec(c, sql));
    PQfinish(c);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_filters_and_sorts),
        cmocka_unit_test(test_random_updates),
        cmocka_unit_test(test_recreates_what_vanished),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
