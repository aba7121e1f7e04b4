/* auth.so's one-time codes against the fake host's Redis: generation,
 * single use, attempts counted before the compare, the kill on the last
 * wrong try, expiry, keyed hashes, and Redis failures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "auth.h"
#include "kirana/fakehost.h"

#define PHONE "+919876543210"

typedef struct fx {
    kr_fakehost *fh;
    auth_state st;
} fx;

static int64_t fake_clock(void *udata)
{
    return kr_fakehost_now_ms(udata);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    f->fh = kr_fakehost_new();
    f->st.redis = kr_fakehost_redis(f->fh);
    f->st.prefix = "t:";
    f->st.clock = fake_clock;
    f->st.clock_udata = f->fh;
    f->st.otp = (auth_otp_cfg){.length = 6, .ttl = 300, .max_attempts = 5};
    randombytes_buf(f->st.otp_key, sizeof(f->st.otp_key));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    kr_fakehost_free(f->fh);
    free(f);
    return 0;
}

static long long pttl(fx *f)
{
    kr_redis_reply *rep = NULL;
    assert_int_equal(kr_redis_command(f->st.redis, &rep, "PTTL", "t:otp:" PHONE, (char *)NULL), 0);
    long long v = rep->integer;
    kr_redis_reply_free(rep);
    return v;
}

static void test_generate(void **state)
{
    (void)state;
    auth_otp_cfg cfg = {.length = 6};
    int seen_leading_zero = 0;
    for (int i = 0; i < 2000; i++) {
        char code[AUTH_CODE_MAX + 1];
        auth_otp_generate(&cfg, code);
        assert_int_equal(strlen(code), 6);
        assert_int_equal(strspn(code, "0123456789"), 6);
        seen_leading_zero |= code[0] == '0';
    }
    /* zero-padded, not 100000..999999 (P(miss) = 0.9^2000) */
    assert_true(seen_leading_zero);
    char code[AUTH_CODE_MAX + 1];
    cfg.length = 4;
    auth_otp_generate(&cfg, code);
    assert_int_equal(strlen(code), 4);
    cfg.length = 9;
    auth_otp_generate(&cfg, code);
    assert_int_equal(strlen(code), 9);
}

static void test_right_code_once(void **state)
{
    fx *f = *state;
    assert_int_equal(auth_otp_store(&f->st, PHONE, "123456"), 0);
    assert_int_equal(pttl(f), 300000);
    assert_int_equal(auth_otp_check(&f->st, PHONE, "123456"), 0);
    assert_int_equal(auth_otp_check(&f->st, PHONE, "123456"), KR_EAUTH);
}

