/* core/db/upsert.c: the document an upsert starts from. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/db/upsert.h"
#include "core/util/err.h"

static void expect(const char *filter, const char *want)
{
    json_t *f = json_loads(filter, 0, NULL), *w = json_loads(want, 0, NULL), *got = NULL;
    if (krc_db_upsert_base(f, &got) != 0)
        fail_msg("%s: %s", filter, krc_err_msg());
    if (!json_equal(got, w))
        fail_msg("%s gave %s, expected %s", filter, json_dumps(got, JSON_SORT_KEYS), want);
    json_decref(f);
    json_decref(w);
    json_decref(got);
}

static void test_equalities(void **state)
{
    (void)state;
    expect("{}", "{}");
    expect("{\"_id\": \"k\", \"stock\": {\"$gte\": 1}}", "{\"_id\": \"k\"}");
    expect("{\"a\": 1, \"b\": {\"$eq\": [1]}, \"c\": {\"x\": 1}}", "{\"a\": 1, \"b\": [1], \"c\": {\"x\": 1}}");
    expect("{\"a.b\": 1, \"a.c\": 2}", "{\"a\": {\"b\": 1, \"c\": 2}}");
    expect("{\"$and\": [{\"a\": 1}, {\"b\": {\"$in\": [1]}}], \"$or\": [{\"c\": 1}]}", "{\"a\": 1}");
    json_t *base = NULL;
    assert_int_equal(krc_db_upsert_base(NULL, &base), 0);
    assert_int_equal(json_object_size(base), 0);
    json_decref(base);
}

static void test_overlaps(void **state)
{
    (void)state;
    static const char *const bad[] = {"{\"a\": 1, \"a.b\": 2}", "{\"a\": 1, \"$and\": [{\"a\": 2}]}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *f = json_loads(bad[i], 0, NULL), *got = NULL;
        assert_int_equal(krc_db_upsert_base(f, &got), KR_EINVAL);
        assert_null(got);
        json_decref(f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equalities),
        cmocka_unit_test(test_overlaps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
