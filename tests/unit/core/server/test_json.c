/* Request bodies: objects only, depth limit checked before parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/server/json.h"

static int parse(const char *s, int depth, char *err)
{
    json_t *v = NULL;
    int rc = krc_json_parse_object(s, strlen(s), depth, &v, err, 256);
    json_decref(v);
    return rc;
}

static void objects_parse(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(parse("{\"a\":[1,{\"b\":\"}\"}]}", 32, err), 0);
    assert_int_equal(parse("{\"s\":\"[[[[[[\"}", 2, err), 0); /* brackets inside strings do not count */
}

static void refusals(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(parse("[1]", 32, err), -1);
    assert_non_null(strstr(err, "must be an object"));
    assert_int_equal(parse("", 32, err), -1);
    assert_non_null(strstr(err, "empty"));
    assert_int_equal(parse("{\"a\":1,\"a\":2}", 32, err), -1);
    assert_int_equal(parse("{\"a\":\"\\u0000\"}", 32, err), -1);
    assert_int_equal(parse("{\"a\":{\"b\":{\"c\":1}}}", 2, err), -1);
    assert_non_null(strstr(err, "deeper than 2"));
    assert_int_equal(parse("{\"a\":{\"b\":1}}", 2, err), 0);
}

static void huge_depth_is_cheap(void **state)
{
    (void)state;
    size_t n = 1 << 20;
    char *s = malloc(n + 1);
    memset(s, '[', n);
    s[0] = '{';
    s[n] = '\0';
    char err[256];
    assert_int_equal(parse(s, 32, err), -1);
    assert_non_null(strstr(err, "deeper than 32"));
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(objects_parse),
        cmocka_unit_test(refusals),
        cmocka_unit_test(huge_depth_is_cheap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
