/* core/db/pg_update.c: MongoDB updates to SQL jsonb expressions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/db/pg_update.h"
#include "core/util/err.h"

static krc_pg_sql q;

static int compile(const char *update, int inserting)
{
    krc_pg_sql_free(&q);
    krc_pg_sql_init(&q);
    json_error_t e;
    json_t *u = json_loads(update, 0, &e);
    assert_non_null(u);
    int rc = krc_pg_update_is_replacement(u);
    if (rc == 0)
        rc = krc_pg_update(&q, u, "t.doc", inserting);
    else if (rc == 1)
        rc = krc_pg_update_replace(&q, u, "t.doc");
    json_decref(u);
    return rc;
}

static void expect_sql(const char *update, int inserting, const char *sql)
{
    if (compile(update, inserting) != 0)
        fail_msg("%s: %s", update, krc_err_msg());
    assert_string_equal(krc_pg_sql_text(&q), sql);
}

static void expect_contains(const char *update, const char *part)
{
    if (compile(update, 0) != 0)
        fail_msg("%s: %s", update, krc_err_msg());
    if (strstr(krc_pg_sql_text(&q), part) == NULL)
        fail_msg("%s\ncompiled to\n%s\nwithout\n%s", update, krc_pg_sql_text(&q), part);
}

static void expect_invalid(const char *update, const char *in_message)
{
    int rc = compile(update, 0);
    if (rc != KR_EINVAL)
        fail_msg("%s: expected KR_EINVAL, got %d (%s)", update, rc, krc_pg_sql_text(&q));
    if (strstr(krc_err_msg(), in_message) == NULL)
        fail_msg("%s: message \"%s\" does not name \"%s\"", update, krc_err_msg(), in_message);
}

static void test_single_steps(void **state)
{
    (void)state;
    expect_sql("{\"$set\": {\"a\": 1}}", 0, "(t.doc || jsonb_build_object('a', $1::jsonb))");
    assert_string_equal(q.params[0], "1");
    expect_sql("{\"$set\": {\"a.b.0\": {\"x\": \"y\"}}}", 0, "kirana_v1_set(t.doc, '{a,b,0}'::text[], $1::jsonb)");
    assert_string_equal(q.params[0], "{\"x\":\"y\"}");
    expect_sql("{\"$unset\": {\"a\": \"\"}}", 0, "(t.doc - 'a')");
    expect_sql("{\"$unset\": {\"a.b\": 1}}", 0, "kirana_v1_unset(t.doc, '{a,b}'::text[])");
    expect_sql("{\"$inc\": {\"stock\": -1}}", 0, "kirana_v1_inc(t.doc, '{stock}'::text[], $1::jsonb)");
    assert_string_equal(q.params[0], "-1");
    expect_sql("{\"$push\": {\"tags\": \"x\"}}", 0, "kirana_v1_push(t.doc, '{tags}'::text[], $1::jsonb)");
    assert_string_equal(q.params[0], "[\"x\"]");
    expect_sql("{\"$push\": {\"tags\": {\"$each\": [1, 2]}}}", 0, "kirana_v1_push(t.doc, '{tags}'::text[], $1::jsonb)");
    assert_string_equal(q.params[0], "[1,2]");
    expect_sql("{\"$push\": {\"tags\": {\"k\": 1}}}", 0, "kirana_v1_push(t.doc, '{tags}'::text[], $1::jsonb)");
    assert_string_equal(q.params[0], "[{\"k\":1}]");
    expect_sql("{\"$addToSet\": {\"tags\": [1]}}", 0, "kirana_v1_add_to_set(t.doc, '{tags}'::text[], $1::jsonb)");
    assert_string_equal(q.params[0], "[[1]]");
}

static void test_pull(void **state)
{
    (void)state;
    expect_sql("{\"$pull\": {\"holds\": {\"order\": \"o1\"}}}", 0,
               "kirana_v1_pull(t.doc, '{holds}'::text[], (SELECT coalesce(jsonb_agg(e1.x ORDER BY e1.i), "
               "'[]'::jsonb) FROM jsonb_array_elements(CASE WHEN jsonb_typeof((t.doc->'holds')) = 'array' THEN "
               "(t.doc->'holds') END) WITH ORDINALITY AS e1(x, i) WHERE NOT coalesce((((e1.x->'order') = $1::jsonb OR "
               "(jsonb_typeof(e1.x->'order') = 'array' AND jsonb_path_exists(e1.x, '$.\"order\"[*] ? (@ == "
               "$v)'::jsonpath, jsonb_build_object('v', $1::jsonb))))), false)))");
    expect_contains("{\"$pull\": {\"a.b\": {\"$gte\": 5}}}", "jsonb_array_elements(CASE WHEN jsonb_typeof((t.doc #> "
                                                             "'{a,b}'::text[])) = 'array'");
    expect_contains("{\"$pull\": {\"tags\": \"x\"}}", "WHERE NOT coalesce((e1.x = $1::jsonb), false)");
}

static void test_chained_steps(void **state)
{
    (void)state;
    expect_sql("{\"$inc\": {\"stock\": -2, \"reserved\": 2}, \"$push\": {\"holds\": {\"order\": \"o\", \"qty\": 2}}}",
               0,
               "(SELECT u4.d FROM (SELECT t.doc AS d) AS u1"
               " CROSS JOIN LATERAL (SELECT kirana_v1_inc(u1.d, '{stock}'::text[], $1::jsonb) AS d) AS u2"
               " CROSS JOIN LATERAL (SELECT kirana_v1_inc(u2.d, '{reserved}'::text[], $2::jsonb) AS d) AS u3"
               " CROSS JOIN LATERAL (SELECT kirana_v1_push(u3.d, '{holds}'::text[], $3::jsonb) AS d) AS u4)");
    assert_int_equal(q.nparams, 3);
    assert_string_equal(q.params[2], "[{\"order\":\"o\",\"qty\":2}]");
    /* a $pull inside a chain gets an alias past the chain's */
    expect_contains("{\"$inc\": {\"n\": 1}, \"$pull\": {\"holds\": {\"order\": \"o\"}}}",
                    "kirana_v1_pull(u2.d, '{holds}'::text[], (SELECT coalesce(jsonb_agg(e4.x ORDER BY e4.i)");
}

