/* The fake host's Redis subset (redis.c; the file is not named test_redis so
 * that ctest does not start the real servers for it): replies as Redis gives
 * them, TTLs on the fake clock, transactions in pipelines, and the commands
 * it refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kirana/fakehost.h"

#define CMD(r, ...) cmd((r), __VA_ARGS__, NULL)

static kr_redis_reply *last;

/* Runs one command; the reply stays in `last` until the next call. */
__attribute__((sentinel)) static kr_redis_reply *cmd(kr_redis *r, const char *arg0, ...)
{
    const char *argv[16];
    int argc = 0;
    va_list ap;
    va_start(ap, arg0);
    for (const char *a = arg0; a != NULL; a = va_arg(ap, const char *))
        argv[argc++] = a;
    va_end(ap);
    kr_redis_reply_free(last);
    last = NULL;
    assert_int_equal(kr_redis_command_argv(r, argc, argv, NULL, &last), 0);
    return last;
}

static void is_int(const kr_redis_reply *rp, long long v)
{
    assert_int_equal(rp->type, KR_REDIS_INTEGER);
    assert_int_equal(rp->integer, v);
}

static void is_str(const kr_redis_reply *rp, const char *s)
{
    assert_int_equal(rp->type, KR_REDIS_STRING);
    assert_string_equal(rp->str, s);
    assert_int_equal(rp->len, strlen(s));
}

static void is_err(const kr_redis_reply *rp, const char *prefix)
{
    assert_int_equal(rp->type, KR_REDIS_ERROR);
    if (strncmp(rp->str, prefix, strlen(prefix)) != 0)
        fail_msg("error reply '%s' does not start with '%s'", rp->str, prefix);
}

static int setup(void **state)
{
    *state = kr_fakehost_new();
    return 0;
}

static int teardown(void **state)
{
    kr_redis_reply_free(last);
    last = NULL;
    kr_fakehost_free(*state);
    return 0;
}

static void test_strings(void **state)
{
    kr_redis *r = kr_fakehost_redis(*state);
    is_str(CMD(r, "PING"), "PONG");
    is_str(CMD(r, "ping", "hi"), "hi");
    assert_int_equal(CMD(r, "GET", "k")->type, KR_REDIS_NIL);
    is_str(CMD(r, "SET", "k", "v"), "OK");
    is_str(CMD(r, "GET", "k"), "v");
    assert_int_equal(CMD(r, "SET", "k", "w", "NX")->type, KR_REDIS_NIL);
    assert_int_equal(CMD(r, "SET", "other", "w", "XX")->type, KR_REDIS_NIL);
    is_str(CMD(r, "SET", "k", "w", "XX"), "OK");
    is_str(CMD(r, "GET", "k"), "w");
    is_err(CMD(r, "SET", "k", "v", "EX", "0"), "ERR invalid expire time");
    is_err(CMD(r, "SET", "k", "v", "NX", "XX"), "ERR syntax error");
    is_err(CMD(r, "SET", "k", "v", "EX", "ten"), "ERR value is not an integer");
    is_int(CMD(r, "EXISTS", "k", "other", "k"), 2);
    is_int(CMD(r, "DEL", "k", "other"), 1);
    is_int(CMD(r, "INCR", "c"), 1);
    is_int(CMD(r, "INCRBY", "c", "41"), 42);
    is_int(CMD(r, "DECR", "c"), 41);
    is_int(CMD(r, "DECRBY", "c", "40"), 1);
    is_str(CMD(r, "SET", "s", "abc"), "OK");
    is_err(CMD(r, "INCR", "s"), "ERR value is not an integer");
    is_str(CMD(r, "SET", "max", "9223372036854775807"), "OK");
    is_err(CMD(r, "INCR", "max"), "ERR increment or decrement would overflow");
    /* binary-safe values */
    const char *argv[] = {"SET", "bin", "a\0b"};
    const size_t lens[] = {3, 3, 3};
    kr_redis_reply *rp = NULL;
    assert_int_equal(kr_redis_command_argv(r, 3, argv, lens, &rp), 0);
    kr_redis_reply_free(rp);
    rp = CMD(r, "GET", "bin");
    assert_int_equal(rp->len, 3);
    assert_memory_equal(rp->str, "a\0b", 3);
}

