/* The queue against a real Redis (the `servers` fixture): concurrency
 * limits, drain (prompt when idle, waiting for running jobs), script
 * reloading after SCRIPT FLUSH, readiness, consumer registration rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "core/obs/metrics.h"
#include "core/queue/queue.h"
#include "core/redis/conn.h"
#include "core/util/err.h"
#include "kirana/host.h"

struct kr_plugin_ctx {
    kr_handle handle;
    krc_queue *q;
    const char *role;
};

static const char *ctx_name(const kr_plugin_ctx *ctx)
{
    (void)ctx;
    return "test";
}
static int ctx_has_role(const kr_plugin_ctx *ctx, const char *role)
{
    return strcmp(ctx->role, role) == 0;
}
static kr_queue *ctx_queue(const kr_plugin_ctx *ctx)
{
    return (kr_queue *)ctx->q;
}

static kr_host host = {
    .size = sizeof(kr_host),
    .errmsg = krc_err_msg,
    .ctx_name = ctx_name,
    .ctx_has_role = ctx_has_role,
    .ctx_queue = ctx_queue,
};

static char redis_url[512];
static unsigned seq;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int setup_all(void **state)
{
    (void)state;
    const char *url = getenv("KIRANA_TEST_REDIS_URL");
    const char *file = getenv("KIRANA_TEST_SERVERS_ENV");
    if (url != NULL) {
        snprintf(redis_url, sizeof(redis_url), "%s", url);
    } else if (file != NULL) {
        FILE *f = fopen(file, "r");
        char line[600];
        while (f != NULL && fgets(line, sizeof(line), f) != NULL)
            if (strncmp(line, "KIRANA_TEST_REDIS_URL=", 22) == 0)
                snprintf(redis_url, sizeof(redis_url), "%.*s", (int)strcspn(line + 22, "\n"), line + 22);
        if (f != NULL)
            fclose(f);
    }
    if (redis_url[0] == '\0') {
        fprintf(stderr, "no Redis: set KIRANA_TEST_SERVERS_ENV or KIRANA_TEST_REDIS_URL\n");
        return -1;
    }
    krc_queue_host_fill(&host);
    krc_metrics_init(&host);
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    seq = (unsigned)rand();
    return 0;
}

static int teardown_all(void **state)
{
    (void)state;
    krc_metrics_free();
    return 0;
}

typedef struct fixture {
    kr_plugin_ctx ctx;
    char queue[64];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    char err[256];
    f->ctx.handle.host = &host;
    f->ctx.role = "worker";
    f->ctx.q = krc_queue_open(redis_url, NULL, &host, err, sizeof(err));
    if (f->ctx.q == NULL) {
        fprintf(stderr, "%s\n", err);
        free(f);
        return -1;
    }
    krc_queue_options o;
    krc_queue_options_default(&o);
    o.lock_duration_ms = 2000;
    o.stalled_interval_ms = 1000;
    krc_queue_configure(f->ctx.q, &o, err, sizeof(err));
    snprintf(f->queue, sizeof(f->queue), "unit-%u-%u", (unsigned)getpid(), seq++);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    krc_queue_drain(f->ctx.q, 5000);
    krc_queue_close(f->ctx.q);
    free(f);
    return 0;
}

static void add(fixture *f, int n)
{
    for (int i = 0; i < n; i++) {
        json_t *data = json_pack("{s:i}", "i", i);
        char *id = NULL;
        int rc = host.queue_add((kr_queue *)f->ctx.q, f->queue, "t", data, NULL, &id);
        json_decref(data);
        assert_int_equal(rc, 0);
        assert_non_null(id);
        free(id);
    }
}

static krc_queue_counts counts(fixture *f)
{
    krc_queue_counts n;
    assert_int_equal(krc_queue_counts_get(f->ctx.q, f->queue, &n), 0);
    return n;
}

typedef struct probe {
    atomic_int running, max_running, done, saw_stopping;
    int sleep_ms;
} probe;

static int probe_fn(kr_job *job, void *udata)
{
    probe *p = udata;
    int now = atomic_fetch_add(&p->running, 1) + 1;
    int max = atomic_load(&p->max_running);
    while (now > max && !atomic_compare_exchange_weak(&p->max_running, &max, now))
        ;
    usleep((useconds_t)p->sleep_ms * 1000);
    if (host.job_stopping(job))
        atomic_store(&p->saw_stopping, 1);
    host.job_set_result(job, json_pack("{s:s}", "id", host.job_id(job)));
    atomic_fetch_sub(&p->running, 1);
    atomic_fetch_add(&p->done, 1);
    return 0;
}

static void wait_done(probe *p, int n, int timeout_ms)
{
    long long end = now_ms() + timeout_ms;
    while (atomic_load(&p->done) < n && now_ms() < end)
        usleep(10000);
    assert_int_equal(atomic_load(&p->done), n);
}

static void test_concurrency_is_a_limit(void **state)
{
    fixture *f = *state;
    probe p = {.sleep_ms = 150};
    assert_int_equal(host.queue_consume(&f->ctx, f->queue, 3, probe_fn, &p), 0);
    add(f, 9);
    assert_int_equal(krc_queue_start(f->ctx.q), 0);
    wait_done(&p, 9, 10000);
    assert_int_equal(atomic_load(&p.max_running), 3);
    krc_queue_drain(f->ctx.q, 5000);
    krc_queue_counts n = counts(f);
    assert_int_equal(n.completed, 9);
    assert_int_equal(n.active, 0);
    assert_int_equal(n.waiting, 0);
}

static void test_idle_drain_is_prompt(void **state)
{
    fixture *f = *state;
    probe p = {.sleep_ms = 0};
    assert_int_equal(host.queue_consume(&f->ctx, f->queue, 2, probe_fn, &p), 0);
    assert_int_equal(krc_queue_start(f->ctx.q), 0);
    usleep(300000); /* the fetch thread is now inside BZPOPMIN */
    long long t0 = now_ms();
    krc_queue_drain(f->ctx.q, 10000);
    assert_in_range(now_ms() - t0, 0, 1000);
}

