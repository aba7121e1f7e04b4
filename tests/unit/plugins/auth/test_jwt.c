/* auth.so's access tokens: what it signs verifies, and everything else is
 * refused: alg none, other algorithms with the same secret, another
 * secret, a tampered payload, expired or not-yet-valid tokens, another
 * issuer, audience or type, and missing or mistyped claims. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jwt.h>
#include <sodium.h>

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

/* A token signed by libjwt with alg/key and the claims of a good token,
 * changed by `patch` (a JSON object merged over them; null deletes). */
static char *craft(jwt_alg_t alg, const char *key, const char *patch)
{
    json_t *claims =
        json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:s}", "iss", "kirana", "aud", "kirana-app", "sub",
                  "u1", "iat", (json_int_t)NOW, "nbf", (json_int_t)NOW, "exp", (json_int_t)(NOW + 900), "jti",
                  "jjjjjjjjjjjjjjjjjjjjjj", "typ", "access", "role", "user", "sid", "ssssssssssssssssssssss");
    if (patch != NULL) {
        json_t *p = json_loads(patch, 0, NULL);
        assert_non_null(p);
        const char *k;
        json_t *v;
        json_object_foreach(p, k, v)
        {
            if (json_is_null(v))
                json_object_del(claims, k);
            else
                json_object_set(claims, k, v);
        }
        json_decref(p);
    }
    char *text = json_dumps(claims, 0);
    json_decref(claims);
    jwt_t *jwt;
    assert_int_equal(jwt_new(&jwt), 0);
    assert_int_equal(jwt_set_alg(jwt, alg, (const unsigned char *)key, key != NULL ? (int)strlen(key) : 0), 0);
    assert_int_equal(jwt_add_grants_json(jwt, text), 0);
    free(text);
    char *tok = jwt_encode_str(jwt);
    jwt_free(jwt);
    assert_non_null(tok);
    return tok;
}

/* Verifies and checks the refusal reason contains `why` (NULL: accepted). */
static void expect(const char *token, long now, const char *why)
{
    auth_claims c;
    const char *reason = NULL;
    int rc = auth_jwt_verify(&cfg, token, now, &c, &reason);
    if (why == NULL) {
        if (rc != KR_OK)
            fail_msg("refused: %s", reason);
        return;
    }
    assert_int_equal(rc, KR_EAUTH);
    if (strstr(reason, why) == NULL)
        fail_msg("reason \"%s\" lacks \"%s\"", reason, why);
    assert_string_equal(c.sub, "");
}

static void test_round_trip(void **state)
{
    (void)state;
    char *tok;
    auth_claims issued, got;
    assert_int_equal(auth_jwt_issue(&cfg, "user-1", "admin", "family-aaaaaaaaaaaaaaa", NOW, &tok, &issued), 0);
    const char *why;
    assert_int_equal(auth_jwt_verify(&cfg, tok, NOW, &got, &why), 0);
    assert_string_equal(got.sub, "user-1");
    assert_string_equal(got.role, "admin");
    assert_string_equal(got.sid, "family-aaaaaaaaaaaaaaa");
    assert_string_equal(got.jti, issued.jti);
    assert_int_equal(strlen(got.jti), AUTH_ID_LEN);
    assert_int_equal(got.iat, NOW);
    assert_int_equal(got.nbf, NOW);
    assert_int_equal(got.exp, NOW + 900);

    /* the header names HS256 */
    jwt_t *jwt;
    assert_int_equal(jwt_decode(&jwt, tok, cfg.key, (int)cfg.key_len), 0);
    assert_int_equal(jwt_get_alg(jwt), JWT_ALG_HS256);
    jwt_free(jwt);

    /* two tokens never share a jti */
    char *tok2;
    auth_claims issued2;
    assert_int_equal(auth_jwt_issue(&cfg, "user-1", "admin", "family-aaaaaaaaaaaaaaa", NOW, &tok2, &issued2), 0);
    assert_string_not_equal(issued.jti, issued2.jti);
    free(tok);
    free(tok2);
}

