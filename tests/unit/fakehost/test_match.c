/* The fake host's filter matcher against MongoDB semantics, case by case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kirana/fakehost.h"

static const char *const product =
    "{\"_id\":\"p1\",\"name\":\"Apple\",\"price\":120,\"ratio\":1.5,\"tags\":[\"fruit\",\"red\"],"
    "\"stock\":10,\"active\":true,\"meta\":{\"origin\":\"IN\",\"grade\":{\"level\":2}},"
    "\"holds\":[{\"order\":\"o1\",\"qty\":2},{\"order\":\"o2\",\"qty\":1}],\"note\":null}";

static const char *const odd =
    "{\"_id\":\"x\",\"big\":9007199254740993,\"arr\":[[1,2],3],\"objs\":[{\"a\":[{\"b\":1}]}],\"empty\":[]}";

/* expect: 1 match, 0 no match, -1 KR_EINVAL whose message contains `names`. */
typedef struct mcase {
    const char *doc;
    const char *filter;
    int expect;
    const char *names;
} mcase;

static const mcase cases[] = {
    {product, "{}", 1, NULL},
    {product, "{\"name\":\"Apple\"}", 1, NULL},
    {product, "{\"name\":\"apple\"}", 0, NULL},
    {product, "{\"price\":120.0}", 1, NULL},
    {product, "{\"ratio\":1.5}", 1, NULL},
    {product, "{\"price\":{\"$eq\":120}}", 1, NULL},
    {product, "{\"price\":{\"$ne\":120}}", 0, NULL},
    {product, "{\"price\":{\"$gt\":100}}", 1, NULL},
    {product, "{\"price\":{\"$gt\":120}}", 0, NULL},
    {product, "{\"price\":{\"$gte\":120}}", 1, NULL},
    {product, "{\"price\":{\"$lt\":120.5}}", 1, NULL},
    {product, "{\"price\":{\"$lte\":119}}", 0, NULL},
    {product, "{\"price\":{\"$gt\":100,\"$lt\":200}}", 1, NULL},
    {product, "{\"price\":{\"$gt\":\"100\"}}", 0, NULL},
    {product, "{\"name\":{\"$gt\":\"A\"}}", 1, NULL},
    {product, "{\"name\":{\"$lt\":\"Apple\"}}", 0, NULL},
    {product, "{\"tags\":\"red\"}", 1, NULL},
    {product, "{\"tags\":[\"fruit\",\"red\"]}", 1, NULL},
    {product, "{\"tags\":[\"red\",\"fruit\"]}", 0, NULL},
    {product, "{\"tags\":{\"$ne\":\"green\"}}", 1, NULL},
    {product, "{\"tags\":{\"$ne\":\"red\"}}", 0, NULL},
    {product, "{\"tags\":{\"$in\":[\"green\",\"red\"]}}", 1, NULL},
    {product, "{\"tags\":{\"$nin\":[\"green\",\"red\"]}}", 0, NULL},
    {product, "{\"tags\":{\"$nin\":[\"green\"]}}", 1, NULL},
    {product, "{\"meta.origin\":\"IN\"}", 1, NULL},
    {product, "{\"meta.grade.level\":2}", 1, NULL},
    {product, "{\"meta.grade.level\":{\"$gte\":2.0}}", 1, NULL},
    {product, "{\"meta.missing\":null}", 1, NULL},
    {product, "{\"missing\":null}", 1, NULL},
    {product, "{\"note\":null}", 1, NULL},
    {product, "{\"note\":{\"$exists\":true}}", 1, NULL},
    {product, "{\"missing\":{\"$exists\":true}}", 0, NULL},
    {product, "{\"missing\":{\"$exists\":false}}", 1, NULL},
    {product, "{\"price\":{\"$exists\":0}}", 0, NULL},
    {product, "{\"price\":{\"$ne\":null}}", 1, NULL},
    {product, "{\"missing\":{\"$ne\":null}}", 0, NULL},
    {product, "{\"holds.order\":\"o1\"}", 1, NULL},
    {product, "{\"holds.order\":\"o3\"}", 0, NULL},
    {product, "{\"holds.order\":{\"$ne\":\"o3\"}}", 1, NULL},
    {product, "{\"holds.order\":{\"$ne\":\"o1\"}}", 0, NULL},
    {product, "{\"holds.qty\":{\"$gt\":1}}", 1, NULL},
    {product, "{\"holds.qty\":{\"$gt\":2}}", 0, NULL},
    {product, "{\"holds.order\":{\"$in\":[\"o9\",\"o2\"]}}", 1, NULL},
    {product, "{\"holds.order\":{\"$nin\":[\"o1\"]}}", 0, NULL},
    {product, "{\"holds.order\":{\"$exists\":true}}", 1, NULL},
    {product, "{\"holds.0.order\":\"o1\"}", 1, NULL},
    {product, "{\"holds.1.order\":\"o1\"}", 0, NULL},
    {product, "{\"holds.5.order\":null}", 1, NULL},
    {product, "{\"tags.0\":\"fruit\"}", 1, NULL},
    {product, "{\"holds\":{\"order\":\"o1\",\"qty\":2}}", 1, NULL},
    {product, "{\"holds\":{\"qty\":2,\"order\":\"o1\"}}", 1, NULL},
    {product, "{\"holds\":{\"order\":\"o1\"}}", 0, NULL},
    {product, "{\"meta\":{\"origin\":\"IN\",\"grade\":{\"level\":2}}}", 1, NULL},
    {product, "{\"meta.grade\":{\"level\":2}}", 1, NULL},
    {product, "{\"meta.grade.level.deeper\":null}", 1, NULL},
    {product, "{\"name\":{\"$regex\":\"^app\",\"$options\":\"i\"}}", 1, NULL},
    {product, "{\"name\":{\"$regex\":\"^app\"}}", 0, NULL},
    {product, "{\"name\":{\"$regex\":\"PL+E$\",\"$options\":\"i\"}}", 1, NULL},
    {product, "{\"tags\":{\"$regex\":\"^r\"}}", 1, NULL},
    {product, "{\"price\":{\"$regex\":\"1\"}}", 0, NULL},
    {product, "{\"$or\":[{\"price\":1},{\"name\":\"Apple\"}]}", 1, NULL},
    {product, "{\"$or\":[{\"price\":1},{\"name\":\"Pear\"}]}", 0, NULL},
    {product, "{\"$and\":[{\"price\":120},{\"stock\":{\"$gte\":1}}]}", 1, NULL},
    {product, "{\"$and\":[{\"price\":120},{\"stock\":{\"$gte\":11}}]}", 0, NULL},
    {product, "{\"$or\":[{\"$and\":[{\"price\":120},{\"active\":false}]},{\"meta.origin\":\"IN\"}]}", 1, NULL},
    {product, "{\"$nor\":[{\"holds.order\":\"o1\"}]}", 0, NULL},
    {product, "{\"$nor\":[{\"holds.order\":\"o3\"},{\"price\":1}]}", 1, NULL},
    {product, "{\"$nor\":[{\"price\":1},{\"name\":\"Apple\"}]}", 0, NULL},
    {product, "{\"_id\":\"p1\",\"stock\":{\"$gte\":10},\"$nor\":[{\"holds.order\":\"o9\"}]}", 1, NULL},
    {product, "{\"active\":true}", 1, NULL},
    {product, "{\"active\":1}", 0, NULL},
    {product, "{\"active\":{\"$gt\":false}}", 1, NULL},
    {product, "{\"_id\":\"p1\",\"active\":true,\"stock\":{\"$gte\":10},\"holds.order\":{\"$ne\":\"o9\"}}", 1, NULL},
    {product, "{\"_id\":\"p1\",\"active\":true,\"stock\":{\"$gte\":11},\"holds.order\":{\"$ne\":\"o9\"}}", 0, NULL},
    {product, "{\"price\":{\"$in\":[120.0]}}", 1, NULL},
    {product, "{\"ratio\":{\"$in\":[1,2]}}", 0, NULL},
    {product, "{\"missing\":{\"$in\":[null]}}", 1, NULL},
    {product, "{\"missing\":{\"$gte\":null}}", 1, NULL},
    {product, "{\"missing\":{\"$gt\":null}}", 0, NULL},
    {odd, "{\"big\":9007199254740992}", 0, NULL},
    {odd, "{\"big\":9007199254740993}", 1, NULL},
    {odd, "{\"arr\":[1,2]}", 1, NULL},
    {odd, "{\"arr\":1}", 0, NULL},
    {odd, "{\"arr\":3}", 1, NULL},
    {odd, "{\"objs.a.b\":1}", 1, NULL},
    {odd, "{\"objs.a.b\":{\"$ne\":1}}", 0, NULL},
    {odd, "{\"empty\":null}", 0, NULL},
    {odd, "{\"empty.x\":null}", 1, NULL},
    {odd, "{\"empty\":[]}", 1, NULL},
    /* outside the subset: KR_EINVAL naming the operator */
    {product, "{\"tags\":{\"$size\":2}}", -1, "$size"},
    {product, "{\"$nor\":[]}", -1, "$nor"},
    {product, "{\"price\":{\"$gt\":1,\"x\":2}}", -1, "'x'"},
    {product, "{\"price\":{\"$in\":5}}", -1, "$in"},
    {product, "{\"price\":{\"$nin\":{\"a\":1}}}", -1, "$nin"},
    {product, "{\"name\":{\"$options\":\"i\"}}", -1, "$options"},
    {product, "{\"name\":{\"$regex\":\"a\",\"$options\":\"m\"}}", -1, "option 'm'"},
    {product, "{\"name\":{\"$regex\":\"(\"}}", -1, "$regex"},
    {product, "{\"name\":{\"$regex\":5}}", -1, "$regex"},
    {product, "{\"$or\":[]}", -1, "$or"},
    {product, "{\"$and\":{\"a\":1}}", -1, "$and"},
    {product, "{\"price\":{\"$elemMatch\":{}}}", -1, "$elemMatch"},
    {product, "{\"price\":{\"$not\":{\"$gt\":1}}}", -1, "$not"},
    {product, "{\"price\":{\"$exists\":\"yes\"}}", -1, "$exists"},
    {product, "{\"a..b\":1}", -1, "a..b"},
    {product, "{\"price\":1,\"tags\":{\"$all\":[\"x\"]}}", -1, "$all"},
    {product, "{\"$or\":[{\"name\":\"Apple\"},{\"x\":{\"$where\":1}}]}", -1, "$where"},
    {product, "{\"$expr\":{}}", -1, "$expr"},
};

