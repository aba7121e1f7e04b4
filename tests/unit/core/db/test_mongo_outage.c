/* Outage tests of kr_db on the MongoDB backend: a private MongoDB
 * wire-protocol server (tests/servers/ferretdb.sh: mongod, else FerretDB;
 * never the fixture's, which other tests use) is killed, restarted and
 * frozen with SIGSTOP under one live krc_db. Calls must fail with
 * KR_EUNAVAILABLE within the timeout, never hang, and work again once the
 * server is back, without reopening the krc_db. The server is removed even
 * when a test fails. */
#include <dirent.h>
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

#include "core/db/db.h"
#include "core/util/err.h"

#define TIMEOUT_MS 1000
/* What a failing call may take beyond the timeout (scheduling, a connect
 * attempt started just before the deadline). */
#define SLACK_MS 1500
#define POOL 4

static char dir[64], script[512], uri[300];
static long server_pid;
static int frozen;
static krc_db *store;
static kr_db *db;
static kr_coll *coll;
static kr_host host = {.size = sizeof host, .abi_major = KR_ABI_MAJOR, .abi_minor = KR_ABI_MINOR};

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

/* KEY from the KEY=VALUE file at path into out; 0 or -1. */
static int env_get(const char *path, const char *key, char *out, size_t outlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    char line[256];
    size_t klen = strlen(key);
    int rc = -1;
    while (rc != 0 && fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, key, klen) != 0 || line[klen] != '=')
            continue;
        line[strcspn(line, "\r\n")] = '\0';
        snprintf(out, outlen, "%.200s", line + klen + 1);
        rc = 0;
    }
    fclose(f);
    return rc;
}

static long read_pid(void)
{
    char path[128], pid[32];
    snprintf(path, sizeof(path), "%s/server.pid", dir);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    long p = fgets(pid, sizeof(pid), f) != NULL ? atol(pid) : 0;
    fclose(f);
    return p;
}

static int server_kill(void)
{
    return sh("%s kill %s", script, dir);
}

static int server_resume(void)
{
    int rc = sh("%s resume %s", script, dir);
    server_pid = read_pid();
    return rc;
}

/* Whether every thread of the server is stopped ('T' in its stat). */
static int all_threads_stopped(void)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/task", server_pid);
    DIR *tasks = opendir(path);
    if (tasks == NULL)
        return 0;
    int stopped = 1;
    struct dirent *e;
    while (stopped && (e = readdir(tasks)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char stat[128], buf[512];
        snprintf(stat, sizeof(stat), "%s/%.20s/stat", path, e->d_name);
        FILE *f = fopen(stat, "r");
        size_t n = f != NULL ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
        if (f != NULL)
            fclose(f);
        buf[n] = '\0';
        const char *close = strrchr(buf, ')');
        stopped = close != NULL && close[1] == ' ' && close[2] == 'T';
    }
    closedir(tasks);
    return stopped;
}

static void server_signal(int sig)
{
    if (server_pid > 0)
        kill((pid_t)server_pid, sig);
    frozen = sig == SIGSTOP;
    /* kill() returns before every thread of a multi-threaded server has
     * stopped: one still running can answer the next call */
    for (int i = 0; frozen && i < 200 && !all_threads_stopped(); i++)
        usleep(10000);
}

static void cleanup(void)
{
    if (frozen)
        server_signal(SIGCONT);
    if (dir[0] != '\0')
        sh("%s stop %s >/dev/null 2>&1", script, dir);
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
    int64_t t0 = now_ms();
    int rc = host.db_find_one(coll, f, NULL, NULL, &out);
    *ms = now_ms() - t0;
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
        fail_msg("%s: expected KR_EUNAVAILABLE, got %d (%s)", when, rc, host.errmsg());
    print_message("%s: KR_EUNAVAILABLE after %lld ms (%s)\n", when, (long long)ms, host.errmsg());
    if (ms > max_ms + SLACK_MS || ms < min_ms)
        fail_msg("%s: took %lld ms, expected %lld..%lld", when, (long long)ms, (long long)min_ms,
                 (long long)(max_ms + SLACK_MS));
}

/* Calls work again within a few seconds of the server coming back; the
 * number of failed calls before is printed and returned. */
static int expect_recovery(const char *when)
{
    int64_t t0 = now_ms(), ms = 0;
    int rc = -1, tries = 0;
    while (rc != 0 && now_ms() - t0 < 10000) {
        rc = timed_find(&ms);
        tries++;
    }
    if (rc != 0)
        fail_msg("%s: still failing: %d (%s)", when, rc, host.errmsg());
    print_message("%s: recovered on call %d, %lld ms after the server was back\n", when, tries,
                  (long long)(now_ms() - t0));
    return tries;
}

static void test_baseline(void **state)
{
    (void)state;
    json_t *d = json_pack("{s:s, s:i}", "_id", "a", "n", 1);
    assert_int_equal(host.db_insert_one(coll, d, NULL), 0);
    json_decref(d);
    int64_t ms;
    assert_int_equal(timed_find(&ms), 0);
    char msg[256];
    assert_int_equal(krc_db_ready(store, msg, sizeof(msg)), 0);
}