static void test_times(void **state)
{
    (void)state;
    char *tok = craft(JWT_ALG_HS256, SECRET, NULL);
    expect(tok, NOW, NULL);
    expect(tok, NOW + 899, NULL);
    /* leeway: still good 29 s after exp, gone at 30 */
    expect(tok, NOW + 900 + 29, NULL);
    expect(tok, NOW + 900 + 30, "expired");
    expect(tok, NOW + 100000, "expired");
    /* a clock up to the leeway behind the issuer's is fine */
    expect(tok, NOW - 30, NULL);
    expect(tok, NOW - 31, "not valid yet");
    free(tok);

    tok = craft(JWT_ALG_HS256, SECRET, "{\"nbf\": 1800000100}");
    expect(tok, NOW, "not valid yet");
    expect(tok, NOW + 100, NULL);
    free(tok);
    tok = craft(JWT_ALG_HS256, SECRET, "{\"iat\": 1800000100}");
    expect(tok, NOW, "not valid yet");
    free(tok);
}

static void test_algorithms(void **state)
{
    (void)state;
    /* alg none: no signature at all */
    char *tok = craft(JWT_ALG_NONE, NULL, NULL);
    assert_non_null(strstr(tok, "."));
    expect(tok, NOW, "");
    free(tok);
    /* HS384 and HS512 with our own secret verify in libjwt: pinned out */
    tok = craft(JWT_ALG_HS384, SECRET, NULL);
    expect(tok, NOW, "HS256");
    free(tok);
    tok = craft(JWT_ALG_HS512, SECRET, NULL);
    expect(tok, NOW, "HS256");
    free(tok);
    /* a header naming RS256 over an HMAC signature */
    char *good = craft(JWT_ALG_HS256, SECRET, NULL);
    const char *rs_header = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9"; /* {"alg":"RS256","typ":"JWT"} */
    char *forged = malloc(strlen(good) + 64);
    strcpy(forged, rs_header);
    strcat(forged, strchr(good, '.'));
    expect(forged, NOW, "");
    free(forged);
    /* and "none" over a good token's payload, signature dropped */
    const char *none_header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"; /* {"alg":"none","typ":"JWT"} */
    forged = malloc(strlen(good) + 64);
    strcpy(forged, none_header);
    strcat(forged, strchr(good, '.'));
    *(strrchr(forged, '.') + 1) = '\0';
    expect(forged, NOW, "");
    free(forged);
    free(good);
}

