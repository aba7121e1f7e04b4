/* The kr_redis pool against the servers fixture's Redis: every reply type,
 * binary safety, pipelines, argument checks, 16 threads on 4 connections,
 * pool exhaustion and readiness. Called through a kr_host filled by
 * krc_redis_host_fill, as plugins call it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>

#include "core/redis/redis.h"
#include "core/redis/reply.h"
#include "core/util/err.h"
#include "redis_test.h"

static kr_host host;
static char url[256];
static char prefix[64]; /* keys of this run: the fixture is shared */

static int group_setup(void **state)
{
    (void)state;
    krc_redis_host_fill(&host);
    if (rt_fixture_env("KIRANA_TEST_REDIS_URL", url, sizeof(url)) < 0)
        return -1;
    snprintf(prefix, sizeof(prefix), "krtest:pool:%d:", (int)getpid());
    return 0;
}

static krc_redis *open_pool(const char *u, int size, int timeout_ms)
{
    char err[256];
    krc_redis *r = krc_redis_open(u, size, timeout_ms, &host, err, sizeof(err));
    if (r == NULL)
        fail_msg("krc_redis_open: %s", err);
    return r;
}

static const char *key(const char *name)
{
    static __thread char buf[8][128];
    static __thread int next;
    char *b = buf[next++ % 8];
    snprintf(b, sizeof(buf[0]), "%s%s", prefix, name);
    return b;
}

/* NULL-terminated NUL-terminated arguments, like kr_redis_command. */
static int cmd(krc_redis *r, kr_redis_reply **out, ...) __attribute__((sentinel));
static int cmd(krc_redis *r, kr_redis_reply **out, ...)
{
    const char *argv[16];
    int argc = 0;
    va_list ap;
    va_start(ap, out);
    for (const char *a; (a = va_arg(ap, const char *)) != NULL && argc < 16;)
        argv[argc++] = a;
    va_end(ap);
    return host.redis_command_argv((kr_redis *)r, argc, argv, NULL, out);
}

static void assert_reply_string(kr_redis_reply *rep, const char *want)
{
    assert_non_null(rep);
    assert_int_equal(rep->type, KR_REDIS_STRING);
    assert_string_equal(rep->str, want);
    assert_int_equal(rep->len, strlen(want));
}

static void t_reply_types(void **state)
{
    (void)state;
    krc_redis *r = open_pool(url, 2, 2000);
    kr_redis_reply *rep;

    assert_int_equal(cmd(r, &rep, "PING", NULL), KR_OK);
    assert_reply_string(rep, "PONG");
    krc_redis_reply_free(rep);

    assert_int_equal(cmd(r, &rep, "SET", key("s"), "value", NULL), KR_OK);
    assert_reply_string(rep, "OK");
    krc_redis_reply_free(rep);
    assert_int_equal(cmd(r, &rep, "GET", key("s"), NULL), KR_OK);
    assert_reply_string(rep, "value");
    krc_redis_reply_free(rep);

    assert_int_equal(cmd(r, &rep, "GET", key("missing"), NULL), KR_OK);
    assert_int_equal(rep->type, KR_REDIS_NIL);
    krc_redis_reply_free(rep);

    assert_int_equal(cmd(r, &rep, "INCRBY", key("n"), "-42", NULL), KR_OK);
    assert_int_equal(rep->type, KR_REDIS_INTEGER);
    assert_int_equal(rep->integer, -42);
    krc_redis_reply_free(rep);

    assert_int_equal(cmd(r, &rep, "LRANGE", key("missing"), "0", "-1", NULL), KR_OK);
    assert_int_equal(rep->type, KR_REDIS_ARRAY);
    assert_int_equal(rep->elements, 0);
    krc_redis_reply_free(rep);

    /* Nested arrays, with a nil (Lua false) and an empty array inside. */
    assert_int_equal(cmd(r, &rep, "EVAL", "return {1, {2, 'x', {}}, 'y', false}", "0", NULL), KR_OK);
    assert_int_equal(rep->type, KR_REDIS_ARRAY);
    assert_int_equal(rep->elements, 4);
    assert_int_equal(rep->element[0]->type, KR_REDIS_INTEGER);
    assert_int_equal(rep->element[0]->integer, 1);
    kr_redis_reply *inner = rep->element[1];
    assert_int_equal(inner->type, KR_REDIS_ARRAY);
    assert_int_equal(inner->elements, 3);
    assert_int_equal(inner->element[0]->integer, 2);
    assert_reply_string(inner->element[1], "x");
    assert_int_equal(inner->element[2]->type, KR_REDIS_ARRAY);
    assert_int_equal(inner->element[2]->elements, 0);
    assert_reply_string(rep->element[2], "y");
    assert_int_equal(rep->element[3]->type, KR_REDIS_NIL);
    krc_redis_reply_free(rep);

    /* Error replies are KR_OK with an error node; the connection stays
     * usable. */
    assert_int_equal(cmd(r, &rep, "INCR", key("s"), NULL), KR_OK);
    assert_int_equal(rep->type, KR_REDIS_ERROR);
    assert_non_null(strstr(rep->str, "not an integer"));
    krc_redis_reply_free(rep);
    assert_int_equal(cmd(r, &rep, "NOSUCHCOMMAND", "x", NULL), KR_OK);
    assert_int_equal(rep->type, KR_REDIS_ERROR);
    assert_non_null(strstr(rep->str, "unknown command"));
    krc_redis_reply_free(rep);

    assert_int_equal(cmd(r, &rep, "DEL", key("s"), key("n"), NULL), KR_OK);
    assert_int_equal(rep->integer, 2);
    krc_redis_reply_free(rep);
    krc_redis_close(r);
}

