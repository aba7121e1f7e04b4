/* auth.so's send limits against the fake host's Redis: sliding windows,
 * the cool-down, exact Retry-After, all-or-nothing takes, give-backs, and
 * Redis failures. Times are passed in, so no clock is involved. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth.h"
#include "kirana/fakehost.h"

#define T0 1800000000000LL

static long long zcard(kr_redis *r, const char *key)
{
    kr_redis_reply *rep = NULL;
    assert_int_equal(kr_redis_command(r, &rep, "ZCARD", key, (char *)NULL), 0);
    long long n = rep->integer;
    kr_redis_reply_free(rep);
    return n;
}

static int exists(kr_redis *r, const char *key)
{
    kr_redis_reply *rep = NULL;
    assert_int_equal(kr_redis_command(r, &rep, "EXISTS", key, (char *)NULL), 0);
    int n = (int)rep->integer;
    kr_redis_reply_free(rep);
    return n;
}

/* One take at now with a fresh member and its own cool-down key. */
static int take(kr_redis *r, const auth_window *w, size_t n, int64_t now, long *retry)
{
    static int seq;
    char member[32], cool[32];
    snprintf(member, sizeof(member), "m%d", ++seq);
    snprintf(cool, sizeof(cool), "cool%d", seq);
    return auth_rl_take(r, cool, member, 60, w, n, now, retry);
}

static void test_sliding_window(void **state)
{
    kr_redis *r = kr_fakehost_redis(*state);
    auth_window w = {"win", 3, 10};
    long retry;
    assert_int_equal(take(r, &w, 1, T0, &retry), 0);
    assert_int_equal(retry, 0);
    assert_int_equal(take(r, &w, 1, T0 + 2000, &retry), 0);
    assert_int_equal(take(r, &w, 1, T0 + 4500, &retry), 0);
    /* full: the entry at T0 ages out at T0 + 10 s */
    assert_int_equal(take(r, &w, 1, T0 + 6000, &retry), KR_ELIMIT);
    assert_int_equal(retry, 4);
    assert_int_equal(take(r, &w, 1, T0 + 9001, &retry), KR_ELIMIT);
    assert_int_equal(retry, 1); /* 999 ms: rounded up */
    /* refusals took nothing */
    assert_int_equal(zcard(r, "win"), 3);
    /* exactly a window later the first entry no longer counts */
    assert_int_equal(take(r, &w, 1, T0 + 10000, &retry), 0);
    assert_int_equal(take(r, &w, 1, T0 + 10001, &retry), KR_ELIMIT);
    assert_int_equal(retry, 2); /* the T0 + 2 s entry */
    /* sliding, not fixed: 3 within any 10 s span */
    assert_int_equal(take(r, &w, 1, T0 + 12000, &retry), 0);
    assert_int_equal(take(r, &w, 1, T0 + 14500, &retry), 0);
    assert_int_equal(take(r, &w, 1, T0 + 14600, &retry), KR_ELIMIT);
}

static void test_cooldown(void **state)
{
    kr_fakehost *fh = *state;
    kr_redis *r = kr_fakehost_redis(fh);
    auth_window w = {"w", 100, 3600};
    long retry;
    int64_t now = kr_fakehost_now_ms(fh);
    assert_int_equal(auth_rl_take(r, "cool", "a", 60, &w, 1, now, &retry), 0);
    kr_fakehost_advance(fh, 15500);
    assert_int_equal(auth_rl_take(r, "cool", "b", 60, &w, 1, now + 15500, &retry), KR_ELIMIT);
    assert_int_equal(retry, 45); /* 44.5 s left, rounded up */
    assert_int_equal(zcard(r, "w"), 1);
    kr_fakehost_advance(fh, 44500);
    assert_int_equal(auth_rl_take(r, "cool", "c", 60, &w, 1, now + 60000, &retry), 0);
    assert_int_equal(zcard(r, "w"), 2);
}

