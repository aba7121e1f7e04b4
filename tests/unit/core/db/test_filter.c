/* core/db/pg_filter.c: MongoDB filters to SQL text and parameters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/db/pg_filter.h"
#include "core/util/err.h"

typedef struct compiled {
    krc_pg_sql q;
    int rc;
} compiled;

static compiled *compile_doc(const char *filter)
{
    static compiled c;
    krc_pg_sql_free(&c.q);
    krc_pg_sql_init(&c.q);
    json_error_t e;
    json_t *f = json_loads(filter, 0, &e);
    assert_non_null(f);
    c.rc = krc_pg_filter(&c.q, f, "doc", "id");
    json_decref(f);
    return &c;
}

static void expect_sql(const char *filter, const char *sql)
{
    compiled *c = compile_doc(filter);
    if (c->rc != 0)
        fail_msg("%s: %s", filter, krc_err_msg());
    assert_string_equal(krc_pg_sql_text(&c->q), sql);
}

static void expect_contains(const char *filter, const char *part)
{
    compiled *c = compile_doc(filter);
    if (c->rc != 0)
        fail_msg("%s: %s", filter, krc_err_msg());
    if (strstr(krc_pg_sql_text(&c->q), part) == NULL)
        fail_msg("%s\ncompiled to\n%s\nwithout\n%s", filter, krc_pg_sql_text(&c->q), part);
}

static void expect_invalid(const char *filter, const char *in_message)
{
    compiled *c = compile_doc(filter);
    assert_int_equal(c->rc, KR_EINVAL);
    if (strstr(krc_err_msg(), in_message) == NULL)
        fail_msg("%s: message \"%s\" does not name \"%s\"", filter, krc_err_msg(), in_message);
}

static void test_empty_and_null(void **state)
{
    (void)state;
    expect_sql("{}", "TRUE");
    krc_pg_sql q;
    krc_pg_sql_init(&q);
    assert_int_equal(krc_pg_filter(&q, NULL, "doc", "id"), 0);
    assert_string_equal(krc_pg_sql_text(&q), "TRUE");
    krc_pg_sql_free(&q);
}

static void test_id_uses_the_primary_key(void **state)
{
    (void)state;
    compiled *c = compile_doc("{\"_id\": \"abc\"}");
    assert_int_equal(c->rc, 0);
    assert_string_equal(krc_pg_sql_text(&c->q), "((id = $1))");
    assert_int_equal(c->q.nparams, 1);
    assert_string_equal(c->q.params[0], "abc");

    c = compile_doc("{\"_id\": {\"$in\": [\"a\", \"b\\\"c\"]}}");
    assert_int_equal(c->rc, 0);
    assert_string_equal(krc_pg_sql_text(&c->q), "(((id = ANY($1::text[]))))");
    assert_string_equal(c->q.params[0], "{\"a\",\"b\\\"c\"}");
}

static void test_top_level_equality_is_index_friendly(void **state)
{
    (void)state;
    compiled *c = compile_doc("{\"phone\": \"+911234\"}");
    assert_int_equal(c->rc, 0);
    assert_string_equal(krc_pg_sql_text(&c->q),
                        "(((doc->'phone') = $1::jsonb OR (jsonb_typeof(doc->'phone') = 'array' AND "
                        "jsonb_path_exists(doc, '$.\"phone\"[*] ? (@ == $v)'::jsonpath, jsonb_build_object('v', "
                        "$1::jsonb)))))");
    assert_string_equal(c->q.params[0], "\"+911234\"");
}

static void test_dotted_paths_look_through_arrays(void **state)
{
    (void)state;
    expect_sql("{\"holds.order\": \"o1\"}",
               "(jsonb_path_exists(doc, '$.\"holds\".\"order\"[*] ? (@ == $v)'::jsonpath, jsonb_build_object('v', "
               "$1::jsonb)))");
    expect_contains("{\"a.0.b\": 1}", "'$.\"a\"[0].\"b\"[*] ? (@ == $v)'::jsonpath");
    expect_contains("{\"holds.order\": {\"$ne\": \"o1\"}}",
                    "(NOT coalesce(jsonb_path_exists(doc, '$.\"holds\".\"order\"[*] ? (@ == $v)'::jsonpath, "
                    "jsonb_build_object('v', $1::jsonb)), false))");
}

static void test_comparisons(void **state)
{
    (void)state;
    expect_contains("{\"stock\": {\"$gte\": 1}}", "'$.\"stock\"[*] ? (@ >= $v)'::jsonpath");
    expect_contains("{\"stock\": {\"$gt\": 1.5}}", "(@ > $v)");
    expect_contains("{\"name\": {\"$lt\": \"m\"}}", "(@ < $v)");
    expect_contains("{\"ok\": {\"$lte\": true}}", "(@ <= $v)");
    compiled *c = compile_doc("{\"stock\": {\"$gte\": 1, \"$lt\": 10}}");
    assert_int_equal(c->rc, 0);
    assert_non_null(strstr(krc_pg_sql_text(&c->q), " AND "));
    assert_int_equal(c->q.nparams, 2);
    assert_string_equal(c->q.params[0], "1");
    assert_string_equal(c->q.params[1], "10");
    expect_contains("{\"a\": {\"$eq\": 5}}", "(doc->'a') = $1::jsonb");
}

static void test_null_matches_missing(void **state)
{
    (void)state;
    expect_contains("{\"a\": null}", "(doc->'a') IS NULL OR (doc->'a') = 'null'::jsonb");
    expect_contains("{\"a.b\": null}", "OR NOT jsonb_path_exists(doc, '$.\"a\".\"b\"'::jsonpath)");
    expect_contains("{\"a\": {\"$ne\": null}}", "NOT coalesce(");
}

static void test_in_and_nin(void **state)
{
    (void)state;
    compiled *c = compile_doc("{\"status\": {\"$in\": [\"a\", 2, null]}}");
    assert_int_equal(c->rc, 0);
    const char *sql = krc_pg_sql_text(&c->q);
    assert_non_null(strstr(sql, "(doc->'status') = ANY($1::jsonb[])"));
    assert_non_null(strstr(sql, "(doc->'status') IS NULL"));
    assert_string_equal(c->q.params[0], "{\"\\\"a\\\"\",\"2\"}");
    expect_contains("{\"a.b\": {\"$in\": [1]}}",
                    "EXISTS (SELECT 1 FROM jsonb_path_query(doc, '$.\"a\".\"b\"'::jsonpath)");
    expect_contains("{\"a\": {\"$in\": []}}", "FALSE");
    expect_contains("{\"a\": {\"$nin\": [1, 2]}}", "(NOT coalesce((");
    expect_contains("{\"a\": {\"$nin\": []}}", "(NOT coalesce(FALSE, false))");
}

static void test_documents_and_arrays_compare_whole(void **state)
{
    (void)state;
    compiled *c = compile_doc("{\"a\": {\"x\": 1}}");
    assert_int_equal(c->rc, 0);
    assert_non_null(strstr(krc_pg_sql_text(&c->q), "= ANY($1::jsonb[])"));
    assert_string_equal(c->q.params[0], "{\"{\\\"x\\\":1}\"}");
    expect_contains("{\"a\": [1, 2]}", "= ANY($1::jsonb[])");
    expect_contains("{\"a\": {}}", "= ANY($1::jsonb[])");
}

static void test_exists(void **state)
{
    (void)state;
    expect_sql("{\"a\": {\"$exists\": true}}", "(((doc ? 'a')))");
    expect_sql("{\"a\": {\"$exists\": false}}", "(((NOT doc ? 'a')))");
    expect_sql("{\"a.b\": {\"$exists\": 1}}", "(((jsonb_path_exists(doc, '$.\"a\".\"b\"'::jsonpath))))");
    expect_invalid("{\"a\": {\"$exists\": \"yes\"}}", "$exists");
}

static void test_regex(void **state)
{
    (void)state;
    compiled *c = compile_doc("{\"name\": {\"$regex\": \"^ab\\\\b\", \"$options\": \"i\"}}");
    assert_int_equal(c->rc, 0);
    assert_non_null(strstr(krc_pg_sql_text(&c->q), "jsonb_typeof(k1.x) = 'string' AND (k1.x #>> '{}') ~ $1"));
    assert_string_equal(c->q.params[0], "(?pi)^ab\\y");
    expect_invalid("{\"name\": {\"$options\": \"i\"}}", "$options without $regex");
    expect_invalid("{\"name\": {\"$regex\": \"a\", \"$options\": \"u\"}}", "'u'");
    expect_invalid("{\"name\": {\"$regex\": 5}}", "$regex");
}

static void test_and_or(void **state)
{
    (void)state;
    compiled *c = compile_doc("{\"$or\": [{\"a\": 1}, {\"$and\": [{\"b\": 2}, {\"c\": 3}]}]}");
    assert_int_equal(c->rc, 0);
    const char *sql = krc_pg_sql_text(&c->q);
    assert_non_null(strstr(sql, " OR "));
    assert_non_null(strstr(sql, " AND "));
    assert_int_equal(c->q.nparams, 3);
    expect_invalid("{\"$or\": []}", "$or");
    expect_invalid("{\"$and\": {}}", "$and");
    expect_invalid("{\"$or\": [1]}", "JSON object");
}

static void test_nor(void **state)
{
    (void)state;
    compiled *c = compile_doc("{\"_id\": \"p\", \"$nor\": [{\"holds.order\": \"o1\"}, {\"a\": 2}]}");
    assert_int_equal(c->rc, 0);
    const char *sql = krc_pg_sql_text(&c->q);
    /* a NULL inside (no value reached) must not make the NOT unknown */
    assert_non_null(strstr(sql, "(NOT coalesce(("));
    assert_non_null(strstr(sql, " OR "));
    assert_non_null(strstr(sql, "), false))"));
    assert_int_equal(c->q.nparams, 3);
    expect_invalid("{\"$nor\": []}", "$nor");
    expect_invalid("{\"$nor\": {\"a\": 1}}", "$nor");
    expect_invalid("{\"$nor\": [{\"a\": {\"$not\": 1}}]}", "$not");
}

