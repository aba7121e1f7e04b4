/* core/db/pg_regex.c: PCRE patterns and options as PostgreSQL AREs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/db/pg_regex.h"
#include "core/util/err.h"

static void expect(const char *pattern, const char *options, const char *are)
{
    char *out = NULL;
    if (krc_pg_regex(pattern, options, &out) != 0)
        fail_msg("%s: %s", pattern, krc_err_msg());
    assert_string_equal(out, are);
    free(out);
}

static void test_options(void **state)
{
    (void)state;
    expect("abc", NULL, "(?p)abc");
    expect("abc", "", "(?p)abc");
    expect("abc", "i", "(?pi)abc");
    expect("abc", "m", "(?n)abc");
    expect("abc", "s", "(?s)abc");
    expect("abc", "ms", "(?w)abc");
    expect("a b", "ix", "(?pix)a b");
    expect("(?i)abc", NULL, "(?pi)abc");
    expect("(?si)abc", "m", "(?wi)abc");
    char *out = NULL;
    assert_int_equal(krc_pg_regex("a", "u", &out), KR_EINVAL);
    assert_null(out);
    assert_non_null(strstr(krc_err_msg(), "'u'"));
}

static void test_escapes(void **state)
{
    (void)state;
    expect("\\bword\\b", NULL, "(?p)\\yword\\y");
    expect("\\Bx\\z", NULL, "(?p)\\Yx\\Z");
    expect("[\\b]", NULL, "(?p)[\\b]");
    expect("[]\\b]\\b", NULL, "(?p)[]\\b]\\y");
    expect("[^]a]\\b", NULL, "(?p)[^]a]\\y");
    expect("[[:alpha:]]\\b", NULL, "(?p)[[:alpha:]]\\y");
    expect("\\d+\\.\\w*\\s", NULL, "(?p)\\d+\\.\\w*\\s");
    expect("\\\\b", NULL, "(?p)\\\\b");
    char *out = NULL;
    assert_int_equal(krc_pg_regex("abc\\", NULL, &out), KR_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_escapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
