/* Inputs the fuzz target tests/fuzz/fuzz_jwt.c found (its regressions/jwt
 * keeps the fuzz inputs): claims at the ends of the integer range. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jwt.h>

#include "auth.h"

#define SECRET "0123456789abcdef0123456789abcdef-test-secret"
#define NOW 1800000000L

static const auth_jwt_cfg cfg = {
    .key = (const unsigned char *)SECRET,
    .key_len = sizeof(SECRET) - 1,
    .issuer = "kirana",
    .audience = "kirana-app",
    .access_ttl = 900,
    .leeway = 30,
};

/* A correctly signed access token whose exp is `exp`. */
static char *token_with_exp(json_int_t exp)
{
    jwt_t *jwt;
    assert_int_equal(jwt_new(&jwt), 0);
    assert_int_equal(jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)SECRET, (int)strlen(SECRET)), 0);
    int rc = jwt_add_grant(jwt, "iss", "kirana") | jwt_add_grant(jwt, "aud", "kirana-app") |
             jwt_add_grant(jwt, "sub", "u1") | jwt_add_grant_int(jwt, "iat", NOW) |
             jwt_add_grant_int(jwt, "nbf", NOW) | jwt_add_grant_int(jwt, "exp", (long)exp) |
             jwt_add_grant(jwt, "jti", "jjjjjjjjjjjjjjjjjjjjjj") | jwt_add_grant(jwt, "typ", "access") |
             jwt_add_grant(jwt, "role", "user") | jwt_add_grant(jwt, "sid", "ssssssssssssssssssssss");
    assert_int_equal(rc, 0);
    char *tok = jwt_encode_str(jwt);
    jwt_free(jwt);
    assert_non_null(tok);
    return tok;
}

/* regressions/jwt/exp-overflow: exp + leeway overflowed (undefined
 * behaviour; with wrapping, a far-future exp read as expired). */
static void test_exp_at_the_ends_of_the_range(void **state)
{
    (void)state;
    auth_claims c;
    const char *why = NULL;
    char *tok = token_with_exp(INT64_MAX);
    assert_int_equal(auth_jwt_verify(&cfg, tok, NOW, &c, &why), KR_OK);
    assert_true(c.exp == INT64_MAX);
    free(tok);

    tok = token_with_exp(INT64_MAX - 29);
    assert_int_equal(auth_jwt_verify(&cfg, tok, NOW, &c, &why), KR_OK);
    free(tok);

    tok = token_with_exp(INT64_MIN);
    assert_int_equal(auth_jwt_verify(&cfg, tok, NOW, &c, &why), KR_EAUTH);
    assert_non_null(strstr(why, "expired"));
    free(tok);

    /* the leeway edge stays where it was */
    tok = token_with_exp(NOW - 30);
    assert_int_equal(auth_jwt_verify(&cfg, tok, NOW, &c, &why), KR_EAUTH);
    free(tok);
    tok = token_with_exp(NOW - 29);
    assert_int_equal(auth_jwt_verify(&cfg, tok, NOW, &c, &why), KR_OK);
    free(tok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exp_at_the_ends_of_the_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