static void test_expiry_on_fake_clock(void **state)
{
    kr_fakehost *fh = *state;
    kr_redis *r = kr_fakehost_redis(fh);
    is_str(CMD(r, "SET", "otp", "123", "EX", "300"), "OK");
    is_int(CMD(r, "TTL", "otp"), 300);
    is_int(CMD(r, "PTTL", "otp"), 300000);
    kr_fakehost_advance(fh, 299999);
    is_str(CMD(r, "GET", "otp"), "123");
    is_int(CMD(r, "PTTL", "otp"), 1);
    kr_fakehost_advance(fh, 1);
    assert_int_equal(CMD(r, "GET", "otp")->type, KR_REDIS_NIL);
    is_int(CMD(r, "TTL", "otp"), -2);
    is_str(CMD(r, "SET", "k", "v", "PX", "1500"), "OK");
    is_int(CMD(r, "TTL", "k"), 2);
    is_int(CMD(r, "EXPIRE", "k", "10"), 1);
    is_int(CMD(r, "TTL", "k"), 10);
    is_str(CMD(r, "SET", "k", "v2", "KEEPTTL"), "OK");
    is_int(CMD(r, "TTL", "k"), 10);
    is_str(CMD(r, "SET", "k", "v3"), "OK");
    is_int(CMD(r, "TTL", "k"), -1);
    is_int(CMD(r, "PEXPIRE", "k", "5"), 1);
    is_int(CMD(r, "EXPIRE", "missing", "5"), 0);
    kr_fakehost_advance(fh, 5);
    is_int(CMD(r, "EXISTS", "k"), 0);
    /* INCR keeps the TTL (a fixed-window rate limit) */
    is_int(CMD(r, "INCR", "rl"), 1);
    is_int(CMD(r, "EXPIRE", "rl", "60"), 1);
    is_int(CMD(r, "INCR", "rl"), 2);
    is_int(CMD(r, "TTL", "rl"), 60);
    is_int(CMD(r, "EXPIRE", "rl", "0"), 1);
    is_int(CMD(r, "EXISTS", "rl"), 0);
}

static void test_hashes(void **state)
{
    kr_redis *r = kr_fakehost_redis(*state);
    is_int(CMD(r, "HSET", "cart:u1", "p1", "2", "p2", "1"), 2);
    is_int(CMD(r, "HSET", "cart:u1", "p1", "3"), 0);
    is_str(CMD(r, "HGET", "cart:u1", "p1"), "3");
    assert_int_equal(CMD(r, "HGET", "cart:u1", "nope")->type, KR_REDIS_NIL);
    kr_redis_reply *rp = CMD(r, "HGETALL", "cart:u1");
    assert_int_equal(rp->type, KR_REDIS_ARRAY);
    assert_int_equal(rp->elements, 4);
    is_str(rp->element[0], "p1");
    is_str(rp->element[1], "3");
    is_str(rp->element[2], "p2");
    rp = CMD(r, "HMGET", "cart:u1", "p2", "zz");
    assert_int_equal(rp->elements, 2);
    is_str(rp->element[0], "1");
    assert_int_equal(rp->element[1]->type, KR_REDIS_NIL);
    is_int(CMD(r, "HINCRBY", "cart:u1", "p2", "4"), 5);
    is_int(CMD(r, "HINCRBY", "cart:u1", "p9", "-1"), -1);
    is_int(CMD(r, "HLEN", "cart:u1"), 3);
    is_int(CMD(r, "HEXISTS", "cart:u1", "p9"), 1);
    is_int(CMD(r, "HDEL", "cart:u1", "p9", "zz"), 1);
    is_err(CMD(r, "HSET", "cart:u1", "odd"), "ERR wrong number of arguments");
    is_int(CMD(r, "HDEL", "cart:u1", "p1", "p2"), 2);
    is_int(CMD(r, "EXISTS", "cart:u1"), 0); /* emptied keys disappear */
    assert_int_equal(CMD(r, "HGETALL", "cart:u1")->elements, 0);
    is_str(CMD(r, "SET", "str", "x"), "OK");
    is_err(CMD(r, "HGET", "str", "f"), "WRONGTYPE");
    is_err(CMD(r, "HSET", "str", "f", "v"), "WRONGTYPE");
}