static void test_unsupported_operators_are_named(void **state)
{
    (void)state;
    expect_invalid("{\"$where\": \"1\"}", "$where");
    expect_invalid("{\"$expr\": {}}", "$expr");
    expect_invalid("{\"a\": {\"$elemMatch\": {\"b\": 1}}}", "$elemMatch");
    expect_invalid("{\"a\": {\"$not\": {\"$gt\": 1}}}", "$not");
    expect_invalid("{\"a\": {\"$size\": 1}}", "$size");
    expect_invalid("{\"a\": {\"$gt\": 1, \"b\": 2}}", "mixes operators");
    expect_invalid("{\"a\": {\"$gt\": {}}}", "$gt");
    expect_invalid("{\"a\": {\"$gte\": null}}", "$gte");
    expect_invalid("{\"a\": {\"$in\": 5}}", "$in");
}

static void test_hostile_field_names_are_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"a'); drop table x; --\": 1}",
        "{\"a b\": 1}",
        "{\"a..b\": 1}",
        "{\".a\": 1}",
        "{\"a.\": 1}",
        "{\"\": 1}",
        "{\"a\\\"b\": 1}",
        "{\"a.b'\": 1}",
        "{\"a-b\": 1}",
        "{\"a.1234567890\": 1}",
        "{\"é\": 1}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        compiled *c = compile_doc(bad[i]);
        if (c->rc != KR_EINVAL)
            fail_msg("%s was accepted: %s", bad[i], krc_pg_sql_text(&c->q));
    }
}