static void test_drain_waits_for_running_jobs(void **state)
{
    fixture *f = *state;
    probe p = {.sleep_ms = 600};
    assert_int_equal(host.queue_consume(&f->ctx, f->queue, 2, probe_fn, &p), 0);
    add(f, 2);
    assert_int_equal(krc_queue_start(f->ctx.q), 0);
    long long end = now_ms() + 5000;
    while (atomic_load(&p.running) < 2 && now_ms() < end)
        usleep(5000);
    assert_int_equal(atomic_load(&p.running), 2);
    add(f, 1);
    krc_queue_drain(f->ctx.q, 10000);
    assert_int_equal(atomic_load(&p.done), 2);
    assert_int_equal(atomic_load(&p.saw_stopping), 1);
    krc_queue_counts n = counts(f);
    assert_int_equal(n.completed, 2);
    assert_int_equal(n.waiting, 1);
    assert_int_equal(n.active, 0);
}

static void test_scripts_reload_after_flush(void **state)
{
    fixture *f = *state;
    add(f, 1);
    krc_redis_url u;
    char err[256];
    assert_int_equal(krc_redis_url_parse(redis_url, &u, err, sizeof(err)), 0);
    redisContext *c = krc_redis_connect(&u, 2000, err, sizeof(err));
    assert_non_null(c);
    redisReply *r = redisCommand(c, "SCRIPT FLUSH");
    assert_non_null(r);
    freeReplyObject(r);
    redisFree(c);
    add(f, 1);
    assert_int_equal(counts(f).waiting, 2);
}

static void test_ready(void **state)
{
    fixture *f = *state;
    char msg[256];
    assert_int_equal(krc_queue_ready(f->ctx.q, msg, sizeof(msg)), 0);
    char err[256];
    krc_queue *down = krc_queue_open("redis://127.0.0.1:1/0", NULL, &host, err, sizeof(err));
    assert_non_null(down);
    assert_int_equal(krc_queue_ready(down, msg, sizeof(msg)), KR_EUNAVAILABLE);
    assert_non_null(strstr(msg, "127.0.0.1:1"));
    json_t *data = json_object();
    assert_int_equal(host.queue_add((kr_queue *)down, "x", "t", data, NULL, NULL), KR_EUNAVAILABLE);
    json_decref(data);
    krc_queue_close(down);
}

static void test_registration_rules(void **state)
{
    fixture *f = *state;
    probe p = {0};
    assert_int_equal(host.queue_consume(&f->ctx, "bad:name", 1, probe_fn, &p), KR_EINVAL);
    assert_int_equal(host.queue_consume(&f->ctx, f->queue, 0, probe_fn, &p), KR_EINVAL);
    assert_int_equal(host.queue_consume(&f->ctx, f->queue, 1, probe_fn, &p), 0);
    assert_int_equal(host.queue_consume(&f->ctx, f->queue, 1, probe_fn, &p), KR_EDUPLICATE);
    assert_int_equal(krc_queue_start(f->ctx.q), 0);
    assert_int_equal(host.queue_consume(&f->ctx, "later", 1, probe_fn, &p), KR_EINVAL);
    kr_plugin_ctx none = {.handle = {&host}, .q = NULL, .role = "worker"};
    assert_int_equal(host.queue_consume(&none, "x", 1, probe_fn, &p), KR_EUNAVAILABLE);
}

static void test_open_refuses(void **state)
{
    (void)state;
    char err[256];
    assert_null(krc_queue_open("http://x", NULL, &host, err, sizeof(err)));
    assert_null(krc_queue_open(redis_url, "bad prefix", &host, err, sizeof(err)));
    assert_non_null(strstr(err, "prefix"));
    krc_queue *q = krc_queue_open(redis_url, NULL, &host, err, sizeof(err));
    krc_queue_options o;
    krc_queue_options_default(&o);
    o.lock_duration_ms = 1;
    assert_int_equal(krc_queue_configure(q, &o, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "lock duration"));
    krc_queue_close(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_concurrency_is_a_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_drain_is_prompt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drain_waits_for_running_jobs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scripts_reload_after_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ready, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registration_rules, setup, teardown),
        cmocka_unit_test(test_open_refuses),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
