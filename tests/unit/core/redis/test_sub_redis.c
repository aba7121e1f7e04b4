/* The pub/sub subscriber against a private redis-server: delivery of
 * binary messages, channels added while connected, a start while Redis is
 * down, resubscription after kill -9 and restart, and replacement of a
 * connection whose server stopped answering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>

#include "core/redis/redis.h"
#include "core/redis/reply.h"
#include "core/redis/sub.h"
#include "core/util/err.h"
#include "redis_test.h"

static kr_host host;
static rt_server server;
static krc_redis *pool;

/* What the callback saw, for the test thread to wait on. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int received;
static char last_channel[64];
static char last_msg[64];
static size_t last_len;
static void *last_udata;

static void on_message(void *udata, const char *channel, const char *msg, size_t len)
{
    pthread_mutex_lock(&mu);
    last_udata = udata;
    snprintf(last_channel, sizeof(last_channel), "%s", channel);
    memcpy(last_msg, msg, len < sizeof(last_msg) ? len : sizeof(last_msg));
    last_len = len;
    received++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static int setup(void **state)
{
    (void)state;
    krc_redis_host_fill(&host);
    memset(&server, 0, sizeof(server));
    server.port = rt_free_port();
    received = 0;
    char url[64], err[256];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", server.port);
    pool = krc_redis_open(url, 1, 1000, &host, err, sizeof(err));
    return pool != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    krc_redis_close(pool);
    rt_server_remove(&server);
    return 0;
}

static krc_redis_sub *start_sub(void)
{
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", server.port);
    krc_redis_sub *sub = krc_redis_subscribe_start(url, 500, on_message, &received);
    if (sub == NULL)
        fail_msg("krc_redis_subscribe_start: %s", krc_err_msg());
    return sub;
}

static long long integer_of(int argc, const char **argv, int elem)
{
    kr_redis_reply *rep;
    long long v = -1;
    if (host.redis_command_argv((kr_redis *)pool, argc, argv, NULL, &rep) == KR_OK) {
        kr_redis_reply *n = elem < 0 ? rep : rep->type == KR_REDIS_ARRAY ? rep->element[elem] : NULL;
        if (n != NULL && n->type == KR_REDIS_INTEGER)
            v = n->integer;
    }
    krc_redis_reply_free(rep);
    return v;
}

/* Waits (up to limit_ms) until Redis counts one subscriber on channel. */
static void wait_subscribed(const char *channel, int limit_ms)
{
    const char *argv[] = {"PUBSUB", "NUMSUB", channel};
    int64_t t0 = rt_now_ms();
    while (integer_of(3, argv, 1) != 1) {
        if (rt_now_ms() - t0 > limit_ms)
            fail_msg("no subscriber on %s after %d ms", channel, limit_ms);
        rt_sleep_ms(10);
    }
}

/* PUBLISHes msg (len bytes) and waits for the callback to see it. */
static void publish_and_receive(const char *channel, const char *msg, size_t len)
{
    pthread_mutex_lock(&mu);
    int before = received;
    pthread_mutex_unlock(&mu);
    const char *argv[] = {"PUBLISH", channel, msg};
    const size_t argvlen[] = {7, strlen(channel), len};
    kr_redis_reply *rep;
    assert_int_equal(host.redis_command_argv((kr_redis *)pool, 3, argv, argvlen, &rep), KR_OK);
    assert_int_equal(rep->integer, 1);
    krc_redis_reply_free(rep);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 2;
    pthread_mutex_lock(&mu);
    while (received == before && pthread_cond_timedwait(&cv, &mu, &deadline) == 0)
        ;
    int got = received;
    pthread_mutex_unlock(&mu);
    assert_int_equal(got, before + 1);
    assert_ptr_equal(last_udata, &received);
    assert_string_equal(last_channel, channel);
    assert_int_equal(last_len, len);
    assert_memory_equal(last_msg, msg, len);
}

