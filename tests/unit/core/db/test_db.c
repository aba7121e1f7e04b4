/* core/db/db.c: opening by scheme, handles, argument checks; no server
 * (the URI points at a closed port). */
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

static void test_open_by_scheme(void **state)
{
    (void)state;
    char err[256] = "";
    assert_null(krc_db_open("mysql://x", NULL, &h, err, sizeof(err)));
    assert_non_null(strstr(err, "unknown scheme"));
    assert_null(krc_db_open("", NULL, &h, err, sizeof(err)));
    assert_null(krc_db_open("postgresql://host/db?nosuchoption=1", NULL, &h, err, sizeof(err)));
    assert_non_null(strstr(err, "db.uri"));
    krc_db *db = krc_db_open("postgres://u:secret@127.0.0.1:1/db", NULL, &h, err, sizeof(err));
    assert_non_null(db);
    krc_db_close(db);
    krc_db_close(NULL);
}

static void test_down_server_fails_fast(void **state)
{
    (void)state;
    char err[256];
    krc_db_opts opts = {.pool_size = 2, .timeout_ms = 2000};
    int64_t t0 = now_ms();
    krc_db *db = krc_db_open("postgresql://postgres@127.0.0.1:1/kirana", &opts, &h, err, sizeof(err));
    assert_non_null(db);
    assert_true(now_ms() - t0 < 100); /* no connection at open */
    kr_db *handle = krc_db_handle(db);
    assert_ptr_equal(KR_HOST_OF(handle), &h);
    kr_coll *c = h.db_coll(handle, "orders");
    assert_non_null(c);
    assert_ptr_equal(KR_HOST_OF(c), &h);
    json_t *out = NULL;
    assert_int_equal(h.db_find_one(c, NULL, NULL, NULL, &out), KR_EUNAVAILABLE);
    assert_non_null(strstr(h.errmsg(), "postgresql"));
    assert_null(strstr(h.errmsg(), "secret"));
    char msg[256] = "";
    assert_int_equal(krc_db_ready(db, msg, sizeof(msg)), KR_EUNAVAILABLE);
    assert_true(msg[0] != '\0');
    assert_true(now_ms() - t0 < 1000);
    krc_db_close(db);
}

static void test_handles_and_arguments(void **state)
{
    (void)state;
    char err[256];
    krc_db *db = krc_db_open("postgresql://127.0.0.1:1/x", NULL, &h, err, sizeof(err));
    kr_db *handle = krc_db_handle(db);
    kr_coll *c = h.db_coll(handle, "users");
    assert_ptr_equal(c, h.db_coll(handle, "users"));
    assert_null(h.db_coll(handle, "9x"));
    assert_int_equal(strncmp(h.errmsg(), "kr_db_coll: bad collection name", 31), 0);
    assert_null(h.db_coll(handle, "a.b"));
    assert_null(h.db_coll(NULL, "users"));

    json_t *arr = json_array(), *obj = json_object(), *out = NULL;
    int64_t n;
    /* refused before any connection is tried */
    assert_int_equal(h.db_find(c, arr, NULL, NULL, 0, 0, &out), KR_EINVAL);
    assert_int_equal(h.db_find(c, NULL, NULL, NULL, -1, 0, &out), KR_EINVAL);
    assert_int_equal(h.db_find(c, NULL, NULL, NULL, 0, 0, NULL), KR_EINVAL);
    assert_int_equal(h.db_find(NULL, NULL, NULL, NULL, 0, 0, &out), KR_EINVAL);
    assert_int_equal(h.db_insert_one(c, arr, NULL), KR_EINVAL);
    assert_int_equal(h.db_update(c, obj, NULL, 0, 0, NULL), KR_EINVAL);
    assert_int_equal(h.db_update(c, obj, obj, KR_DB_RETURN_AFTER, 0, NULL), KR_EINVAL);
    assert_int_equal(h.db_find_one_and_update(c, obj, obj, NULL, KR_DB_UNIQUE, &out), KR_EINVAL);
    assert_int_equal(h.db_delete(c, arr, 1, NULL), KR_EINVAL);
    assert_int_equal(h.db_count(c, obj, NULL), KR_EINVAL);
    assert_int_equal(h.db_count(c, arr, &n), KR_EINVAL);
    assert_int_equal(h.db_create_index(c, obj, 0, NULL), KR_EINVAL);
    assert_int_equal(h.db_create_index(c, arr, 0, NULL), KR_EINVAL);
    json_decref(arr);
    json_decref(obj);
    krc_db_close(db);
}

int main(void)
{
    h.errmsg = krc_err_msg;
    krc_db_host_fill(&h);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_by_scheme),
        cmocka_unit_test(test_down_server_fails_fast),
        cmocka_unit_test(test_handles_and_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