static void test_sets_zsets_lists(void **state)
{
    kr_redis *r = kr_fakehost_redis(*state);
    is_int(CMD(r, "SADD", "s", "a", "b", "a"), 2);
    is_int(CMD(r, "SISMEMBER", "s", "a"), 1);
    is_int(CMD(r, "SISMEMBER", "s", "z"), 0);
    assert_int_equal(CMD(r, "SMEMBERS", "s")->elements, 2);
    is_int(CMD(r, "SREM", "s", "a", "z"), 1);
    is_int(CMD(r, "SCARD", "s"), 1);

    is_int(CMD(r, "ZADD", "z", "3", "c", "1", "a", "2", "b"), 3);
    is_int(CMD(r, "ZADD", "z", "0.5", "c"), 0);
    is_int(CMD(r, "ZADD", "z", "CH", "5", "c"), 1);
    is_int(CMD(r, "ZADD", "z", "NX", "9", "a"), 0);
    is_err(CMD(r, "ZADD", "z", "x", "a"), "ERR value is not a valid float");
    kr_redis_reply *rp = CMD(r, "ZRANGE", "z", "0", "-1", "WITHSCORES");
    assert_int_equal(rp->elements, 6);
    is_str(rp->element[0], "a");
    is_str(rp->element[1], "1");
    is_str(rp->element[4], "c");
    is_str(rp->element[5], "5");
    rp = CMD(r, "ZRANGE", "z", "-2", "-2");
    assert_int_equal(rp->elements, 1);
    is_str(rp->element[0], "b");
    is_str(CMD(r, "ZSCORE", "z", "b"), "2");
    is_int(CMD(r, "ZCARD", "z"), 3);
    is_int(CMD(r, "ZREMRANGEBYSCORE", "z", "-inf", "(2"), 1);
    is_int(CMD(r, "ZREM", "z", "b", "nope"), 1);
    is_int(CMD(r, "ZCARD", "z"), 1);

    is_int(CMD(r, "RPUSH", "l", "b", "c"), 2);
    is_int(CMD(r, "LPUSH", "l", "a0", "a"), 4);
    rp = CMD(r, "LRANGE", "l", "0", "-1");
    assert_int_equal(rp->elements, 4);
    is_str(rp->element[0], "a");
    is_str(rp->element[1], "a0");
    is_str(rp->element[3], "c");
    assert_int_equal(CMD(r, "LRANGE", "l", "5", "9")->elements, 0);
    is_int(CMD(r, "LLEN", "l"), 4);
}

