/* core/db/mongo.c without a server: opening by URI, option defaults and
 * the URI overriding them, KR_EUNAVAILABLE within the timeout from a
 * closed port, and subset refusals that never need the server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/db/db.h"
#include "core/util/err.h"

static kr_host h = {.size = sizeof h, .abi_major = KR_ABI_MAJOR, .abi_minor = KR_ABI_MINOR};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_open(void **state)
{
    (void)state;
    char err[256] = "";
    int64_t t0 = now_ms();
    krc_db *db = krc_db_open("mongodb://localhost/kirana", NULL, &h, err, sizeof(err));
    assert_non_null(db);
    krc_db_close(db);
    db = krc_db_open("mongodb+srv://", NULL, &h, err, sizeof(err));
    assert_null(db);
    assert_non_null(strstr(err, "db.uri"));
    assert_null(krc_db_open("mongodb://localhost", NULL, &h, err, sizeof(err)));
    assert_non_null(strstr(err, "name the database"));
    assert_null(krc_db_open("mongodb://localhost/", NULL, &h, err, sizeof(err)));
    assert_non_null(strstr(err, "name the database"));
    assert_null(krc_db_open("mongodb://h:99999999/x", NULL, &h, err, sizeof(err)));
    assert_non_null(strstr(err, "db.uri"));
    /* opened twice in one process: mongoc_init ran once */
    db = krc_db_open("mongodb://u:secret@127.0.0.1:1/kirana?appname=x", NULL, &h, err, sizeof(err));
    assert_non_null(db);
    krc_db_close(db);
    assert_true(now_ms() - t0 < 500); /* no connection at open */
}

static void test_closed_port(void **state)
{
    (void)state;
    char err[256];
    krc_db_opts opts = {.pool_size = 2, .timeout_ms = 700};
    krc_db *db = krc_db_open("mongodb://u:secret@127.0.0.1:1/kirana", &opts, &h, err, sizeof(err));
    assert_non_null(db);
    kr_db *handle = krc_db_handle(db);
    kr_coll *c = h.db_coll(handle, "orders");
    assert_non_null(c);
    json_t *out = NULL;
    int64_t t0 = now_ms();
    assert_int_equal(h.db_find_one(c, NULL, NULL, NULL, &out), KR_EUNAVAILABLE);
    int64_t ms = now_ms() - t0;
    assert_true(ms >= 600 && ms < 700 + 1500);
    assert_non_null(strstr(h.errmsg(), "mongodb"));
    assert_non_null(strstr(h.errmsg(), "find in orders"));
    assert_null(strstr(h.errmsg(), "secret"));
    json_t *doc = json_pack("{s:i}", "n", 1);
    assert_int_equal(h.db_insert_one(c, doc, NULL), KR_EUNAVAILABLE);
    assert_int_equal(h.db_create_index(c, doc, KR_DB_UNIQUE, NULL), KR_EUNAVAILABLE);
    char msg[256] = "";
    assert_int_equal(krc_db_ready(db, msg, sizeof(msg)), KR_EUNAVAILABLE);
    assert_non_null(strstr(msg, "ping"));
    assert_null(strstr(msg, "secret"));

    /* refusals need no server: they come at once */
    json_t *where = json_pack("{s:s}", "$where", "1");
    t0 = now_ms();
    assert_int_equal(h.db_find(c, where, NULL, NULL, 0, 0, &out), KR_EINVAL);
    assert_int_equal(h.db_update(c, NULL, where, 0, 0, NULL), KR_EINVAL);
    assert_int_equal(h.db_delete(c, where, 1, NULL), KR_EINVAL);
    json_t *bad_id = json_pack("{s:i}", "_id", 5);
    assert_int_equal(h.db_insert_one(c, bad_id, NULL), KR_EINVAL);
    json_t *set = json_pack("{s:{s:i}}", "$set", "x", 1);
    assert_int_equal(h.db_update(c, bad_id, set, KR_DB_UPSERT, 0, NULL), KR_EINVAL);
    assert_true(now_ms() - t0 < 100);
    json_decref(where);
    json_decref(bad_id);
    json_decref(set);
    json_decref(doc);
    krc_db_close(db);
}

static void test_uri_options_win(void **state)
{
    (void)state;
    char err[256];
    krc_db_opts opts = {.pool_size = 2, .timeout_ms = 5000};
    krc_db *db = krc_db_open("mongodb://127.0.0.1:1/kirana?serverSelectionTimeoutMS=200", &opts, &h, err, sizeof(err));
    assert_non_null(db);
    kr_coll *c = h.db_coll(krc_db_handle(db), "orders");
    int64_t n = 0, t0 = now_ms();
    assert_int_equal(h.db_count(c, NULL, &n), KR_EUNAVAILABLE);
    assert_true(now_ms() - t0 < 1500);
    krc_db_close(db);
}

int main(void)
{
    h.errmsg = krc_err_msg;
    krc_db_host_fill(&h);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open),
        cmocka_unit_test(test_closed_port),
        cmocka_unit_test(test_uri_options_win),
    };
    return cmocka_run_group_tests_name("kr_db on MongoDB, no server", tests, NULL, NULL);
}