static void test_hostile_values_are_parameters(void **state)
{
    (void)state;
    const char *filters[] = {
        "{\"name\": \"'); drop table x; --\"}",
        "{\"a.b\": \"'); drop table x; --\"}",
        "{\"a\": {\"$in\": [\"'); drop table x; --\", {\"k\": \"'); drop table x; --\"}]}}",
        "{\"a\": {\"$regex\": \"'); drop table x; --\"}}",
        "{\"_id\": \"'); drop table x; --\"}",
        "{\"a\": {\"$gt\": \"$v'); drop table x; --\"}}",
    };
    for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
        compiled *c = compile_doc(filters[i]);
        assert_int_equal(c->rc, 0);
        if (strstr(krc_pg_sql_text(&c->q), "drop table") != NULL)
            fail_msg("%s spliced a value into SQL: %s", filters[i], krc_pg_sql_text(&c->q));
        int found = 0;
        for (int p = 0; p < c->q.nparams; p++)
            found |= strstr(c->q.params[p], "drop table") != NULL;
        assert_true(found);
    }
}

static void test_nesting_is_bounded(void **state)
{
    (void)state;
    char f[2048] = "";
    for (int i = 0; i < 40; i++)
        strcat(f, "{\"$and\": [");
    strcat(f, "{}");
    for (int i = 0; i < 40; i++)
        strcat(f, "]}");
    expect_invalid(f, "nested deeper");
}