static void test_refused_commands(void **state)
{
    kr_fakehost *fh = *state;
    kr_redis *r = kr_fakehost_redis(fh);
    is_err(CMD(r, "FLUSHALL"), "ERR unknown command");
    is_err(CMD(r, "EVAL", "return 1", "0"), "ERR EVAL is not supported");
    is_err(CMD(r, "EVALSHA", "abc", "0"), "ERR EVALSHA is not supported");
    is_err(CMD(r, "GET"), "ERR wrong number of arguments for 'GET'");
    is_err(CMD(r, "MULTI"), "ERR MULTI is only supported inside kr_redis_pipeline");
    kr_redis_reply *rp = NULL;
    assert_int_equal(kr_redis_command_argv(r, 0, NULL, NULL, &rp), KR_EINVAL);
    is_int(CMD(r, "PUBLISH", "order:o1", "{\"status\":\"placed\"}"), 0);
    is_int(CMD(r, "PUBLISH", "order:o2", "x"), 0);
    is_int(CMD(r, "PUBLISH", "order:o1", "{\"status\":\"confirmed\"}"), 0);
    json_t *msgs = kr_fakehost_published(fh, "order:o1");
    assert_int_equal(json_array_size(msgs), 2);
    assert_string_equal(json_string_value(json_array_get(msgs, 1)), "{\"status\":\"confirmed\"}");
    json_decref(msgs);
}

static void test_pipeline_and_multi(void **state)
{
    kr_redis *r = kr_fakehost_redis(*state);
    const char *multi[] = {"MULTI"}, *incr[] = {"INCR", "n"}, *exp[] = {"EXPIRE", "n", "60"}, *exec[] = {"EXEC"},
               *get[] = {"GET", "n"}, *bad[] = {"NOPE"}, *discard[] = {"DISCARD"};
    kr_redis_cmd cmds[] = {{1, multi, NULL}, {2, incr, NULL}, {3, exp, NULL}, {1, exec, NULL}, {2, get, NULL}};
    kr_redis_reply **rep = NULL;
    assert_int_equal(kr_redis_pipeline(r, 5, cmds, &rep), 0);
    is_str(rep[0], "OK");
    is_str(rep[1], "QUEUED");
    is_str(rep[2], "QUEUED");
    assert_int_equal(rep[3]->type, KR_REDIS_ARRAY);
    assert_int_equal(rep[3]->elements, 2);
    is_int(rep[3]->element[0], 1);
    is_int(rep[3]->element[1], 1);
    is_str(rep[4], "1");
    kr_redis_replies_free(rep, 5);
    /* a bad command while queueing aborts the transaction */
    kr_redis_cmd aborted[] = {{1, multi, NULL}, {2, incr, NULL}, {1, bad, NULL}, {1, exec, NULL}, {2, get, NULL}};
    assert_int_equal(kr_redis_pipeline(r, 5, aborted, &rep), 0);
    is_err(rep[2], "ERR unknown command");
    is_err(rep[3], "EXECABORT");
    is_str(rep[4], "1");
    kr_redis_replies_free(rep, 5);
    kr_redis_cmd dropped[] = {{1, multi, NULL}, {2, incr, NULL}, {1, discard, NULL}, {1, exec, NULL}};
    assert_int_equal(kr_redis_pipeline(r, 4, dropped, &rep), 0);
    is_str(rep[2], "OK");
    is_err(rep[3], "ERR EXEC without MULTI");
    kr_redis_replies_free(rep, 4);
    is_str(CMD(r, "GET", "n"), "1");
}

static void test_injected_failures(void **state)
{
    kr_fakehost *fh = *state;
    kr_redis *r = kr_fakehost_redis(fh);
    kr_fakehost_fail_redis(fh, KR_EUNAVAILABLE, 2);
    kr_redis_reply *rp = NULL;
    assert_int_equal(kr_redis_command(r, &rp, "PING", NULL), KR_EUNAVAILABLE);
    assert_null(rp);
    assert_non_null(strstr(kr_errmsg(r), "injected"));
    const char *ping[] = {"PING"};
    kr_redis_cmd cmds[] = {{1, ping, NULL}};
    kr_redis_reply **rep = NULL;
    assert_int_equal(kr_redis_pipeline(r, 1, cmds, &rep), KR_EUNAVAILABLE);
    assert_null(rep);
    is_str(CMD(r, "PING"), "PONG");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_on_fake_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hashes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sets_zsets_lists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_and_multi, setup, teardown),
        cmocka_unit_test_setup_teardown(test_injected_failures, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