/* hiredis 0.14 refuses replies nested deeper than 7 levels: the call fails
 * and the connection, out of step, is replaced. */
static void t_too_deep(void **state)
{
    (void)state;
    krc_redis *r = open_pool(url, 1, 2000);
    kr_redis_reply *rep;
    assert_int_equal(cmd(r, &rep, "EVAL", "return {{{{{{{{{1}}}}}}}}}", "0", NULL), KR_EINTERNAL);
    assert_null(rep);
    assert_non_null(strstr(krc_err_msg(), "nested"));
    assert_int_equal(cmd(r, &rep, "EVAL", "return {{{{{{1}}}}}}", "0", NULL), KR_OK);
    assert_int_equal(rep->type, KR_REDIS_ARRAY);
    krc_redis_reply_free(rep);
    krc_redis_close(r);
}

static void t_binary_safe(void **state)
{
    (void)state;
    krc_redis *r = open_pool(url, 1, 2000);
    char k[128];
    size_t klen = (size_t)snprintf(k, sizeof(k), "%sbin", prefix);
    memcpy(k + klen, "\0key", 5);
    klen += 4;
    size_t vlen = 1 << 20;
    char *v = malloc(vlen);
    for (size_t i = 0; i < vlen; i++)
        v[i] = (char)(i * 7919 % 251); /* every byte value, NULs included */
    v[0] = '\0';
    const char *set[] = {"SET", k, v};
    const size_t setlen[] = {3, klen, vlen};
    kr_redis_reply *rep;
    assert_int_equal(host.redis_command_argv((kr_redis *)r, 3, set, setlen, &rep), KR_OK);
    assert_reply_string(rep, "OK");
    krc_redis_reply_free(rep);

    const char *get[] = {"GET", k};
    const size_t getlen[] = {3, klen};
    assert_int_equal(host.redis_command_argv((kr_redis *)r, 2, get, getlen, &rep), KR_OK);
    assert_int_equal(rep->type, KR_REDIS_STRING);
    assert_int_equal(rep->len, vlen);
    assert_memory_equal(rep->str, v, vlen);
    assert_int_equal(rep->str[vlen], '\0');
    krc_redis_reply_free(rep);

    /* The key with its NUL is not the key cut at the NUL. */
    assert_int_equal(cmd(r, &rep, "EXISTS", k, NULL), KR_OK);
    assert_int_equal(rep->integer, 0);
    krc_redis_reply_free(rep);
    const char *del[] = {"DEL", k};
    assert_int_equal(host.redis_command_argv((kr_redis *)r, 2, del, getlen, &rep), KR_OK);
    assert_int_equal(rep->integer, 1);
    krc_redis_reply_free(rep);
    free(v);
    krc_redis_close(r);
}