static void test_attempts(void **state)
{
    fx *f = *state;
    assert_int_equal(auth_otp_store(&f->st, PHONE, "123456"), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(auth_otp_check(&f->st, PHONE, "654321"), KR_EAUTH);
    /* the fifth try may still be right */
    assert_int_equal(auth_otp_check(&f->st, PHONE, "123456"), 0);

    assert_int_equal(auth_otp_store(&f->st, PHONE, "123456"), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(auth_otp_check(&f->st, PHONE, "000000"), KR_EAUTH);
    /* the fifth wrong try killed it */
    assert_int_equal(auth_otp_check(&f->st, PHONE, "123456"), KR_EAUTH);

    /* a tries count past the limit (racing guesses) never compares */
    assert_int_equal(auth_otp_store(&f->st, PHONE, "123456"), 0);
    kr_redis_reply *rep = NULL;
    assert_int_equal(kr_redis_command(f->st.redis, &rep, "HSET", "t:otp:" PHONE, "n", "5", (char *)NULL), 0);
    kr_redis_reply_free(rep);
    assert_int_equal(auth_otp_check(&f->st, PHONE, "123456"), KR_EAUTH);
    assert_int_equal(pttl(f), -2); /* deleted */
}

static void test_absent_code_leaves_no_permanent_key(void **state)
{
    fx *f = *state;
    assert_int_equal(auth_otp_check(&f->st, PHONE, "123456"), KR_EAUTH);
    /* the tries counter HINCRBY created expires like a code would */
    assert_int_equal(pttl(f), 300000);
    /* and a code sent afterwards starts from zero tries */
    assert_int_equal(auth_otp_store(&f->st, PHONE, "123456"), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(auth_otp_check(&f->st, PHONE, "000000"), KR_EAUTH);
    assert_int_equal(auth_otp_check(&f->st, PHONE, "123456"), 0);
}

static void test_expiry(void **state)
{
    fx *f = *state;
    assert_int_equal(auth_otp_store(&f->st, PHONE, "123456"), 0);
    kr_fakehost_advance(f->fh, 299999);
    assert_int_equal(pttl(f), 1);
    kr_fakehost_advance(f->fh, 1);
    assert_int_equal(auth_otp_check(&f->st, PHONE, "123456"), KR_EAUTH);
}

static void test_keyed_hash(void **state)
{
    fx *f = *state;
    assert_int_equal(auth_otp_store(&f->st, PHONE, "123456"), 0);
    kr_redis_reply *rep = NULL;
    assert_int_equal(kr_redis_command(f->st.redis, &rep, "HGET", "t:otp:" PHONE, "h", (char *)NULL), 0);
    char stored[AUTH_HASH_HEX + 1], plain[AUTH_HASH_HEX + 1];
    snprintf(stored, sizeof(stored), "%s", rep->str);
    kr_redis_reply_free(rep);
    auth_keyed_hash_hex(f->st.otp_key, PHONE, "123456", plain);
    assert_string_equal(stored, plain);
    /* an unkeyed hash of the 10^6 codes would be a lookup table away */
    unsigned char zero[AUTH_KEY_BYTES] = {0};
    auth_keyed_hash_hex(zero, PHONE, "123456", plain);
    assert_string_not_equal(stored, plain);
    /* bound to the phone: the same code for another phone hashes apart */
    auth_keyed_hash_hex(f->st.otp_key, "+919876543211", "123456", plain);
    assert_string_not_equal(stored, plain);
    /* a server with another key cannot use it */
    randombytes_buf(f->st.otp_key, sizeof(f->st.otp_key));
    assert_int_equal(auth_otp_check(&f->st, PHONE, "123456"), KR_EAUTH);
}

static void test_redis_down(void **state)
{
    fx *f = *state;
    kr_fakehost_fail_redis(f->fh, KR_EUNAVAILABLE, 1);
    assert_int_equal(auth_otp_store(&f->st, PHONE, "123456"), KR_EUNAVAILABLE);
    assert_int_equal(auth_otp_store(&f->st, PHONE, "123456"), 0);
    kr_fakehost_fail_redis(f->fh, KR_EUNAVAILABLE, 1);
    assert_int_equal(auth_otp_check(&f->st, PHONE, "123456"), KR_EUNAVAILABLE);
    /* the failed check used no try and left the code alone */
    assert_int_equal(auth_otp_check(&f->st, PHONE, "123456"), 0);
}

static void test_box(void **state)
{
    fx *f = *state;
    randombytes_buf(f->st.box_key, sizeof(f->st.box_key));
    char *sealed = auth_box_seal(&f->st, PHONE "\n123456");
    assert_non_null(sealed);
    assert_null(strstr(sealed, "123456"));
    char *again = auth_box_seal(&f->st, PHONE "\n123456");
    assert_string_not_equal(sealed, again); /* fresh nonce each time */
    char *plain = auth_box_open(&f->st, sealed);
    assert_string_equal(plain, PHONE "\n123456");
    free(plain);
    sealed[5] = sealed[5] == 'A' ? 'B' : 'A';
    assert_null(auth_box_open(&f->st, sealed));
    assert_null(auth_box_open(&f->st, "!!"));
    assert_null(auth_box_open(&f->st, ""));
    randombytes_buf(f->st.box_key, sizeof(f->st.box_key));
    assert_null(auth_box_open(&f->st, again));
    free(sealed);
    free(again);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate),
        cmocka_unit_test_setup_teardown(test_right_code_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attempts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_absent_code_leaves_no_permanent_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keyed_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_box, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
