/* The pool against private redis-servers that the tests kill -9, SIGSTOP
 * and restart, and that require a password: calls fail with
 * KR_EUNAVAILABLE within their bounds, never crash or hang, and the same
 * pool recovers when the server is back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "core/redis/backoff.h"
#include "core/redis/conn.h"
#include "core/redis/redis.h"
#include "core/redis/reply.h"
#include "core/util/err.h"
#include "redis_test.h"

static kr_host host;
static rt_server server;

static int setup(void **state)
{
    (void)state;
    krc_redis_host_fill(&host);
    memset(&server, 0, sizeof(server));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rt_server_remove(&server);
    return 0;
}

static void start_server(const char *password)
{
    server.password = password;
    if (rt_server_start(&server) < 0)
        fail_msg("redis-server did not start on port %d", server.port);
}

static krc_redis *open_pool(const char *userinfo, int db, int size, int timeout_ms)
{
    char url[256], err[256];
    snprintf(url, sizeof(url), "redis://%s127.0.0.1:%d/%d", userinfo, server.port, db);
    krc_redis *r = krc_redis_open(url, size, timeout_ms, &host, err, sizeof(err));
    if (r == NULL)
        fail_msg("krc_redis_open: %s", err);
    return r;
}

/* One command; the reply is dropped. */
static int call(krc_redis *r, const char *a0, const char *a1, const char *a2)
{
    const char *argv[] = {a0, a1, a2};
    int argc = a1 == NULL ? 1 : a2 == NULL ? 2 : 3;
    kr_redis_reply *rep;
    int rc = host.redis_command_argv((kr_redis *)r, argc, argv, NULL, &rep);
    if (rc == KR_OK && rep->type == KR_REDIS_ERROR)
        rc = KR_EINTERNAL;
    krc_redis_reply_free(rep);
    return rc;
}

/* Calls until one succeeds; how long that took, or -1 after limit_ms. */
static int64_t until_ok(krc_redis *r, int64_t limit_ms)
{
    int64_t t0 = rt_now_ms();
    while (rt_now_ms() - t0 < limit_ms) {
        if (call(r, "PING", NULL, NULL) == KR_OK)
            return rt_now_ms() - t0;
        rt_sleep_ms(10);
    }
    return -1;
}

/* Must run first: the first connect of the process is what makes SIGPIPE
 * harmless, and only then is its disposition still the default here. */
static void t_no_sigpipe(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_DFL);
    start_server(NULL);
    krc_redis_url u;
    char err[256];
    assert_int_equal(krc_redis_url_parse("redis://127.0.0.1", &u, err, sizeof(err)), 0);
    u.port = server.port;
    redisContext *c = krc_redis_connect(&u, 1000, err, sizeof(err));
    assert_non_null(c);
    rt_server_kill(&server);
    /* The first write after the peer is gone draws an RST; the second one
     * raises SIGPIPE. */
    int status = REDIS_OK;
    for (int i = 0; i < 3 && status == REDIS_OK; i++) {
        int done;
        assert_int_equal(redisAppendCommand(c, "PING"), REDIS_OK);
        status = redisBufferWrite(c, &done);
        rt_sleep_ms(50);
    }
    assert_int_equal(status, REDIS_ERR);
    assert_int_equal(c->err, REDIS_ERR_IO);
    redisFree(c);
}

typedef struct hammer {
    krc_redis *r;
    atomic_bool stop;
    atomic_int ok, unavailable, other;
    atomic_llong max_ms;
} hammer;

static void *hammer_thread(void *p)
{
    hammer *h = p;
    while (!atomic_load(&h->stop)) {
        int64_t t0 = rt_now_ms();
        int rc = call(h->r, "INCR", "krtest:outage", NULL);
        long long dt = rt_now_ms() - t0;
        long long max = atomic_load(&h->max_ms);
        while (dt > max && !atomic_compare_exchange_weak(&h->max_ms, &max, dt))
            ;
        if (rc == KR_OK)
            atomic_fetch_add(&h->ok, 1);
        else if (rc == KR_EUNAVAILABLE)
            atomic_fetch_add(&h->unavailable, 1);
        else
            atomic_fetch_add(&h->other, 1);
        if (rc != KR_OK)
            rt_sleep_ms(1);
    }
    return NULL;
}

#define HAMMERS 8

static void hammers_start(hammer *h, pthread_t *t, krc_redis *r)
{
    memset(h, 0, sizeof(*h));
    h->r = r;
    for (int i = 0; i < HAMMERS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer_thread, h), 0);
}

static void hammers_stop(hammer *h, pthread_t *t)
{
    atomic_store(&h->stop, true);
    for (int i = 0; i < HAMMERS; i++)
        pthread_join(t[i], NULL);
}

