#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/router/query.h"
#include "core/util/err.h"

static int parse(const char *qs, krc_query_pair *pairs, size_t max, char *buf, size_t buflen)
{
    return krc_query_parse(qs, strlen(qs), pairs, max, buf, buflen);
}

static void test_pairs(void **state)
{
    (void)state;
    krc_query_pair p[8];
    char buf[256];
    const char *qs = "q=green+tea&category=bev%26snacks&limit=20&flag&=empty&q=second&x=a%3Db=c";
    int n = parse(qs, p, 8, buf, sizeof(buf));
    assert_int_equal(n, 7);
    assert_string_equal(p[0].name, "q");
    assert_string_equal(p[0].value, "green tea");
    assert_string_equal(p[1].name, "category");
    assert_string_equal(p[1].value, "bev&snacks");
    assert_string_equal(p[3].name, "flag");
    assert_string_equal(p[3].value, "");
    assert_string_equal(p[4].name, "");
    assert_string_equal(p[4].value, "empty");
    /* only the first '=' splits */
    assert_string_equal(p[6].value, "a=b=c");

    assert_string_equal(krc_query_get(p, (size_t)n, "q"), "green tea");
    assert_string_equal(krc_query_get(p, (size_t)n, "limit"), "20");
    assert_string_equal(krc_query_get(p, (size_t)n, "flag"), "");
    assert_null(krc_query_get(p, (size_t)n, "cursor"));
    assert_null(krc_query_get(p, (size_t)n, "Q"));
}

static void test_empty_pieces(void **state)
{
    (void)state;
    krc_query_pair p[4];
    char buf[64];
    assert_int_equal(parse("", p, 4, buf, sizeof(buf)), 0);
    assert_int_equal(parse("&&&", p, 4, buf, sizeof(buf)), 0);
    assert_int_equal(parse("&a=1&&b=2&", p, 4, buf, sizeof(buf)), 2);
    assert_string_equal(p[1].name, "b");
    assert_string_equal(p[1].value, "2");
    /* the length, not the NUL, ends the query */
    assert_int_equal(krc_query_parse("a=1&b=2", 3, p, 4, buf, sizeof(buf)), 1);
    assert_string_equal(p[0].value, "1");
}

static void test_errors(void **state)
{
    (void)state;
    krc_query_pair p[2];
    char buf[64];
    assert_int_equal(parse("a=%zz", p, 2, buf, sizeof(buf)), KR_EINVAL);
    assert_non_null(strstr(krc_err_msg(), "escape"));
    assert_int_equal(parse("a%00=1", p, 2, buf, sizeof(buf)), KR_EINVAL);
    assert_int_equal(parse("a=1&b=2&c=3", p, 2, buf, sizeof(buf)), KR_EINVAL);
    assert_string_equal(krc_err_msg(), "more than 2 query parameters");
    assert_int_equal(parse("name=value", p, 2, buf, 8), KR_ETOOBIG);
    assert_int_equal(parse("name=value", p, 2, buf, 11), 1);
}

static void test_sizing_rule(void **state)
{
    (void)state;
    /* the worst case for 2 * len + 2: one-byte names without values */
    const char *qs = "a&b&c&d&e";
    krc_query_pair p[8];
    char buf[2 * 9 + 2];
    assert_int_equal(parse(qs, p, 8, buf, sizeof(buf)), 5);
    assert_string_equal(p[4].name, "e");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pairs),
        cmocka_unit_test(test_empty_pieces),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_sizing_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
