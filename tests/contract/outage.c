/* Outage tests of kr_db, one binary per backend (outage_server.h): a
 * private server is stopped, frozen with SIGSTOP and restarted under one
 * live krc_db. Calls must fail with KR_EUNAVAILABLE within the timeout,
 * never hang, and work again once the server is back, without reopening
 * the krc_db. The server is removed even when a test fails. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "contract.h"
#include "core/db/db.h"
#include "outage_server.h"
#include "outage_util.h"

#define TIMEOUT_MS 1000
/* What a failing call may take beyond the timeout (scheduling, a connect
 * attempt started just before the deadline). */
#define SLACK_MS 1500
#define POOL 4

static char dir[64];
static krc_db *store;
static kr_db *db;
static kr_coll *coll;

static void cleanup(void)
{
    if (dir[0] != '\0')
        kt_server_remove();
    dir[0] = '\0';
}

static void on_signal(int sig)
{
    cleanup();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* One call: its result and how long it took. */
static int timed_find(int64_t *ms)
{
    json_t *f = json_pack("{s:s}", "_id", "a");
    json_t *out = NULL;
    int64_t t0 = kt_now_ms();
    int rc = kr_db_find_one(coll, f, NULL, NULL, &out);
    *ms = kt_now_ms() - t0;
    json_decref(f);
    json_decref(out);
    return rc;
}

/* A call fails within max_ms + SLACK_MS, after min_ms at least. */
static void expect_unavailable(const char *when, int64_t min_ms, int64_t max_ms)
{
    int64_t ms;
    int rc = timed_find(&ms);
    if (rc != KR_EUNAVAILABLE)
        fail_msg("%s: expected KR_EUNAVAILABLE, got %s (%s)", when, kr_strerror(rc), kr_errmsg(db));
    print_message("%s: KR_EUNAVAILABLE after %lld ms (%s)\n", when, (long long)ms, kr_errmsg(db));
    if (ms > max_ms + SLACK_MS || ms < min_ms)
        fail_msg("%s: took %lld ms, expected %lld..%lld", when, (long long)ms, (long long)min_ms,
                 (long long)(max_ms + SLACK_MS));
}

/* Calls work again within a few seconds of the server coming back; the
 * number of calls it took is printed and returned. */
static int expect_recovery(const char *when)
{
    int64_t t0 = kt_now_ms(), ms = 0;
    int rc = -1, tries = 0;
    while (rc != 0 && kt_now_ms() - t0 < 10000) {
        rc = timed_find(&ms);
        tries++;
    }
    if (rc != 0)
        fail_msg("%s: still failing: %s (%s)", when, kr_strerror(rc), kr_errmsg(db));
    print_message("%s: recovered on call %d, %lld ms after the server was back\n", when, tries,
                  (long long)(kt_now_ms() - t0));
    return tries;
}

static void test_baseline(void **state)
{
    (void)state;
    json_t *d = json_pack("{s:s, s:i}", "_id", "a", "n", 1);
    assert_int_equal(kr_db_insert_one(coll, d, NULL), 0);
    json_decref(d);
    json_t *f = json_pack("{s:s}", "_id", "a"), *got = NULL;
    assert_int_equal(kr_db_find_one(coll, f, NULL, NULL, &got), 0);
    assert_int_equal(json_integer_value(json_object_get(got, "n")), 1);
    json_decref(got);
    json_decref(f);
    char msg[256];
    assert_int_equal(krc_db_ready(store, msg, sizeof(msg)), 0);
}

static void test_stopped_server(void **state)
{
    (void)state;
    assert_int_equal(kt_server_stop(), 0);
    expect_unavailable("stopped, pooled connections", 0, TIMEOUT_MS);
    expect_unavailable("stopped, after a failed call", 0, TIMEOUT_MS);
    json_t *f = json_pack("{s:s}", "_id", "a"), *u = json_pack("{s:{s:i}}", "$inc", "n", 1), *out = NULL;
    int64_t t0 = kt_now_ms();
    assert_int_equal(kr_db_find_one_and_update(coll, f, u, NULL, KR_DB_RETURN_AFTER, &out), KR_EUNAVAILABLE);
    assert_true(kt_now_ms() - t0 <= TIMEOUT_MS + SLACK_MS);
    json_decref(f);
    json_decref(u);
    char msg[256] = "";
    t0 = kt_now_ms();
    assert_int_equal(krc_db_ready(store, msg, sizeof(msg)), KR_EUNAVAILABLE);
    assert_true(kt_now_ms() - t0 <= TIMEOUT_MS + SLACK_MS);
    assert_true(msg[0] != '\0');
    print_message("ready while stopped: %s\n", msg);
    assert_int_equal(kt_server_restart(), 0);
    expect_recovery("restarted after calls failed");
}

static void test_restart_between_calls(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(timed_find(&ms), 0);
    /* The pool holds connections the restart killed: they must be noticed
     * and replaced (or the call retried), never handed to the next call
     * broken, so the first call after the restart works. */
    assert_int_equal(kt_server_stop(), 0);
    assert_int_equal(kt_server_restart(), 0);
    assert_int_equal(expect_recovery("restarted while idle"), 1);
}

typedef struct caller {
    int rc;
    int64_t ms;
} caller;

static void *call_frozen(void *arg)
{
    caller *c = arg;
    c->rc = timed_find(&c->ms);
    return NULL;
}

static void test_frozen_server(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(timed_find(&ms), 0);
    /* A server that accepts connections but never answers: a read times
     * out (a driver that retries once on a new connection may take two
     * timeouts). */
    const int64_t max_ms = (int64_t)kt_server_frozen_timeouts * TIMEOUT_MS;
    kt_server_signal(SIGSTOP);
    expect_unavailable("frozen, pooled connection", TIMEOUT_MS * 8 / 10, max_ms);
    expect_unavailable("frozen, after a failed call", 0, max_ms);
    /* more callers than connections: the waiters fail too */
    pthread_t t[2 * POOL];
    caller c[2 * POOL];
    for (int i = 0; i < 2 * POOL; i++)
        pthread_create(&t[i], NULL, call_frozen, &c[i]);
    for (int i = 0; i < 2 * POOL; i++) {
        pthread_join(t[i], NULL);
        if (c[i].rc != KR_EUNAVAILABLE || c[i].ms > max_ms + SLACK_MS)
            fail_msg("frozen, caller %d: %s after %lld ms", i, kr_strerror(c[i].rc), (long long)c[i].ms);
    }
    char msg[256];
    int64_t t0 = kt_now_ms();
    assert_int_equal(krc_db_ready(store, msg, sizeof(msg)), KR_EUNAVAILABLE);
    assert_true(kt_now_ms() - t0 <= TIMEOUT_MS + SLACK_MS);
    kt_server_signal(SIGCONT);
    expect_recovery("thawed");
}

static void test_lock_wait_times_out(void **state)
{
    (void)state;
    /* Another session holds the row: the guarded update waits, and the
     * statement timeout ends the wait on the server. */
    int locked = kt_server_lock("outage", "a");
    if (locked == 1) {
        print_message("skipped: %s has no row lock a client can hold\n", kt_server_name);
        skip();
    }
    assert_int_equal(locked, 0);
    json_t *f = json_pack("{s:s}", "_id", "a");
    json_t *u = json_pack("{s:{s:i}}", "$inc", "n", 1);
    json_t *out = NULL;
    int64_t t0 = kt_now_ms();
    int rc = kr_db_find_one_and_update(coll, f, u, NULL, 0, &out);
    int64_t ms = kt_now_ms() - t0;
    print_message("locked row: %s after %lld ms (%s)\n", kr_strerror(rc), (long long)ms, kr_errmsg(db));
    assert_int_equal(rc, KR_EUNAVAILABLE);
    assert_true(ms <= TIMEOUT_MS + SLACK_MS);
    kt_server_unlock();
    assert_int_equal(kr_db_find_one_and_update(coll, f, u, NULL, KR_DB_RETURN_AFTER, &out), 0);
    assert_int_equal(json_integer_value(json_object_get(out, "n")), 2);
    json_decref(out);
    json_decref(f);
    json_decref(u);
}

int main(void)
{
    snprintf(dir, sizeof(dir), "/tmp/kt-outage-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    atexit(cleanup);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    char uri[512], err[256];
    if (kt_server_start(dir, uri, sizeof(uri)) != 0)
        return 1;
    krc_db_opts opts = {.pool_size = POOL, .timeout_ms = TIMEOUT_MS};
    store = krc_db_open(uri, &opts, kt_host(), err, sizeof(err));
    if (store == NULL) {
        fprintf(stderr, "outage: krc_db_open %s: %s\n", uri, err);
        return 1;
    }
    db = krc_db_handle(store);
    coll = kr_db_coll(db, "outage");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_baseline),
        cmocka_unit_test(test_stopped_server),
        cmocka_unit_test(test_restart_between_calls),
        cmocka_unit_test(test_frozen_server),
        cmocka_unit_test(test_lock_wait_times_out),
    };
    char name[64];
    snprintf(name, sizeof(name), "kr_db outage on %s", kt_server_name);
    int failed = cmocka_run_group_tests_name(name, tests, NULL, NULL);
    krc_db_close(store);
    cleanup();
    return failed;
}