static void test_secret_and_tampering(void **state)
{
    (void)state;
    char *tok = craft(JWT_ALG_HS256, "another-secret-of-at-least-32-bytes!!", NULL);
    expect(tok, NOW, "signature");
    free(tok);

    /* role user -> admin in the payload, signature kept */
    char *good = craft(JWT_ALG_HS256, SECRET, NULL);
    char *dot1 = strchr(good, '.'), *dot2 = strrchr(good, '.');
    size_t plen = (size_t)(dot2 - dot1 - 1);
    char payload[2048];
    size_t bin;
    assert_int_equal(sodium_base642bin((unsigned char *)payload, sizeof(payload) - 1, dot1 + 1, plen, NULL, &bin, NULL,
                                       sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                     0);
    payload[bin] = '\0';
    char *role = strstr(payload, "\"user\"");
    assert_non_null(role);
    char changed[2048];
    snprintf(changed, sizeof(changed), "%.*s\"admin\"%s", (int)(role - payload), payload, role + 6);
    char enc[4096];
    sodium_bin2base64(enc, sizeof(enc), (const unsigned char *)changed, strlen(changed),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char forged[8192];
    snprintf(forged, sizeof(forged), "%.*s.%s%s", (int)(dot1 - good), good, enc, dot2);
    expect(forged, NOW, "signature");
    /* one flipped signature character */
    good[strlen(good) - 2] ^= 1;
    expect(good, NOW, "signature");
    free(good);

    expect("", NOW, "no token");
    expect("not.a.jwt", NOW, "");
    expect("abc", NOW, "");
}

static void test_claims(void **state)
{
    (void)state;
    static const struct {
        const char *patch;
        const char *why;
    } bad[] = {
        {"{\"iss\": \"someone-else\"}", "issuer"},
        {"{\"iss\": null}", "issuer"},
        {"{\"aud\": \"other-app\"}", "audience"},
        {"{\"aud\": [\"kirana-app\", \"other\"]}", "audience"},
        {"{\"typ\": \"refresh\"}", "access token"},
        {"{\"typ\": null}", "access token"},
        {"{\"exp\": null}", "exp"},
        {"{\"exp\": \"1900000000\"}", "exp"},
        {"{\"nbf\": null}", "nbf"},
        {"{\"iat\": 1.5}", "iat"},
        {"{\"sub\": null}", "sub"},
        {"{\"sub\": \"\"}", "sub"},
        {"{\"sub\": 42}", "sub"},
        {"{\"jti\": null}", "jti"},
        {"{\"sid\": null}", "sid"},
        {"{\"role\": \"root\"}", "role"},
        {"{\"role\": null}", "role"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *tok = craft(JWT_ALG_HS256, SECRET, bad[i].patch);
        auth_claims c;
        const char *why = NULL;
        if (auth_jwt_verify(&cfg, tok, NOW, &c, &why) != KR_EAUTH || strstr(why, bad[i].why) == NULL)
            fail_msg("%s: accepted or wrong reason (%s)", bad[i].patch, why ? why : "accepted");
        free(tok);
    }
    char *tok = craft(JWT_ALG_HS256, SECRET, "{\"role\": \"admin\", \"extra\": {\"a\": 1}}");
    expect(tok, NOW, NULL);
    free(tok);
}

static void test_short_key_refused(void **state)
{
    (void)state;
    auth_jwt_cfg weak = cfg;
    weak.key_len = 31;
    char *tok = NULL;
    assert_int_equal(auth_jwt_issue(&weak, "u", "user", "s", NOW, &tok, NULL), KR_EINVAL);
    assert_null(tok);
    weak.key = NULL;
    weak.key_len = 0;
    char *none = craft(JWT_ALG_NONE, NULL, NULL);
    auth_claims c;
    const char *why;
    /* never hand libjwt an empty key: that is how alg none gets in */
    assert_int_equal(auth_jwt_verify(&weak, none, NOW, &c, &why), KR_EAUTH);
    free(none);
}

/* tests/fuzz/regressions/jwt/exp-overflow: exp + leeway overflowed
 * (undefined behaviour; with wrapping, a far-future exp read as expired). */
static void test_exp_at_the_ends_of_the_range(void **state)
{
    (void)state;
    char *tok = craft(JWT_ALG_HS256, SECRET, "{\"exp\": 9223372036854775807}");
    auth_claims c;
    const char *why = NULL;
    assert_int_equal(auth_jwt_verify(&cfg, tok, NOW, &c, &why), KR_OK);
    assert_true(c.exp == INT64_MAX);
    free(tok);
    tok = craft(JWT_ALG_HS256, SECRET, "{\"exp\": 9223372036854775778}");
    expect(tok, NOW, NULL);
    free(tok);
    tok = craft(JWT_ALG_HS256, SECRET, "{\"exp\": -9223372036854775808}");
    expect(tok, NOW, "expired");
    free(tok);
    /* the leeway edge stays where it was */
    char patch[64];
    snprintf(patch, sizeof(patch), "{\"exp\": %ld}", NOW - 30);
    tok = craft(JWT_ALG_HS256, SECRET, patch);
    expect(tok, NOW, "expired");
    free(tok);
    snprintf(patch, sizeof(patch), "{\"exp\": %ld}", NOW - 29);
    tok = craft(JWT_ALG_HS256, SECRET, patch);
    expect(tok, NOW, NULL);
    free(tok);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip), cmocka_unit_test(test_times),
        cmocka_unit_test(test_algorithms), cmocka_unit_test(test_secret_and_tampering),
        cmocka_unit_test(test_claims),     cmocka_unit_test(test_short_key_refused),
        cmocka_unit_test(test_exp_at_the_ends_of_the_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
