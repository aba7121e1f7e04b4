/* BullMQ job options as kirana checks, stores and reads them; key names;
 * msgpack encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "core/queue/jobopts.h"
#include "core/queue/keys.h"
#include "core/queue/pack.h"
#include "kirana/error.h"

static json_t *norm(const char *opts_json, int *rc)
{
    json_t *opts = opts_json != NULL ? json_loads(opts_json, 0, NULL) : NULL;
    json_t *out = NULL;
    *rc = krc_jobopts_normalize(opts, &out);
    json_decref(opts);
    return out;
}

static void assert_json(json_t *v, const char *expected)
{
    json_t *e = json_loads(expected, 0, NULL);
    assert_non_null(e);
    if (!json_equal(v, e)) {
        char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
        fail_msg("got %s, expected %s", s, expected);
    }
    json_decref(e);
}

static void test_normalize_defaults(void **state)
{
    (void)state;
    int rc;
    json_t *o = norm(NULL, &rc);
    assert_int_equal(rc, 0);
    assert_json(o, "{\"attempts\": 0}");
    json_decref(o);
    o = norm("{\"attempts\": 3, \"backoff\": 1000, \"jobId\": \"order-1\", \"delay\": 0, \"priority\": 2,"
             " \"removeOnComplete\": true, \"removeOnFail\": {\"count\": 5}}",
             &rc);
    assert_int_equal(rc, 0);
    assert_json(o, "{\"attempts\": 3, \"backoff\": {\"type\": \"fixed\", \"delay\": 1000}, \"jobId\": \"order-1\","
                   " \"delay\": 0, \"priority\": 2, \"removeOnComplete\": true, \"removeOnFail\": {\"count\": 5}}");
    json_decref(o);
    o = norm("{\"backoff\": {\"type\": \"exponential\", \"delay\": 50, \"jitter\": 0.5}}", &rc);
    assert_int_equal(rc, 0);
    assert_json(o, "{\"attempts\": 0, \"backoff\": {\"type\": \"exponential\", \"delay\": 50, \"jitter\": 0.5}}");
    json_decref(o);
}

static void test_normalize_refuses(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"bogus\": 1}",
        "{\"attempts\": -1}",
        "{\"attempts\": \"3\"}",
        "{\"attempts\": 1.5}",
        "{\"delay\": -5}",
        "{\"priority\": 2097152}",
        "{\"backoff\": {\"type\": \"linear\", \"delay\": 5}}",
        "{\"backoff\": {\"type\": \"fixed\"}}",
        "{\"backoff\": {\"type\": \"fixed\", \"delay\": 5, \"jitter\": 2}}",
        "{\"backoff\": \"soon\"}",
        "{\"removeOnComplete\": \"yes\"}",
        "{\"removeOnFail\": {\"hours\": 1}}",
        "{\"jobId\": 5}",
        "{\"jobId\": \"12\"}",
        "{\"jobId\": \"0\"}",
        "{\"jobId\": \"0:x\"}",
        "{\"jobId\": \"a:b\"}",
        "[]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc;
        json_t *o = norm(bad[i], &rc);
        if (rc != KR_EINVAL)
            fail_msg("accepted %s", bad[i]);
        assert_null(o);
    }
}

static void test_job_ids(void **state)
{
    (void)state;
    assert_true(krc_jobopts_id_valid("order-1"));
    assert_true(krc_jobopts_id_valid("012"));
    assert_true(krc_jobopts_id_valid("a:b:c"));
    assert_true(krc_jobopts_id_valid("1e3"));
    assert_false(krc_jobopts_id_valid("-5"));
    assert_false(krc_jobopts_id_valid(""));
}

static void test_keep(void **state)
{
    (void)state;
    json_t *v;
    assert_json(v = krc_jobopts_keep(NULL), "{\"count\": -1}");
    json_decref(v);
    assert_json(v = krc_jobopts_keep(json_true()), "{\"count\": 0}");
    json_decref(v);
    assert_json(v = krc_jobopts_keep(json_false()), "{\"count\": -1}");
    json_decref(v);
    json_t *n = json_integer(7);
    assert_json(v = krc_jobopts_keep(n), "{\"count\": 7}");
    json_decref(v);
    json_decref(n);
    json_t *o = json_pack("{s:i}", "age", 60);
    assert_json(v = krc_jobopts_keep(o), "{\"age\": 60}");
    json_decref(v);
    json_decref(o);
}

static void test_backoff(void **state)
{
    (void)state;
    json_t *fixed = json_pack("{s:s, s:i}", "type", "fixed", "delay", 300);
    json_t *exp = json_pack("{s:s, s:i}", "type", "exponential", "delay", 250);
    json_t *jit = json_pack("{s:s, s:i, s:f}", "type", "fixed", "delay", 1000, "jitter", 0.5);
    json_t *other = json_pack("{s:s, s:i}", "type", "custom", "delay", 1);
    json_t *nodelay = json_pack("{s:s}", "type", "exponential");
    assert_int_equal(krc_jobopts_backoff_ms(NULL, 1, 0), 0);
    assert_int_equal(krc_jobopts_backoff_ms(fixed, 1, 0), 300);
    assert_int_equal(krc_jobopts_backoff_ms(fixed, 4, 0), 300);
    assert_int_equal(krc_jobopts_backoff_ms(exp, 1, 0), 250);
    assert_int_equal(krc_jobopts_backoff_ms(exp, 2, 0), 500);
    assert_int_equal(krc_jobopts_backoff_ms(exp, 3, 0), 1000);
    assert_int_equal(krc_jobopts_backoff_ms(jit, 1, 0), 500);
    assert_in_range(krc_jobopts_backoff_ms(jit, 1, 0.999), 990, 1000);
    assert_int_equal(krc_jobopts_backoff_ms(other, 1, 0), -1);
    assert_int_equal(krc_jobopts_backoff_ms(nodelay, 2, 0), 0);
    json_decref(fixed);
    json_decref(exp);
    json_decref(jit);
    json_decref(other);
    json_decref(nodelay);
}

static void test_keys(void **state)
{
    (void)state;
    krc_qkeys k;
    krc_qkeys_init(&k, "{bull}", "order");
    assert_string_equal(k.base, "{bull}:order:");
    assert_string_equal(k.marker, "{bull}:order:marker");
    assert_string_equal(k.stalled_check, "{bull}:order:stalled-check");
    assert_true(krc_qname_valid("order"));
    assert_true(krc_qname_valid("kq-n2k-1a2b.x_y"));
    assert_false(krc_qname_valid(""));
    assert_false(krc_qname_valid("a:b"));
    assert_false(krc_qname_valid("a b"));
    assert_true(krc_qprefix_valid("bull"));
    assert_true(krc_qprefix_valid("{bull}"));
    assert_true(krc_qprefix_valid("app:bull"));
    assert_false(krc_qprefix_valid("bull:"));
    assert_false(krc_qprefix_valid("a b"));
}

static void test_pack(void **state)
{
    (void)state;
    json_t *v = json_loads("{\"a\": 1, \"b\": [true, null, \"x\", 1.5, 2.0, -3]}", 0, NULL);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    krc_pack_json(&pk, v);
    static const unsigned char want[] = {0x82, 0xa1, 'a',  0x01, 0xa1, 'b', 0x96, 0xc3, 0xc0, 0xa1, 'x',
                                         0xcb, 0x3f, 0xf8, 0,    0,    0,   0,    0,    0,    0x02, 0xfd};
    assert_int_equal(sb.size, sizeof(want));
    assert_memory_equal(sb.data, want, sizeof(want));
    msgpack_sbuffer_destroy(&sb);
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize_defaults),
        cmocka_unit_test(test_normalize_refuses),
        cmocka_unit_test(test_job_ids),
        cmocka_unit_test(test_keep),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_pack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