static void test_all_or_nothing(void **state)
{
    kr_redis *r = kr_fakehost_redis(*state);
    auth_window w[2] = {{"ip", 2, 3600}, {"phone", 5, 3600}};
    long retry;
    assert_int_equal(auth_rl_take(r, "c1", "a", 60, w, 2, T0, &retry), 0);
    assert_int_equal(auth_rl_take(r, "c2", "b", 60, w, 2, T0 + 1000, &retry), 0);
    assert_int_equal(auth_rl_take(r, "c3", "c", 60, w, 2, T0 + 2000, &retry), KR_ELIMIT);
    assert_int_equal(retry, 3598);
    /* the window that had room gave its entry back, and so did the
     * cool-down */
    assert_int_equal(zcard(r, "ip"), 2);
    assert_int_equal(zcard(r, "phone"), 2);
    assert_int_equal(exists(r, "c3"), 0);
    assert_int_equal(exists(r, "c2"), 1);

    /* a refused cool-down plus a full window: the later of the two */
    assert_int_equal(auth_rl_take(r, "c2", "d", 60, w, 2, T0 + 3000, &retry), KR_ELIMIT);
    assert_int_equal(retry, 3597);
    w[0].limit = 100;
    assert_int_equal(auth_rl_take(r, "c2", "e", 60, w, 2, T0 + 3000, &retry), KR_ELIMIT);
    assert_true(retry >= 58 && retry <= 60);
}

static void test_release(void **state)
{
    kr_redis *r = kr_fakehost_redis(*state);
    auth_window w[2] = {{"x", 1, 60}, {"y", 1, 60}};
    long retry;
    assert_int_equal(auth_rl_take(r, "cool", "a", 60, w, 2, T0, &retry), 0);
    assert_int_equal(auth_rl_take(r, "cool2", "b", 60, w, 2, T0, &retry), KR_ELIMIT);
    auth_rl_release(r, "cool", "a", w, 2);
    assert_int_equal(zcard(r, "x"), 0);
    assert_int_equal(exists(r, "cool"), 0);
    assert_int_equal(auth_rl_take(r, "cool", "c", 60, w, 2, T0, &retry), 0);
}

static void test_keys_expire(void **state)
{
    kr_fakehost *fh = *state;
    kr_redis *r = kr_fakehost_redis(fh);
    auth_window w = {"short", 5, 30};
    long retry;
    assert_int_equal(auth_rl_take(r, "cool", "a", 10, &w, 1, kr_fakehost_now_ms(fh), &retry), 0);
    kr_redis_reply *rep = NULL;
    assert_int_equal(kr_redis_command(r, &rep, "PTTL", "short", (char *)NULL), 0);
    assert_int_equal(rep->integer, 30000);
    kr_redis_reply_free(rep);
    kr_fakehost_advance(fh, 30001);
    assert_int_equal(exists(r, "short"), 0);
    assert_int_equal(exists(r, "cool"), 0);
}

static void test_redis_down(void **state)
{
    kr_fakehost *fh = *state;
    kr_redis *r = kr_fakehost_redis(fh);
    auth_window w = {"w", 1, 60};
    long retry;
    kr_fakehost_fail_redis(fh, KR_EUNAVAILABLE, 1);
    assert_int_equal(auth_rl_take(r, "cool", "a", 60, &w, 1, T0, &retry), KR_EUNAVAILABLE);
    assert_int_equal(auth_rl_take(r, "cool", "a", 60, &w, 1, T0, &retry), 0);
    /* a wrong-type key (someone else's data) is an error reply: 503 */
    kr_redis_reply *rep = NULL;
    assert_int_equal(kr_redis_command(r, &rep, "SET", "str", "1", (char *)NULL), 0);
    kr_redis_reply_free(rep);
    auth_window bad = {"str", 1, 60};
    assert_int_equal(auth_rl_take(r, "cool3", "c", 60, &bad, 1, T0, &retry), KR_EUNAVAILABLE);
}

static int setup(void **state)
{
    *state = kr_fakehost_new();
    return 0;
}

static int teardown(void **state)
{
    kr_fakehost_free(*state);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sliding_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cooldown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_or_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_expire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_down, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
