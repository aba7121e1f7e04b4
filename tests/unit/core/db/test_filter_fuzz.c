/* core/db/pg_filter.c and pg_update.c under random input: whatever the
 * filter or update, a caller's value never reaches the SQL text, and field
 * names reach it only when they are plain names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/db/pg_filter.h"
#include "core/db/pg_update.h"
#include "core/util/err.h"
#include "gen.h"

static void check(const krc_pg_sql *q, int rc, const json_t *input)
{
    if (rc != 0 && rc != KR_EINVAL)
        fail_msg("unexpected %d: %s", rc, krc_err_msg());
    if (rc != 0)
        return;
    const char *sql = krc_pg_sql_text(q);
    if (strstr(sql, "zq") != NULL || strstr(sql, "--") != NULL || strstr(sql, ";") != NULL)
        fail_msg("%s\nreached SQL text:\n%s", json_dumps(input, 0), sql);
    /* every quote in the text belongs to a literal we wrote: balanced */
    size_t quotes = 0;
    for (const char *p = sql; *p != '\0'; p++)
        quotes += *p == '\'';
    if (quotes % 2 != 0)
        fail_msg("unbalanced quotes in\n%s", sql);
}

static void test_filters(void **state)
{
    (void)state;
    int accepted = 0;
    for (int i = 0; i < 20000; i++) {
        json_t *f = filter(0);
        krc_pg_sql q;
        krc_pg_sql_init(&q);
        int rc = krc_pg_filter(&q, f, "doc", "id");
        check(&q, rc, f);
        accepted += rc == 0;
        krc_pg_sql_free(&q);
        json_decref(f);
    }
    print_message("filters accepted: %d of 20000\n", accepted);
    assert_true(accepted > 1000);
}

static void test_updates(void **state)
{
    (void)state;
    int accepted = 0;
    for (int i = 0; i < 20000; i++) {
        json_t *u = update();
        krc_pg_sql q;
        krc_pg_sql_init(&q);
        int rc = krc_pg_update_is_replacement(u);
        if (rc == 0)
            rc = krc_pg_update(&q, u, "t.doc", (int)rnd(2));
        check(&q, rc, u);
        accepted += rc == 0;
        krc_pg_sql_free(&q);
        json_decref(u);
    }
    print_message("updates accepted: %d of 20000\n", accepted);
    assert_true(accepted > 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_updates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