static void test_cases(void **state)
{
    (void)state;
    size_t failed = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const mcase *c = &cases[i];
        json_error_t jerr;
        json_t *doc = json_loads(c->doc, 0, &jerr), *filter = json_loads(c->filter, 0, &jerr);
        assert_non_null(doc);
        if (filter == NULL)
            fail_msg("case %zu: bad JSON %s", i, c->filter);
        char err[256] = "";
        int r = kr_fake_match(filter, doc, err, sizeof(err));
        int got = r < 0 ? -1 : r;
        if (got != c->expect || (r < 0 && r != KR_EINVAL) || (c->names != NULL && strstr(err, c->names) == NULL)) {
            print_error("case %zu: %s got %d (%s), want %d\n", i, c->filter, r, err, c->expect);
            failed++;
        }
        json_decref(doc);
        json_decref(filter);
    }
    assert_int_equal(failed, 0);
}

static void test_null_filter_matches_all(void **state)
{
    (void)state;
    json_t *doc = json_pack("{ss}", "_id", "a");
    assert_int_equal(kr_fake_match(NULL, doc, NULL, 0), 1);
    json_t *not_object = json_array();
    assert_int_equal(kr_fake_match(not_object, doc, NULL, 0), KR_EINVAL);
    json_decref(not_object);
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_null_filter_matches_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