static void test_pull_conditions(void **state)
{
    (void)state;
    krc_pg_sql q;
    krc_pg_sql_init(&q);
    json_t *cond = json_pack("{s:s}", "order", "o1");
    assert_int_equal(krc_pg_filter_pull(&q, cond, "e1.x"), 0);
    assert_non_null(strstr(krc_pg_sql_text(&q), "(e1.x->'order') = $1::jsonb"));
    json_decref(cond);
    krc_pg_sql_free(&q);

    krc_pg_sql_init(&q);
    cond = json_pack("{s:i}", "$gte", 6);
    assert_int_equal(krc_pg_filter_pull(&q, cond, "e1.x"), 0);
    assert_string_equal(krc_pg_sql_text(&q),
                        "(jsonb_path_exists(e1.x, '$[*] ? (@ >= $v)'::jsonpath, jsonb_build_object('v', $1::jsonb)))");
    json_decref(cond);
    krc_pg_sql_free(&q);

    krc_pg_sql_init(&q);
    cond = json_string("tag");
    assert_int_equal(krc_pg_filter_pull(&q, cond, "e1.x"), 0);
    assert_string_equal(krc_pg_sql_text(&q), "(e1.x = $1::jsonb)");
    assert_string_equal(q.params[0], "\"tag\"");
    json_decref(cond);
    krc_pg_sql_free(&q);

    krc_pg_sql_init(&q);
    cond = json_pack("{s:i,s:i}", "$gte", 6, "b", 1);
    assert_int_equal(krc_pg_filter_pull(&q, cond, "e1.x"), KR_EINVAL);
    json_decref(cond);
    krc_pg_sql_free(&q);
}

static int teardown(void **state)
{
    (void)state;
    compiled *c = compile_doc("{}");
    krc_pg_sql_free(&c->q);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_and_null),
        cmocka_unit_test(test_id_uses_the_primary_key),
        cmocka_unit_test(test_top_level_equality_is_index_friendly),
        cmocka_unit_test(test_dotted_paths_look_through_arrays),
        cmocka_unit_test(test_comparisons),
        cmocka_unit_test(test_null_matches_missing),
        cmocka_unit_test(test_in_and_nin),
        cmocka_unit_test(test_documents_and_arrays_compare_whole),
        cmocka_unit_test(test_exists),
        cmocka_unit_test(test_nor),
        cmocka_unit_test(test_regex),
        cmocka_unit_test(test_and_or),
        cmocka_unit_test(test_unsupported_operators_are_named),
        cmocka_unit_test(test_hostile_field_names_are_refused),
        cmocka_unit_test(test_hostile_values_are_parameters),
        cmocka_unit_test(test_nesting_is_bounded),
        cmocka_unit_test(test_pull_conditions),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