static void t_messages_and_restart(void **state)
{
    (void)state;
    assert_int_equal(rt_server_start(&server), 0);
    krc_redis_sub *sub = start_sub();
    assert_int_equal(krc_redis_sub_add(sub, "orders"), KR_OK);
    assert_int_equal(krc_redis_sub_add(sub, "orders"), KR_OK); /* no-op */
    wait_subscribed("orders", 2000);
    publish_and_receive("orders", "{\"id\":1}\0tail", 13);

    assert_int_equal(krc_redis_sub_add(sub, "stock"), KR_OK);
    wait_subscribed("stock", 2000);
    publish_and_receive("stock", "s", 1);

    rt_server_kill(&server);
    rt_sleep_ms(300);
    assert_int_equal(rt_server_start(&server), 0);
    wait_subscribed("orders", 4000);
    wait_subscribed("stock", 1000);
    publish_and_receive("orders", "after restart", 13);
    publish_and_receive("stock", "", 0);

    int64_t t0 = rt_now_ms();
    krc_redis_sub_stop(sub);
    assert_true(rt_now_ms() - t0 < 500);
    const char *argv[] = {"PUBSUB", "NUMSUB", "orders"};
    int64_t t1 = rt_now_ms();
    while (integer_of(3, argv, 1) != 0 && rt_now_ms() - t1 < 1000)
        rt_sleep_ms(10);
    assert_int_equal(integer_of(3, argv, 1), 0);
}

static void t_start_while_down(void **state)
{
    (void)state;
    krc_redis_sub *sub = start_sub();
    assert_int_equal(krc_redis_sub_add(sub, "late"), KR_OK);
    rt_sleep_ms(300);
    assert_int_equal(rt_server_start(&server), 0);
    wait_subscribed("late", 4000);
    publish_and_receive("late", "hello", 5);
    krc_redis_sub_stop(sub);
}

/* The subscriber's connection id, or -1 while it has none. */
static long long subscriber_id(void)
{
    const char *argv[] = {"CLIENT", "LIST", "TYPE", "pubsub"};
    kr_redis_reply *rep;
    long long id = -1;
    if (host.redis_command_argv((kr_redis *)pool, 4, argv, NULL, &rep) == KR_OK && rep->type == KR_REDIS_STRING &&
        strncmp(rep->str, "id=", 3) == 0)
        id = atoll(rep->str + 3);
    krc_redis_reply_free(rep);
    return id;
}

static void t_unanswered_ping(void **state)
{
    (void)state;
    assert_int_equal(rt_server_start(&server), 0);
    krc_redis_sub *sub = start_sub();
    assert_int_equal(krc_redis_sub_add(sub, "quiet"), KR_OK);
    wait_subscribed("quiet", 2000);
    long long before = subscriber_id();
    assert_true(before > 0);

    /* Stopped past the ping interval (5 s) plus the timeout: the PING goes
     * unanswered and the subscriber replaces its connection. */
    rt_server_signal(&server, SIGSTOP);
    rt_sleep_ms(6000);
    rt_server_signal(&server, SIGCONT);
    int64_t t0 = rt_now_ms();
    long long after;
    while ((after = subscriber_id()) == before || after < 0) {
        if (rt_now_ms() - t0 > 4000)
            fail_msg("subscriber still on connection %lld", before);
        rt_sleep_ms(20);
    }
    wait_subscribed("quiet", 2000);
    publish_and_receive("quiet", "back", 4);
    krc_redis_sub_stop(sub);
}

static void t_bad_arguments(void **state)
{
    (void)state;
    assert_null(krc_redis_subscribe_start("http://x", 500, on_message, NULL));
    assert_non_null(strstr(krc_err_msg(), "redis://"));
    assert_null(krc_redis_subscribe_start("redis://x", 0, on_message, NULL));
    assert_null(krc_redis_subscribe_start("redis://x", 500, NULL, NULL));
    krc_redis_sub *sub = start_sub();
    assert_int_equal(krc_redis_sub_add(sub, ""), KR_EINVAL);
    assert_int_equal(krc_redis_sub_add(sub, NULL), KR_EINVAL);
    assert_int_equal(krc_redis_sub_add(NULL, "x"), KR_EINVAL);
    krc_redis_sub_stop(sub);
    krc_redis_sub_stop(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(t_messages_and_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(t_start_while_down, setup, teardown),
        cmocka_unit_test_setup_teardown(t_unanswered_ping, setup, teardown),
        cmocka_unit_test_setup_teardown(t_bad_arguments, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