static void t_pipeline(void **state)
{
    (void)state;
    krc_redis *r = open_pool(url, 1, 2000);
    const char *a[] = {"SET", key("p"), "10"};
    const char *b[] = {"INCR", key("p")};
    const char *c[] = {"HSET", key("p"), "f", "v"}; /* WRONGTYPE */
    const char *d[] = {"MGET", key("p"), key("nothing")};
    const char *e[] = {"DEL", key("p")};
    const kr_redis_cmd cmds[] = {{3, a, NULL}, {2, b, NULL}, {4, c, NULL}, {3, d, NULL}, {2, e, NULL}};
    kr_redis_reply **rep = NULL;
    assert_int_equal(host.redis_pipeline((kr_redis *)r, 5, cmds, &rep), KR_OK);
    assert_reply_string(rep[0], "OK");
    assert_int_equal(rep[1]->integer, 11);
    assert_int_equal(rep[2]->type, KR_REDIS_ERROR);
    assert_non_null(strstr(rep[2]->str, "WRONGTYPE"));
    assert_int_equal(rep[3]->type, KR_REDIS_ARRAY);
    assert_int_equal(rep[3]->elements, 2);
    assert_reply_string(rep[3]->element[0], "11");
    assert_int_equal(rep[3]->element[1]->type, KR_REDIS_NIL);
    assert_int_equal(rep[4]->integer, 1);
    krc_redis_replies_free(rep, 5);

    rep = (kr_redis_reply **)&rep;
    assert_int_equal(host.redis_pipeline((kr_redis *)r, 0, NULL, &rep), KR_OK);
    assert_null(rep);

    /* One bad command refuses the whole pipeline before anything is sent. */
    const char *bad[] = {"GET", NULL};
    const kr_redis_cmd cmds2[] = {{3, a, NULL}, {2, bad, NULL}};
    assert_int_equal(host.redis_pipeline((kr_redis *)r, 2, cmds2, &rep), KR_EINVAL);
    assert_null(rep);
    kr_redis_reply *one;
    assert_int_equal(cmd(r, &one, "EXISTS", key("p"), NULL), KR_OK);
    assert_int_equal(one->integer, 0);
    krc_redis_reply_free(one);
    krc_redis_close(r);
}

static void t_bad_arguments(void **state)
{
    (void)state;
    krc_redis *r = open_pool(url, 1, 2000);
    kr_redis_reply *rep = (kr_redis_reply *)&rep;
    const char *argv[] = {"GET", NULL};
    assert_int_equal(host.redis_command_argv((kr_redis *)r, 0, argv, NULL, &rep), KR_EINVAL);
    assert_null(rep);
    assert_true(krc_err_msg()[0] != '\0');
    assert_int_equal(host.redis_command_argv((kr_redis *)r, 2, argv, NULL, &rep), KR_EINVAL);
    assert_non_null(strstr(krc_err_msg(), "NULL"));
    assert_int_equal(host.redis_command_argv((kr_redis *)r, 1, argv, NULL, NULL), KR_EINVAL);
    assert_int_equal(host.redis_command_argv(NULL, 1, argv, NULL, &rep), KR_EINVAL);
    kr_redis_reply **reps;
    assert_int_equal(host.redis_pipeline((kr_redis *)r, 1, NULL, &reps), KR_EINVAL);
    krc_redis_close(r);
}

#define THREADS 16
#define INCRS 1000
#define POOL 4

typedef struct incr_arg {
    krc_redis *r;
    int failures;
    long long ids[INCRS / 100]; /* CLIENT ID now and then: which connections ran */
} incr_arg;

static void *incr_thread(void *p)
{
    incr_arg *a = p;
    for (int i = 0; i < INCRS; i++) {
        kr_redis_reply *rep;
        if (cmd(a->r, &rep, "INCR", key("counter"), NULL) != KR_OK || rep->type != KR_REDIS_INTEGER)
            a->failures++;
        krc_redis_reply_free(rep);
        if (i % 100 == 0) {
            if (cmd(a->r, &rep, "CLIENT", "ID", NULL) == KR_OK && rep->type == KR_REDIS_INTEGER)
                a->ids[i / 100] = rep->integer;
            krc_redis_reply_free(rep);
        }
    }
    return NULL;
}

