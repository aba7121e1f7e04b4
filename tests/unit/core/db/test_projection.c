/* core/db/projection.c: MongoDB projections on documents. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/db/projection.h"
#include "core/util/err.h"

static const char *doc_text = "{\"_id\": \"a\", \"name\": \"n\", \"price\": 5, \"sub\": {\"x\": 1, \"y\": 2}, "
                              "\"list\": [{\"k\": 1, \"v\": 2}, 3, [{\"k\": 4}]]}";

static void expect(const char *spec, const char *want)
{
    json_t *s = json_loads(spec, 0, NULL), *d = json_loads(doc_text, 0, NULL), *w = json_loads(want, 0, NULL);
    krc_db_projection *p = NULL;
    if (krc_db_projection_compile(s, &p) != 0)
        fail_msg("%s: %s", spec, krc_err_msg());
    json_t *got = krc_db_projection_apply(p, d);
    if (!json_equal(got, w))
        fail_msg("%s gave %s, expected %s", spec, json_dumps(got, JSON_SORT_KEYS), want);
    json_decref(got);
    krc_db_projection_free(p);
    json_decref(s);
    json_decref(d);
    json_decref(w);
}

static void test_inclusion(void **state)
{
    (void)state;
    expect("{\"name\": 1}", "{\"_id\": \"a\", \"name\": \"n\"}");
    expect("{\"name\": true, \"_id\": 0}", "{\"name\": \"n\"}");
    expect("{\"sub.y\": 1, \"missing\": 1}", "{\"_id\": \"a\", \"sub\": {\"y\": 2}}");
    expect("{\"list.k\": 1}", "{\"_id\": \"a\", \"list\": [{\"k\": 1}, [{\"k\": 4}]]}");
    expect("{\"_id\": 1}", "{\"_id\": \"a\"}");
    expect("{}", doc_text);
}

static void test_exclusion(void **state)
{
    (void)state;
    expect("{\"price\": 0, \"sub.x\": false}",
           "{\"_id\": \"a\", \"name\": \"n\", \"sub\": {\"y\": 2}, \"list\": [{\"k\": 1, \"v\": 2}, 3, [{\"k\": 4}]]}");
    expect("{\"_id\": 0, \"list\": 0, \"sub\": 0}", "{\"name\": \"n\", \"price\": 5}");
    expect("{\"list.v\": 0, \"name\": 0, \"price\": 0, \"sub\": 0}",
           "{\"_id\": \"a\", \"list\": [{\"k\": 1}, 3, [{\"k\": 4}]]}");
}

static void test_refusals(void **state)
{
    (void)state;
    static const char *const bad[] = {"{\"a\": 1, \"b\": 0}",
                                      "{\"a\": \"yes\"}",
                                      "{\"a\": {\"$slice\": 1}}",
                                      "{\"a\": 1, \"a.b\": 1}",
                                      "{\"a.b\": 1, \"a\": 1}",
                                      "{\"a b\": 1}",
                                      "[1]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *s = json_loads(bad[i], 0, NULL);
        krc_db_projection *p = NULL;
        if (krc_db_projection_compile(s, &p) != KR_EINVAL)
            fail_msg("%s was accepted", bad[i]);
        assert_null(p);
        json_decref(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inclusion),
        cmocka_unit_test(test_exclusion),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