static void test_killed_server(void **state)
{
    (void)state;
    assert_int_equal(server_kill(), 0);
    expect_unavailable("killed, pooled connections", 0, TIMEOUT_MS);
    expect_unavailable("killed, after a failed call", 0, TIMEOUT_MS);
    json_t *f = json_pack("{s:s}", "_id", "a"), *u = json_pack("{s:{s:i}}", "$inc", "n", 1), *out = NULL;
    int64_t t0 = now_ms();
    assert_int_equal(host.db_find_one_and_update(coll, f, u, NULL, KR_DB_RETURN_AFTER, &out), KR_EUNAVAILABLE);
    assert_true(now_ms() - t0 <= TIMEOUT_MS + SLACK_MS);
    json_decref(f);
    json_decref(u);
    char msg[256] = "";
    t0 = now_ms();
    assert_int_equal(krc_db_ready(store, msg, sizeof(msg)), KR_EUNAVAILABLE);
    assert_true(now_ms() - t0 <= TIMEOUT_MS + SLACK_MS);
    assert_true(msg[0] != '\0');
    print_message("ready while killed: %s\n", msg);
    assert_int_equal(server_resume(), 0);
    expect_recovery("restarted after calls failed");
}

static void test_restart_between_calls(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(timed_find(&ms), 0);
    /* The pool holds connections the restart killed: the driver retries
     * the call once on a new connection, so none fails. */
    assert_int_equal(server_kill(), 0);
    assert_int_equal(server_resume(), 0);
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
     * out, and the driver's one retry on a new connection times out too,
     * so a call may take twice the timeout. */
    server_signal(SIGSTOP);
    expect_unavailable("frozen, pooled connection", TIMEOUT_MS * 8 / 10, 2 * TIMEOUT_MS);
    expect_unavailable("frozen, after a failed call", 0, 2 * TIMEOUT_MS);
    /* more callers than connections: the waiters fail too */
    pthread_t t[2 * POOL];
    caller c[2 * POOL];
    for (int i = 0; i < 2 * POOL; i++)
        pthread_create(&t[i], NULL, call_frozen, &c[i]);
    for (int i = 0; i < 2 * POOL; i++) {
        pthread_join(t[i], NULL);
        if (c[i].rc != KR_EUNAVAILABLE || c[i].ms > 2 * TIMEOUT_MS + SLACK_MS)
            fail_msg("frozen, caller %d: %d after %lld ms", i, c[i].rc, (long long)c[i].ms);
    }
    char msg[256];
    int64_t t0 = now_ms();
    assert_int_equal(krc_db_ready(store, msg, sizeof(msg)), KR_EUNAVAILABLE);
    assert_true(now_ms() - t0 <= TIMEOUT_MS + SLACK_MS);
    server_signal(SIGCONT);
    expect_recovery("thawed");
}

int main(void)
{
    const char *src = getenv("KIRANA_SOURCE_DIR");
    if (src == NULL) {
        fprintf(stderr, "test_mongo_outage: KIRANA_SOURCE_DIR is not set (run it under ctest)\n");
        return 1;
    }
    snprintf(script, sizeof(script), "%s/tests/servers/ferretdb.sh", src);
    snprintf(dir, sizeof(dir), "/tmp/kt-mongo-outage-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    atexit(cleanup);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    /* always a private server, even when KIRANA_TEST_MONGODB_URI names one:
     * this test kills it */
    unsetenv("KIRANA_TEST_MONGODB_URI");
    char env[128], base[256];
    snprintf(env, sizeof(env), "%s/env", dir);
    if (sh("%s start %s >/dev/null", script, dir) != 0 ||
        env_get(env, "KIRANA_TEST_MONGO_URI", base, sizeof(base)) != 0) {
        fprintf(stderr, "test_mongo_outage: could not start a private server in %s\n", dir);
        return 1;
    }
    server_pid = read_pid();
    snprintf(uri, sizeof(uri), "%s/outage", base);
    host.errmsg = krc_err_msg;
    krc_db_host_fill(&host);
    char err[256];
    krc_db_opts opts = {.pool_size = POOL, .timeout_ms = TIMEOUT_MS};
    store = krc_db_open(uri, &opts, &host, err, sizeof(err));
    if (store == NULL) {
        fprintf(stderr, "test_mongo_outage: krc_db_open: %s\n", err);
        return 1;
    }
    db = krc_db_handle(store);
    coll = host.db_coll(db, "outage");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_baseline),
        cmocka_unit_test(test_killed_server),
        cmocka_unit_test(test_restart_between_calls),
        cmocka_unit_test(test_frozen_server),
    };
    int failed = cmocka_run_group_tests_name("kr_db on MongoDB: outage", tests, NULL, NULL);
    krc_db_close(store);
    cleanup();
    return failed;
}
