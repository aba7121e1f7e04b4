/* Inputs the fuzz target tests/fuzz/fuzz_pgsql.c found (its
 * regressions/pgsql keeps the fuzz inputs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/db/pg_filter.h"
#include "core/db/pg_sort.h"
#include "core/db/pg_update.h"
#include "core/util/err.h"

static void expect_one_line_error(int rc, const char *must_hold)
{
    assert_int_equal(rc, KR_EINVAL);
    const char *m = krc_err_msg();
    for (const char *p = m; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            fail_msg("control character 0x%02x in \"%s\"", (unsigned char)*p, m);
    if (strstr(m, must_hold) == NULL)
        fail_msg("\"%s\" lacks \"%s\"", m, must_hold);
}

/* regressions/pgsql/operator-newline: an unsupported operator, or a bad
 * field name, was echoed into the error with its control characters, so
 * the one-line error broke into two. They are now shown as '?'. */
static void test_errors_stay_one_line(void **state)
{
    (void)state;
    const char *cases[][2] = {
        {"{\"nam\":{\"$i\\n\":[\"x\"]}}", "$i?"},
        {"{\"$x\\r\\ny\":1}", "$x??y"},
        {"{\"a\\nb\":1}", "a?b"},
        {"{\"a\":{\"$regex\":\"x\",\"$options\":\"\\t\"}}", "'?'"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *f = json_loads(cases[i][0], 0, NULL);
        assert_non_null(f);
        krc_pg_sql q;
        krc_pg_sql_init(&q);
        expect_one_line_error(krc_pg_filter(&q, f, "doc", "id"), cases[i][1]);
        krc_pg_sql_free(&q);
        json_decref(f);
    }
    json_t *u = json_loads("{\"$set\":{\"a\\u007fb\":1}}", 0, NULL);
    krc_pg_sql q;
    krc_pg_sql_init(&q);
    expect_one_line_error(krc_pg_update(&q, u, "t.doc", 0), "a?b");
    krc_pg_sql_free(&q);
    json_decref(u);
    json_t *s = json_loads("{\"x\\u0001\":1}", 0, NULL);
    krc_pg_sql_init(&q);
    expect_one_line_error(krc_pg_sort(&q, s, "doc", "id"), "x?");
    krc_pg_sql_free(&q);
    json_decref(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors_stay_one_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