static void test_set_on_insert(void **state)
{
    (void)state;
    expect_sql("{\"$setOnInsert\": {\"a\": 1}}", 0, "(t.doc)");
    expect_sql("{\"$setOnInsert\": {\"a\": 1}}", 1, "(t.doc || jsonb_build_object('a', $1::jsonb))");
    expect_sql("{\"$setOnInsert\": {\"_id\": \"x\"}, \"$set\": {\"b\": 2}}", 1,
               "(t.doc || jsonb_build_object('b', $1::jsonb))");
    expect_invalid("{\"$setOnInsert\": {\"_id\": 5}}", "_id");
}

static void test_replacement(void **state)
{
    (void)state;
    expect_sql("{\"name\": \"n\"}", 0, "($1::jsonb || jsonb_build_object('_id', t.doc->'_id'))");
    assert_string_equal(q.params[0], "{\"name\":\"n\"}");
    expect_sql("{\"_id\": \"r\", \"name\": \"n\"}", 0,
               "(CASE WHEN (t.doc->'_id') = $1::jsonb THEN $2::jsonb ELSE kirana_v1_fail($3) END)");
    expect_sql("{}", 0, "($1::jsonb || jsonb_build_object('_id', t.doc->'_id'))");
    expect_invalid("{\"_id\": 1}", "_id");
}

static void test_refusals(void **state)
{
    (void)state;
    expect_invalid("{\"$rename\": {\"a\": \"b\"}}", "$rename");
    expect_invalid("{\"$currentDate\": {\"a\": true}}", "$currentDate");
    expect_invalid("{\"$set\": {\"a\": 1}, \"b\": 1}", "mixes");
    expect_invalid("{\"$set\": {}}", "$set");
    expect_invalid("{\"$set\": 5}", "$set");
    expect_invalid("{\"$set\": {\"_id\": \"x\"}}", "_id is immutable");
    expect_invalid("{\"$set\": {\"_id.x\": 1}}", "_id is immutable");
    expect_invalid("{\"$set\": {\"a\": 1}, \"$unset\": {\"a\": 1}}", "conflicts");
    expect_invalid("{\"$set\": {\"a.b\": 1}, \"$inc\": {\"a\": 1}}", "conflicts");
    expect_invalid("{\"$inc\": {\"a\": \"1\"}}", "$inc");
    expect_invalid("{\"$push\": {\"a\": {\"$each\": 1}}}", "$each");
    expect_invalid("{\"$push\": {\"a\": {\"$each\": [1], \"$slice\": 2}}}", "$slice");
    expect_invalid("{\"$addToSet\": {\"a\": {\"$position\": 0}}}", "$position");
    expect_invalid("{\"$pull\": {\"a\": {\"$gt\": 1, \"b\": 1}}}", "mixes");
    expect_invalid("{\"$pull\": {\"a\": {\"$where\": 1}}}", "$where");
    expect_invalid("{\"$set\": {\"a'); drop table t; --\": 1}}", "bad field path");
    expect_invalid("{\"$set\": {\"$x\": 1}}", "$x");
    /* no conflict between siblings that share a prefix of characters */
    assert_int_equal(compile("{\"$set\": {\"ab\": 1, \"a\": 2}}", 0), 0);
}

static void test_hostile_values_are_parameters(void **state)
{
    (void)state;
    assert_int_equal(compile("{\"$set\": {\"a\": \"'); drop table t; --\"}, \"$pull\": {\"b\": {\"c\": "
                             "\"'); drop table t; --\"}}, \"$push\": {\"d\": \"$1'); drop table t; --\"}}",
                             0),
                     0);
    assert_null(strstr(krc_pg_sql_text(&q), "drop table"));
    int found = 0;
    for (int i = 0; i < q.nparams; i++)
        found += strstr(q.params[i], "drop table") != NULL;
    assert_int_equal(found, 3);
}

static int teardown(void **state)
{
    (void)state;
    krc_pg_sql_free(&q);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_steps),
        cmocka_unit_test(test_pull),
        cmocka_unit_test(test_chained_steps),
        cmocka_unit_test(test_set_on_insert),
        cmocka_unit_test(test_replacement),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_hostile_values_are_parameters),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
