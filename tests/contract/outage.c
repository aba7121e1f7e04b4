/* Outage tests of kr_db on PostgreSQL: a private server (never the shared
 * fixture's, which other tests use) is stopped, frozen with SIGSTOP and
 * restarted under one live krc_db. Calls must fail with KR_EUNAVAILABLE
 * within the timeout, never hang, and work again once the server is back,
 * without reopening the krc_db. The server is removed even when a test
 * fails. */
#include <dirent.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "contract.h"
#include "core/db/db.h"

#define TIMEOUT_MS 1000
/* What a failing call may take beyond the timeout (scheduling, a connect
 * attempt started just before the deadline). */
#define SLACK_MS 1500

static char dir[64];
static char pg_bin[256], pg_data[256], pg_port[16], pg_uri[512];
static int frozen;
static krc_db *store;
static kr_db *db;
static kr_coll *coll;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    return system(cmd);
}

/* pg_ctl as the cluster's owner (PostgreSQL refuses root). */
static int pg_ctl(const char *args)
{
    return sh("%s %s/pg_ctl -D %s %s >/dev/null 2>&1", getuid() == 0 ? "runuser -u postgres --" : "", pg_bin, pg_data,
              args);
}

static int server_start(void)
{
    char args[512];
    snprintf(args, sizeof(args),
             "-l %s/pg/server.log -w -t 60 -o \"-p %s -k %s/pg -c listen_addresses=127.0.0.1\" start", dir, pg_port,
             dir);
    return pg_ctl(args);
}

/* The servers run with synchronous_commit off: checkpoint first, or the
 * crash-like stop would lose the rows the tests read back. */
static int server_stop(void)
{
    PGconn *c = PQconnectdb(pg_uri);
    PGresult *r = PQexec(c, "CHECKPOINT");
    PQclear(r);
    PQfinish(c);
    return pg_ctl("-m immediate -w stop");
}

/* SIGSTOP or SIGCONT the postmaster and every process it started, so that
 * open connections hang too. */
static void signal_server(int sig)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/postmaster.pid", pg_data);
    FILE *f = fopen(path, "r");
    long pm = 0;
    if (f == NULL || fscanf(f, "%ld", &pm) != 1 || pm <= 0) {
        if (f != NULL)
            fclose(f);
        return;
    }
    fclose(f);
    if (sig == SIGSTOP)
        kill((pid_t)pm, sig);
    DIR *proc = opendir("/proc");
    struct dirent *e;
    while (proc != NULL && (e = readdir(proc)) != NULL) {
        char stat[300], buf[512];
        snprintf(stat, sizeof(stat), "/proc/%s/stat", e->d_name);
        FILE *s = fopen(stat, "r");
        if (s == NULL)
            continue;
        size_t n = fread(buf, 1, sizeof(buf) - 1, s);
        fclose(s);
        buf[n] = '\0';
        char *close = strrchr(buf, ')');
        long ppid = 0;
        if (close != NULL && sscanf(close + 2, "%*c %ld", &ppid) == 1 && ppid == pm)
            kill((pid_t)atol(e->d_name), sig);
    }
    if (proc != NULL)
        closedir(proc);
    if (sig == SIGCONT)
        kill((pid_t)pm, sig);
    frozen = sig == SIGSTOP;
}

static void cleanup(void)
{
    if (frozen)
        signal_server(SIGCONT);
    /* rm again: redis may still be writing in its folder when the script
     * removes it */
    if (dir[0] != '\0')
        sh("%s stop %s >/dev/null 2>&1; sleep 0.2; rm -rf %s", KT_SERVERS_SH, dir, dir);
    dir[0] = '\0';
}

static void on_signal(int sig)
{
    cleanup();
    signal(sig, SIG_DFL);
    raise(sig);
}

static json_t *doc(const char *id)
{
    json_t *f = json_pack("{s:s}", "_id", id);
    json_t *out = NULL;
    int rc = kr_db_find_one(coll, f, NULL, NULL, &out);
    json_decref(f);
    if (rc != 0)
        fail_msg("find_one %s: %s (%s)", id, kr_strerror(rc), kr_errmsg(db));
    return out;
}

/* One call: its result and how long it took. */
static int timed_find(int64_t *ms)
{
    json_t *f = json_pack("{s:s}", "_id", "a");
    json_t *out = NULL;
    int64_t t0 = now_ms();
    int rc = kr_db_find_one(coll, f, NULL, NULL, &out);
    *ms = now_ms() - t0;
    json_decref(f);
    json_decref(out);
    return rc;
}

static void expect_unavailable(const char *when, int64_t min_ms)
{
    int64_t ms;
    int rc = timed_find(&ms);
    if (rc != KR_EUNAVAILABLE)
        fail_msg("%s: expected KR_EUNAVAILABLE, got %s (%s)", when, kr_strerror(rc), kr_errmsg(db));
    print_message("%s: KR_EUNAVAILABLE after %lld ms (%s)\n", when, (long long)ms, kr_errmsg(db));
    if (ms > TIMEOUT_MS + SLACK_MS || ms < min_ms)
        fail_msg("%s: took %lld ms, expected %lld..%d", when, (long long)ms, (long long)min_ms, TIMEOUT_MS + SLACK_MS);
}