static void t_concurrent_incr(void **state)
{
    (void)state;
    krc_redis *r = open_pool(url, POOL, 5000);
    kr_redis_reply *rep;
    assert_int_equal(cmd(r, &rep, "DEL", key("counter"), NULL), KR_OK);
    krc_redis_reply_free(rep);
    pthread_t t[THREADS];
    incr_arg args[THREADS] = {0};
    for (int i = 0; i < THREADS; i++) {
        args[i].r = r;
        assert_int_equal(pthread_create(&t[i], NULL, incr_thread, &args[i]), 0);
    }
    long long seen[POOL + 1];
    int nseen = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(args[i].failures, 0);
        for (int j = 0; j < INCRS / 100; j++) {
            int k = 0;
            while (k < nseen && seen[k] != args[i].ids[j])
                k++;
            if (k == nseen) {
                assert_true(nseen < POOL); /* never more connections than the pool size */
                seen[nseen++] = args[i].ids[j];
            }
        }
    }
    assert_int_equal(cmd(r, &rep, "GET", key("counter"), NULL), KR_OK);
    assert_reply_string(rep, "16000");
    krc_redis_reply_free(rep);
    assert_int_equal(cmd(r, &rep, "DEL", key("counter"), NULL), KR_OK);
    krc_redis_reply_free(rep);
    krc_redis_close(r);
}

/* Holds a connection for about 1 s while no single reply takes longer than
 * 350 ms: four BLPOPs of 0.25 s run one after another on the server. */
static void *hold_thread(void *p)
{
    krc_redis *r = p;
    char k[128];
    snprintf(k, sizeof(k), "%shold:%lu", prefix, (unsigned long)pthread_self());
    const char *blpop[] = {"BLPOP", k, "0.25"};
    const kr_redis_cmd cmds[] = {{3, blpop, NULL}, {3, blpop, NULL}, {3, blpop, NULL}, {3, blpop, NULL}};
    kr_redis_reply **rep;
    intptr_t rc = host.redis_pipeline((kr_redis *)r, 4, cmds, &rep);
    if (rc == KR_OK) {
        for (int i = 0; i < 4; i++)
            if (rep[i]->type != KR_REDIS_NIL)
                rc = KR_EINTERNAL;
        krc_redis_replies_free(rep, 4);
    }
    return (void *)rc;
}

static void t_pool_exhausted(void **state)
{
    (void)state;
    const int timeout = 500;
    krc_redis *r = open_pool(url, 2, timeout);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hold_thread, r), 0);
    rt_sleep_ms(150);
    kr_redis_reply *rep = NULL;
    int64_t t0 = rt_now_ms();
    assert_int_equal(cmd(r, &rep, "PING", NULL), KR_EUNAVAILABLE);
    int64_t waited = rt_now_ms() - t0;
    assert_null(rep);
    assert_non_null(strstr(krc_err_msg(), "pool exhausted"));
    assert_in_range(waited, timeout - 20, timeout + 300);
    for (int i = 0; i < 2; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        assert_int_equal((intptr_t)rc, KR_OK);
    }
    /* A waiter gets a connection as soon as one comes back. */
    assert_int_equal(cmd(r, &rep, "PING", NULL), KR_OK);
    krc_redis_reply_free(rep);
    krc_redis_close(r);
}

static void t_ready(void **state)
{
    (void)state;
    krc_redis *r = open_pool(url, 1, 1000);
    char msg[256] = "untouched";
    assert_int_equal(krc_redis_ready(r, msg, sizeof(msg)), 0);
    krc_redis_close(r);
}

static void t_lazy_open_down(void **state)
{
    (void)state;
    char down[64];
    snprintf(down, sizeof(down), "redis://127.0.0.1:%d", rt_free_port());
    int64_t t0 = rt_now_ms();
    krc_redis *r = open_pool(down, 4, 1000);
    assert_true(rt_now_ms() - t0 < 50);
    char msg[256] = "";
    assert_int_equal(krc_redis_ready(r, msg, sizeof(msg)), KR_EUNAVAILABLE);
    assert_non_null(strstr(msg, "refused"));
    assert_non_null(strstr(krc_err_msg(), "refused"));
    /* While backing off, callers fail at once and say when the next try is
     * (a call that lands just after a wait makes the next attempt itself). */
    int backed_off = 0;
    for (int i = 0; i < 3; i++) {
        kr_redis_reply *rep;
        assert_int_equal(cmd(r, &rep, "PING", NULL), KR_EUNAVAILABLE);
        backed_off += strstr(krc_err_msg(), "next attempt in") != NULL;
    }
    assert_true(backed_off > 0);
    krc_redis_close(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_reply_types),    cmocka_unit_test(t_too_deep),      cmocka_unit_test(t_binary_safe),
        cmocka_unit_test(t_pipeline),       cmocka_unit_test(t_bad_arguments), cmocka_unit_test(t_concurrent_incr),
        cmocka_unit_test(t_pool_exhausted), cmocka_unit_test(t_ready),         cmocka_unit_test(t_lazy_open_down),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
