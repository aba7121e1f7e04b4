/* core/db/pg_sort.c: MongoDB sort documents to ORDER BY. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/db/pg_sort.h"
#include "core/util/err.h"

static int compile(const char *sort, krc_pg_sql *q)
{
    krc_pg_sql_init(q);
    json_t *s = sort != NULL ? json_loads(sort, 0, NULL) : NULL;
    int rc = krc_pg_sort(q, s, "doc", "id");
    json_decref(s);
    return rc;
}

static void test_nothing_to_sort(void **state)
{
    (void)state;
    krc_pg_sql q;
    assert_int_equal(compile(NULL, &q), 0);
    assert_string_equal(krc_pg_sql_text(&q), "");
    krc_pg_sql_free(&q);
    assert_int_equal(compile("{}", &q), 0);
    assert_string_equal(krc_pg_sql_text(&q), "");
    krc_pg_sql_free(&q);
}

static void test_type_order_then_value(void **state)
{
    (void)state;
    krc_pg_sql q;
    assert_int_equal(compile("{\"price\": -1}", &q), 0);
    assert_string_equal(krc_pg_sql_text(&q),
                        " ORDER BY CASE jsonb_typeof((doc->'price')) WHEN 'number' THEN 2 WHEN 'string' THEN 3 WHEN "
                        "'object' THEN 4 WHEN 'array' THEN 5 WHEN 'boolean' THEN 6 ELSE 1 END DESC, CASE WHEN "
                        "jsonb_typeof((doc->'price')) = 'number' THEN (doc->'price')::numeric END DESC, CASE WHEN "
                        "jsonb_typeof((doc->'price')) = 'string' THEN (doc->'price') #>> '{}' END COLLATE \"C\" DESC, "
                        "(doc->'price') DESC, id");
    assert_int_equal(q.nparams, 0);
    krc_pg_sql_free(&q);
}

static void test_id_and_dotted(void **state)
{
    (void)state;
    krc_pg_sql q;
    assert_int_equal(compile("{\"_id\": -1}", &q), 0);
    assert_string_equal(krc_pg_sql_text(&q), " ORDER BY id DESC");
    krc_pg_sql_free(&q);
    assert_int_equal(compile("{\"a.b\": 1, \"_id\": 1}", &q), 0);
    assert_non_null(strstr(krc_pg_sql_text(&q), "(doc #> '{a,b}'::text[]) ASC, id ASC"));
    krc_pg_sql_free(&q);
}

static void test_refusals(void **state)
{
    (void)state;
    static const char *const bad[] = {"{\"a\": 2}",
                                      "{\"a\": \"asc\"}",
                                      "{\"a\": {\"$meta\": \"textScore\"}}",
                                      "{\"a b\": 1}",
                                      "[1]",
                                      "{\"a'); drop table t; --\": 1}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        krc_pg_sql q;
        if (compile(bad[i], &q) != KR_EINVAL)
            fail_msg("%s was accepted", bad[i]);
        krc_pg_sql_free(&q);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_to_sort),
        cmocka_unit_test(test_type_order_then_value),
        cmocka_unit_test(test_id_and_dotted),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
