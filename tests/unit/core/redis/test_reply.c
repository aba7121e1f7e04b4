/* hiredis replies to owned kr_redis_reply trees, and the backoff schedule
 * (no server needed: replies come from hiredis's reader fed RESP bytes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/redis/backoff.h"
#include "core/redis/reply.h"

static kr_redis_reply *copy_of(const char *resp, size_t len)
{
    redisReader *rd = redisReaderCreate();
    void *raw = NULL;
    assert_int_equal(redisReaderFeed(rd, resp, len), REDIS_OK);
    assert_int_equal(redisReaderGetReply(rd, &raw), REDIS_OK);
    assert_non_null(raw);
    kr_redis_reply *out = NULL;
    assert_int_equal(krc_redis_reply_copy(raw, &out), KR_OK);
    freeReplyObject(raw);
    redisReaderFree(rd);
    return out;
}

#define COPY_OF(lit) copy_of(lit, sizeof(lit) - 1)

static void t_scalars(void **state)
{
    (void)state;
    kr_redis_reply *r = COPY_OF("+OK\r\n");
    assert_int_equal(r->type, KR_REDIS_STRING);
    assert_string_equal(r->str, "OK");
    assert_int_equal(r->len, 2);
    krc_redis_reply_free(r);

    r = COPY_OF(":-9223372036854775808\r\n");
    assert_int_equal(r->type, KR_REDIS_INTEGER);
    assert_true(r->integer == INT64_MIN);
    assert_null(r->str);
    krc_redis_reply_free(r);

    r = COPY_OF("$-1\r\n");
    assert_int_equal(r->type, KR_REDIS_NIL);
    krc_redis_reply_free(r);

    r = COPY_OF("*-1\r\n");
    assert_int_equal(r->type, KR_REDIS_NIL);
    krc_redis_reply_free(r);

    r = COPY_OF("-ERR wrong\r\n");
    assert_int_equal(r->type, KR_REDIS_ERROR);
    assert_string_equal(r->str, "ERR wrong");
    krc_redis_reply_free(r);
}

static void t_binary(void **state)
{
    (void)state;
    kr_redis_reply *r = COPY_OF("$5\r\na\0b\0c\r\n");
    assert_int_equal(r->type, KR_REDIS_STRING);
    assert_int_equal(r->len, 5);
    assert_memory_equal(r->str, "a\0b\0c", 6); /* NUL-terminated after len */
    krc_redis_reply_free(r);

    r = COPY_OF("$0\r\n\r\n");
    assert_int_equal(r->type, KR_REDIS_STRING);
    assert_int_equal(r->len, 0);
    assert_string_equal(r->str, "");
    krc_redis_reply_free(r);
}

static void t_nested(void **state)
{
    (void)state;
    kr_redis_reply *r = COPY_OF("*4\r\n:1\r\n*2\r\n$1\r\nx\r\n*0\r\n$-1\r\n-E e\r\n");
    assert_int_equal(r->type, KR_REDIS_ARRAY);
    assert_int_equal(r->elements, 4);
    assert_int_equal(r->element[0]->integer, 1);
    assert_int_equal(r->element[1]->type, KR_REDIS_ARRAY);
    assert_int_equal(r->element[1]->elements, 2);
    assert_string_equal(r->element[1]->element[0]->str, "x");
    assert_int_equal(r->element[1]->element[1]->type, KR_REDIS_ARRAY);
    assert_int_equal(r->element[1]->element[1]->elements, 0);
    assert_null(r->element[1]->element[1]->element);
    assert_int_equal(r->element[2]->type, KR_REDIS_NIL);
    assert_int_equal(r->element[3]->type, KR_REDIS_ERROR);
    /* Each node and string is its own block: freeing pieces separately is
     * what the SDK's kr_redis_reply_free does. */
    kr_redis_reply *inner = r->element[1];
    r->element[1] = NULL;
    krc_redis_reply_free(inner);
    krc_redis_reply_free(r);
    krc_redis_reply_free(NULL);
    krc_redis_replies_free(NULL, 3);
}

static void t_backoff(void **state)
{
    (void)state;
    krc_redis_backoff b = {0};
    assert_int_equal(krc_redis_backoff_wait_ms(&b, 1000), 0);
    krc_redis_backoff_failed(&b, 1000);
    assert_int_equal(b.delay_ms, KRC_REDIS_BACKOFF_MIN_MS);
    assert_int_equal(krc_redis_backoff_wait_ms(&b, 1000), KRC_REDIS_BACKOFF_MIN_MS);
    /* Callers failing together inside one wait count once. */
    krc_redis_backoff_failed(&b, 1010);
    assert_int_equal(b.delay_ms, KRC_REDIS_BACKOFF_MIN_MS);
    int64_t now = 1000;
    for (int i = 0; i < 10; i++) {
        now += b.delay_ms;
        krc_redis_backoff_failed(&b, now);
    }
    assert_int_equal(b.delay_ms, KRC_REDIS_BACKOFF_MAX_MS);
    assert_int_equal(krc_redis_backoff_wait_ms(&b, now + 500), KRC_REDIS_BACKOFF_MAX_MS - 500);
    krc_redis_backoff_reset(&b);
    assert_int_equal(krc_redis_backoff_wait_ms(&b, now), 0);
    assert_int_equal(b.delay_ms, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_scalars),
        cmocka_unit_test(t_binary),
        cmocka_unit_test(t_nested),
        cmocka_unit_test(t_backoff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