/* Calls work again within a few seconds of the server coming back. */
static void expect_recovery(const char *when)
{
    int64_t t0 = now_ms(), ms = 0;
    int rc = -1, tries = 0;
    while (rc != 0 && now_ms() - t0 < 10000) {
        rc = timed_find(&ms);
        tries++;
    }
    if (rc != 0)
        fail_msg("%s: still failing: %s (%s)", when, kr_strerror(rc), kr_errmsg(db));
    print_message("%s: recovered on call %d\n", when, tries);
    assert_int_equal(tries, 1);
}

static void test_baseline(void **state)
{
    (void)state;
    json_t *d = json_pack("{s:s, s:i}", "_id", "a", "n", 1);
    assert_int_equal(kr_db_insert_one(coll, d, NULL), 0);
    json_decref(d);
    json_t *got = doc("a");
    assert_int_equal(json_integer_value(json_object_get(got, "n")), 1);
    json_decref(got);
    char msg[256];
    assert_int_equal(krc_db_ready(store, msg, sizeof(msg)), 0);
}

static void test_stopped_server(void **state)
{
    (void)state;
    assert_int_equal(server_stop(), 0);
    expect_unavailable("stopped, pooled connections", 0);
    expect_unavailable("stopped, new connection", 0);
    char msg[256];
    assert_int_equal(krc_db_ready(store, msg, sizeof(msg)), KR_EUNAVAILABLE);
    assert_true(msg[0] != '\0');
    assert_int_equal(server_start(), 0);
    expect_recovery("restarted after calls failed");
}

static void test_restart_between_calls(void **state)
{
    (void)state;
    json_t *d = doc("a");
    json_decref(d);
    /* The pool holds connections the restart killed: they must be
     * noticed and replaced, not handed to the next call. */
    assert_int_equal(server_stop(), 0);
    assert_int_equal(server_start(), 0);
    expect_recovery("restarted while idle");
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
    json_t *d = doc("a");
    json_decref(d);
    signal_server(SIGSTOP);
    expect_unavailable("frozen, pooled connection", TIMEOUT_MS * 8 / 10);
    expect_unavailable("frozen, new connection", TIMEOUT_MS * 8 / 10);
    /* more callers than connections: the waiters time out too */
    pthread_t t[8];
    caller c[8];
    for (int i = 0; i < 8; i++)
        pthread_create(&t[i], NULL, call_frozen, &c[i]);
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        if (c[i].rc != KR_EUNAVAILABLE || c[i].ms > TIMEOUT_MS + SLACK_MS)
            fail_msg("frozen, caller %d: %s after %lld ms", i, kr_strerror(c[i].rc), (long long)c[i].ms);
    }
    char msg[256];
    int64_t t0 = now_ms();
    assert_int_equal(krc_db_ready(store, msg, sizeof(msg)), KR_EUNAVAILABLE);
    assert_true(now_ms() - t0 <= TIMEOUT_MS + SLACK_MS);
    signal_server(SIGCONT);
    expect_recovery("thawed");
}

static void test_lock_wait_times_out(void **state)
{
    (void)state;
    /* Another session holds the row: the guarded update waits, and
     * statement_timeout ends the wait on the server. */
    PGconn *other = PQconnectdb(pg_uri);
    assert_int_equal(PQstatus(other), CONNECTION_OK);
    PGresult *r = PQexec(other, "BEGIN; SELECT 1 FROM \"outage\" WHERE id = 'a' FOR UPDATE");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    json_t *f = json_pack("{s:s}", "_id", "a");
    json_t *u = json_pack("{s:{s:i}}", "$inc", "n", 1);
    json_t *out = NULL;
    int64_t t0 = now_ms();
    int rc = kr_db_find_one_and_update(coll, f, u, NULL, 0, &out);
    int64_t ms = now_ms() - t0;
    print_message("locked row: %s after %lld ms (%s)\n", kr_strerror(rc), (long long)ms, kr_errmsg(db));
    assert_int_equal(rc, KR_EUNAVAILABLE);
    assert_true(ms <= TIMEOUT_MS + SLACK_MS);
    r = PQexec(other, "ROLLBACK");
    PQclear(r);
    PQfinish(other);
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
    char env[128];
    snprintf(env, sizeof(env), "%s/env", dir);
    if (sh("%s start %s >/dev/null", KT_SERVERS_SH, dir) != 0 ||
        kt_env_file_get(env, "KIRANA_TEST_PG_BIN", pg_bin, sizeof(pg_bin)) != 0 ||
        kt_env_file_get(env, "KIRANA_TEST_PG_DATA", pg_data, sizeof(pg_data)) != 0 ||
        kt_env_file_get(env, "KIRANA_TEST_PG_PORT", pg_port, sizeof(pg_port)) != 0 ||
        kt_env_file_get(env, "KIRANA_TEST_PG_URI", pg_uri, sizeof(pg_uri)) != 0) {
        fprintf(stderr, "outage: could not start a private server in %s\n", dir);
        return 1;
    }
    char err[256];
    krc_db_opts opts = {.pool_size = 4, .timeout_ms = TIMEOUT_MS};
    store = krc_db_open(pg_uri, &opts, kt_host(), err, sizeof(err));
    if (store == NULL) {
        fprintf(stderr, "outage: krc_db_open: %s\n", err);
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
    int failed = cmocka_run_group_tests_name("kr_db outage", tests, NULL, NULL);
    krc_db_close(store);
    cleanup();
    return failed;
}
