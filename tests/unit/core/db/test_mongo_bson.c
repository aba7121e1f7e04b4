/* core/db/mongo_bson.c: JSON <-> BSON without a server. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/db/mongo_bson.h"
#include "core/util/err.h"

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (v == NULL)
        fail_msg("bad test JSON %s: %s", text, e.text);
    return v;
}

/* json_equal, and every number of the same kind (integer or real). */
static int same(const json_t *a, const json_t *b)
{
    if (!json_equal(a, b) || json_typeof(a) != json_typeof(b))
        return 0;
    if (json_is_object(a)) {
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)a, k, v)
        {
            if (!same(v, json_object_get(b, k)))
                return 0;
        }
    } else if (json_is_array(a)) {
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!same(json_array_get(a, i), json_array_get(b, i)))
                return 0;
    }
    return 1;
}

static json_t *round_trip(const json_t *in)
{
    bson_t b = BSON_INITIALIZER;
    assert_int_equal(krc_mongo_bson_append_object(&b, in), 0);
    json_t *out = NULL;
    assert_int_equal(krc_mongo_json_from_bson(&b, &out), 0);
    bson_destroy(&b);
    return out;
}

static void test_round_trip(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "{}",
        "{\"_id\": \"p1\", \"name\": \"atta\", \"price\": 25000, \"weight\": 1.5, \"whole\": 3.0, \"ok\": true, "
        "\"no\": false, \"nothing\": null}",
        "{\"big\": 9007199254740993, \"min\": -9223372036854775808, \"max\": 9223372036854775807, \"i32\": "
        "2147483647, \"over\": 2147483648, \"neg\": -2147483649, \"tiny\": 1e-300, \"huge\": 1e300}",
        "{\"deep\": {\"a\": [1, {\"b\": [[], {}]}, \"x\"]}, \"holds\": [{\"order\": \"o1\", \"qty\": 2}]}",
        "{\"nul\": \"a\\u0000b\", \"hindi\": \"\\u0928\\u092e\\u0938\\u094d\\u0924\\u0947\", \"emoji\": "
        "\"\\ud83d\\ude00\", \"quote\": \"\\\"'$1 $$\"}",
        "{\"z\": 1, \"a\": 2, \"m\": 3}",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        json_t *in = J(docs[i]);
        json_t *out = round_trip(in);
        if (!same(in, out))
            fail_msg("%s came back as %s", docs[i], json_dumps(out, 0));
        json_decref(in);
        json_decref(out);
    }
    /* key order survives (MongoDB compares embedded documents by it) */
    json_t *in = J("{\"z\": 1, \"a\": 2, \"m\": 3}");
    json_t *out = round_trip(in);
    char *text = json_dumps(out, 0);
    assert_string_equal(text, "{\"z\": 1, \"a\": 2, \"m\": 3}");
    free(text);
    json_decref(in);
    json_decref(out);
}

static void test_integer_widths(void **state)
{
    (void)state;
    json_t *in = J("{\"small\": 7, \"edge\": -2147483648, \"wide\": 2147483648, \"real\": 7.0}");
    bson_t b = BSON_INITIALIZER;
    assert_int_equal(krc_mongo_bson_append_object(&b, in), 0);
    bson_iter_t it;
    assert_true(bson_iter_init_find(&it, &b, "small") && BSON_ITER_HOLDS_INT32(&it));
    assert_true(bson_iter_init_find(&it, &b, "edge") && BSON_ITER_HOLDS_INT32(&it));
    assert_true(bson_iter_init_find(&it, &b, "wide") && BSON_ITER_HOLDS_INT64(&it));
    assert_true(bson_iter_init_find(&it, &b, "real") && BSON_ITER_HOLDS_DOUBLE(&it));
    bson_destroy(&b);
    json_decref(in);
}

