/* core/db/pg_schema.c: table, index and helper DDL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/db/pg_schema.h"
#include "core/util/err.h"

static void test_index_names(void **state)
{
    (void)state;
    char out[64], again[64];
    krc_pg_schema_index_name("users", "phone_1", out);
    assert_string_equal(out, "users.phone_1");
    /* collection names have no '.', so these cannot collide */
    krc_pg_schema_index_name("a_b", "c", out);
    krc_pg_schema_index_name("a", "b_c", again);
    assert_string_not_equal(out, again);
    const char *longname = "a234567890123456789012345678901234567890123456789012345678901";
    krc_pg_schema_index_name(longname, "phone_1", out);
    assert_int_equal(out[0], '~');
    assert_int_equal(strlen(out), 17);
    krc_pg_schema_index_name(longname, "phone_1", again);
    assert_string_equal(out, again);
    krc_pg_schema_index_name(longname, "phone_2", again);
    assert_string_not_equal(out, again);
}

static void test_table(void **state)
{
    (void)state;
    krc_pg_sql q;
    krc_pg_sql_init(&q);
    krc_pg_schema_table_sql(&q, "orders");
    assert_non_null(strstr(krc_pg_sql_text(&q), "pg_advisory_xact_lock("));
    assert_non_null(strstr(krc_pg_sql_text(&q),
                           "CREATE TABLE IF NOT EXISTS \"orders\" (id text COLLATE \"C\" NOT NULL, doc jsonb NOT "
                           "NULL, CONSTRAINT \"orders._id_\" PRIMARY KEY (id));"));
    krc_pg_sql_free(&q);
}

static int index_sql(const char *keys, int unique, const char *name, krc_pg_sql *q, char user[128])
{
    krc_pg_sql_init(q);
    json_t *k = json_loads(keys, 0, NULL);
    int rc = krc_pg_schema_index_sql(q, "users", k, unique, name, user);
    json_decref(k);
    return rc;
}

static void test_indexes(void **state)
{
    (void)state;
    krc_pg_sql q;
    char user[128];
    assert_int_equal(index_sql("{\"phone\": 1}", 1, NULL, &q, user), 0);
    assert_string_equal(user, "phone_1");
    const char *sql = krc_pg_sql_text(&q);
    assert_non_null(strstr(sql, "CREATE UNIQUE INDEX IF NOT EXISTS \"users.phone_1\" ON \"users\" ((doc->'phone'));"));
    assert_non_null(strstr(sql, "CREATE INDEX IF NOT EXISTS \"users.phone_1~arr\" ON \"users\" ((doc->'phone')) "
                                "WHERE jsonb_typeof(doc->'phone') = 'array';"));
    krc_pg_sql_free(&q);

    assert_int_equal(index_sql("{\"a.b\": -1, \"_id\": 1}", 0, "ab", &q, user), 0);
    assert_string_equal(user, "ab");
    assert_non_null(
        strstr(krc_pg_sql_text(&q),
               "CREATE INDEX IF NOT EXISTS \"users.ab\" ON \"users\" ((doc #> '{a,b}'::text[]) DESC, id);"));
    assert_null(strstr(krc_pg_sql_text(&q), "~arr"));
    krc_pg_sql_free(&q);

    static const struct {
        const char *keys, *name;
    } bad[] = {{"{\"a\": 2}", NULL},        {"{\"a\": \"text\"}", NULL}, {"{\"a b\": 1}", NULL},
               {"{\"a\": 1}", "x\"; drop"}, {"{\"a\": 1}", ""},          {"{\"$a\": 1}", NULL}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (index_sql(bad[i].keys, 0, bad[i].name, &q, user) != KR_EINVAL)
            fail_msg("%s %s was accepted", bad[i].keys, bad[i].name ? bad[i].name : "");
        krc_pg_sql_free(&q);
    }
}

static void test_helpers_are_versioned(void **state)
{
    (void)state;
    krc_pg_sql q;
    krc_pg_sql_init(&q);
    krc_pg_schema_helpers_sql(&q);
    const char *sql = krc_pg_sql_text(&q);
    static const char *const fns[] = {"fail", "set", "unset", "inc", "push", "add_to_set", "pull", "helpers"};
    for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
        char want[64];
        snprintf(want, sizeof(want), "CREATE OR REPLACE FUNCTION kirana_v1_%s(", fns[i]);
        assert_non_null(strstr(sql, want));
    }
    assert_non_null(strstr(sql, "pg_advisory_xact_lock("));
    char version[17], line[64];
    krc_pg_schema_helpers_version(version);
    assert_int_equal(strlen(version), 16);
    snprintf(line, sizeof(line), "SELECT '%s'::text", version);
    assert_non_null(strstr(sql, line));
    krc_pg_sql_free(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_names),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_indexes),
        cmocka_unit_test(test_helpers_are_versioned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