static void t_kill_and_restart(void **state)
{
    (void)state;
    const int timeout = 500;
    start_server(NULL);
    krc_redis *r = open_pool("", 0, 4, timeout);
    hammer h;
    pthread_t t[HAMMERS];
    hammers_start(&h, t, r);
    rt_sleep_ms(300);
    assert_true(atomic_load(&h.ok) > 0);

    rt_server_kill(&server);
    rt_sleep_ms(100);
    for (int i = 0; i < 20; i++) {
        int64_t t0 = rt_now_ms();
        assert_int_equal(call(r, "PING", NULL, NULL), KR_EUNAVAILABLE);
        assert_true(rt_now_ms() - t0 < 2 * timeout);
    }
    assert_non_null(strstr(krc_err_msg(), "redis 127.0.0.1:"));
    rt_sleep_ms(400);
    assert_true(atomic_load(&h.unavailable) > 0);

    /* Same port, same pool: it comes back within one maximal backoff. */
    start_server(NULL);
    int64_t took = until_ok(r, KRC_REDIS_BACKOFF_MAX_MS + 1500);
    print_message("recovered %lld ms after the restart\n", (long long)took);
    assert_true(took >= 0);
    rt_sleep_ms(200);
    int ok = atomic_load(&h.ok);
    rt_sleep_ms(300);
    assert_true(atomic_load(&h.ok) > ok);

    hammers_stop(&h, t);
    print_message("hammers: ok %d, unavailable %d, other %d, slowest call %lld ms\n", atomic_load(&h.ok),
                  atomic_load(&h.unavailable), atomic_load(&h.other), atomic_load(&h.max_ms));
    assert_int_equal(atomic_load(&h.other), 0);
    assert_true(atomic_load(&h.max_ms) < 2 * timeout);
    krc_redis_close(r);
}

static void t_stopped_server(void **state)
{
    (void)state;
    const int timeout = 300;
    start_server(NULL);
    krc_redis *r = open_pool("", 0, 2, timeout);
    assert_int_equal(call(r, "PING", NULL, NULL), KR_OK);

    /* The idle connection passes the staleness check; its reply never
     * comes. */
    rt_server_signal(&server, SIGSTOP);
    int64_t t0 = rt_now_ms();
    assert_int_equal(call(r, "PING", NULL, NULL), KR_EUNAVAILABLE);
    int64_t first = rt_now_ms() - t0;
    print_message("first call on a stopped server: %lld ms: %s\n", (long long)first, krc_err_msg());
    assert_non_null(strstr(krc_err_msg(), "timed out"));
    assert_in_range(first, timeout - 10, timeout + 200);

    hammer h;
    pthread_t t[HAMMERS];
    hammers_start(&h, t, r);
    /* While it stays stopped, callers mostly fail at once instead of each
     * waiting out the timeout. */
    int calls = 0;
    int64_t slowest = 0;
    t0 = rt_now_ms();
    while (rt_now_ms() - t0 < 1500) {
        int64_t c0 = rt_now_ms();
        assert_int_equal(call(r, "PING", NULL, NULL), KR_EUNAVAILABLE);
        int64_t dt = rt_now_ms() - c0;
        slowest = dt > slowest ? dt : slowest;
        calls++;
    }
    print_message("%d calls in 1.5 s while stopped, slowest %lld ms\n", calls, (long long)slowest);
    assert_true(calls > 3 * 1500 / timeout);
    assert_true(slowest <= 2 * timeout + 200);

    rt_server_signal(&server, SIGCONT);
    int64_t took = until_ok(r, KRC_REDIS_BACKOFF_MAX_MS + 1500);
    print_message("recovered %lld ms after SIGCONT\n", (long long)took);
    assert_true(took >= 0);
    hammers_stop(&h, t);
    assert_int_equal(atomic_load(&h.other), 0);
    assert_true(atomic_load(&h.max_ms) <= 2 * timeout + 200);
    krc_redis_close(r);
}

static void expect_refusal(const char *userinfo, int db, const char *want)
{
    krc_redis *r = open_pool(userinfo, db, 1, 1000);
    char msg[256] = "";
    assert_int_equal(krc_redis_ready(r, msg, sizeof(msg)), KR_EUNAVAILABLE);
    if (strstr(msg, want) == NULL)
        fail_msg("\"%s\" does not mention \"%s\"", msg, want);
    assert_null(strstr(msg, "s3cret"));
    krc_redis_close(r);
}

static void t_password(void **state)
{
    (void)state;
    start_server("s3cret");
    char msg[256];
    krc_redis *r = open_pool(":s3cret@", 0, 1, 1000);
    assert_int_equal(krc_redis_ready(r, msg, sizeof(msg)), KR_OK);
    krc_redis_close(r);
    r = open_pool("default:s3cret@", 0, 1, 1000);
    assert_int_equal(krc_redis_ready(r, msg, sizeof(msg)), KR_OK);
    krc_redis_close(r);

    expect_refusal(":wrong@", 0, "WRONGPASS");
    expect_refusal("nobody:s3cret@", 0, "WRONGPASS");
    expect_refusal("", 0, "NOAUTH");
    expect_refusal(":s3cret@", 99, "SELECT");
}

static void t_database(void **state)
{
    (void)state;
    start_server(NULL);
    krc_redis *db5 = open_pool("", 5, 1, 1000);
    krc_redis *db0 = open_pool("", 0, 1, 1000);
    assert_int_equal(call(db5, "SET", "krtest:db", "5"), KR_OK);
    kr_redis_reply *rep;
    const char *exists[] = {"EXISTS", "krtest:db"};
    assert_int_equal(host.redis_command_argv((kr_redis *)db0, 2, exists, NULL, &rep), KR_OK);
    assert_int_equal(rep->integer, 0);
    krc_redis_reply_free(rep);
    assert_int_equal(host.redis_command_argv((kr_redis *)db5, 2, exists, NULL, &rep), KR_OK);
    assert_int_equal(rep->integer, 1);
    krc_redis_reply_free(rep);
    krc_redis_close(db0);
    krc_redis_close(db5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(t_no_sigpipe, setup, teardown),
        cmocka_unit_test_setup_teardown(t_kill_and_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(t_stopped_server, setup, teardown),
        cmocka_unit_test_setup_teardown(t_password, setup, teardown),
        cmocka_unit_test_setup_teardown(t_database, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