static void test_refusals(void **state)
{
    (void)state;
    bson_t b = BSON_INITIALIZER;
    json_t *nul_key = json_object();
    json_object_setn_new(nul_key, "a\0b", 3, json_integer(1));
    assert_int_equal(krc_mongo_bson_append_object(&b, nul_key), KR_EINVAL);
    assert_non_null(strstr(krc_err_msg(), "NUL"));
    json_decref(nul_key);
    bson_destroy(&b);

    json_t *deep = json_integer(1);
    for (int i = 0; i < KRC_MONGO_BSON_DEPTH + 5; i++)
        deep = json_pack("{s:o}", "d", deep);
    bson_init(&b);
    assert_int_equal(krc_mongo_bson_append_object(&b, deep), KR_EINVAL);
    assert_non_null(strstr(krc_err_msg(), "deeper"));
    json_decref(deep);
    bson_destroy(&b);
}

/* The JSON of the only field of b. */
static json_t *field_json(const bson_t *b)
{
    json_t *out = NULL;
    assert_int_equal(krc_mongo_json_from_bson(b, &out), 0);
    json_t *v = json_incref(json_object_get(out, "v"));
    json_decref(out);
    return v;
}

static void expect_field(const bson_t *b, const char *want)
{
    json_t *v = field_json(b);
    json_t *w = J(want);
    if (!same(v, w))
        fail_msg("got %s, expected %s", json_dumps(v, JSON_ENCODE_ANY), want);
    json_decref(v);
    json_decref(w);
}

static void test_types_json_lacks(void **state)
{
    (void)state;
    bson_t b;
    bson_oid_t oid;
    bson_oid_init_from_string(&oid, "65f0a1b2c3d4e5f601234567");
    bson_init(&b);
    BSON_APPEND_OID(&b, "v", &oid);
    expect_field(&b, "\"65f0a1b2c3d4e5f601234567\"");
    bson_reinit(&b);
    BSON_APPEND_DATE_TIME(&b, "v", 1714557600123);
    expect_field(&b, "\"2024-05-01T10:00:00.123Z\"");
    bson_reinit(&b);
    BSON_APPEND_DATE_TIME(&b, "v", -1);
    expect_field(&b, "\"1969-12-31T23:59:59.999Z\"");
    bson_reinit(&b);
    BSON_APPEND_BINARY(&b, "v", BSON_SUBTYPE_BINARY, (const uint8_t *)"kirana", 6);
    expect_field(&b, "\"a2lyYW5h\"");
    bson_reinit(&b);
    BSON_APPEND_REGEX(&b, "v", "^a.c$", "i");
    expect_field(&b, "\"^a.c$\"");
    bson_reinit(&b);
    bson_decimal128_t dec;
    bson_decimal128_from_string("12.50", &dec);
    BSON_APPEND_DECIMAL128(&b, "v", &dec);
    expect_field(&b, "12.5");
    bson_reinit(&b);
    BSON_APPEND_DOUBLE(&b, "v", NAN);
    expect_field(&b, "null");
    bson_reinit(&b);
    BSON_APPEND_DOUBLE(&b, "v", -INFINITY);
    expect_field(&b, "null");
    bson_reinit(&b);
    BSON_APPEND_TIMESTAMP(&b, "v", 1714557600, 3);
    expect_field(&b, "1714557600");
    bson_reinit(&b);
    BSON_APPEND_MINKEY(&b, "v");
    expect_field(&b, "null");
    bson_reinit(&b);
    BSON_APPEND_UNDEFINED(&b, "v");
    expect_field(&b, "null");
    bson_reinit(&b);
    BSON_APPEND_SYMBOL(&b, "v", "sym");
    expect_field(&b, "\"sym\"");
    bson_reinit(&b);
    BSON_APPEND_CODE(&b, "v", "function () {}");
    expect_field(&b, "\"function () {}\"");
    bson_destroy(&b);
}

static void test_bad_utf8(void **state)
{
    (void)state;
    bson_t b = BSON_INITIALIZER;
    bson_append_utf8(&b, "v", 1, "\xff\xfe", 2);
    json_t *out = (json_t *)1;
    assert_int_equal(krc_mongo_json_from_bson(&b, &out), KR_EINTERNAL);
    assert_non_null(strstr(krc_err_msg(), "UTF-8"));
    bson_destroy(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),       cmocka_unit_test(test_integer_widths), cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_types_json_lacks), cmocka_unit_test(test_bad_utf8),
    };
    return cmocka_run_group_tests_name("mongo_bson", tests, NULL, NULL);
}
