/* The fake host's update operators and upsert documents against MongoDB
 * semantics, case by case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kirana/fakehost.h"

/* expect: 1 changed, 0 unchanged (then `after` is the input), -1 KR_EINVAL
 * whose message contains `after` and leaves the document as it was. */
typedef struct ucase {
    const char *doc;
    const char *update;
    int is_insert;
    int expect;
    const char *after;
} ucase;

#define HOLDS "\"holds\":[{\"order\":\"o1\",\"qty\":2},{\"order\":\"o2\",\"qty\":1}]"

static const ucase cases[] = {
    {"{\"_id\":\"a\",\"n\":1}", "{\"$set\":{\"n\":2}}", 0, 1, "{\"_id\":\"a\",\"n\":2}"},
    {"{\"_id\":\"a\",\"n\":1}", "{\"$set\":{\"n\":1}}", 0, 0, NULL},
    {"{\"_id\":\"a\",\"n\":1}", "{\"$set\":{\"n\":1.0}}", 0, 1, "{\"_id\":\"a\",\"n\":1.0}"},
    {"{\"_id\":\"a\"}", "{\"$set\":{\"x.y.z\":1}}", 0, 1, "{\"_id\":\"a\",\"x\":{\"y\":{\"z\":1}}}"},
    {"{\"_id\":\"a\",\"x\":{\"k\":0}}", "{\"$set\":{\"x.y\":1}}", 0, 1, "{\"_id\":\"a\",\"x\":{\"k\":0,\"y\":1}}"},
    {"{\"_id\":\"a\",\"n\":1}", "{\"$set\":{\"n.y\":1}}", 0, -1, "n.y"},
    {"{\"_id\":\"a\",\"n\":1}", "{\"$unset\":{\"n\":\"\"}}", 0, 1, "{\"_id\":\"a\"}"},
    {"{\"_id\":\"a\",\"n\":1}", "{\"$unset\":{\"missing.x\":1}}", 0, 0, NULL},
    {"{\"_id\":\"a\",\"l\":[1,2]}", "{\"$unset\":{\"l.0\":1}}", 0, 1, "{\"_id\":\"a\",\"l\":[null,2]}"},
    {"{\"_id\":\"a\",\"n\":1}", "{\"$inc\":{\"n\":2}}", 0, 1, "{\"_id\":\"a\",\"n\":3}"},
    {"{\"_id\":\"a\",\"n\":1}", "{\"$inc\":{\"n\":1.5}}", 0, 1, "{\"_id\":\"a\",\"n\":2.5}"},
    {"{\"_id\":\"a\",\"n\":1}", "{\"$inc\":{\"n\":0}}", 0, 0, NULL},
    {"{\"_id\":\"a\"}", "{\"$inc\":{\"m\":-5}}", 0, 1, "{\"_id\":\"a\",\"m\":-5}"},
    {"{\"_id\":\"a\",\"s\":\"x\"}", "{\"$inc\":{\"s\":1}}", 0, -1, "non-numeric"},
    {"{\"_id\":\"a\",\"n\":1}", "{\"$inc\":{\"n\":\"1\"}}", 0, -1, "$inc"},
    {"{\"_id\":\"a\",\"n\":9223372036854775807}", "{\"$inc\":{\"n\":1}}", 0, -1, "overflow"},
    {"{\"_id\":\"a\"}", "{\"$push\":{\"t\":\"x\"}}", 0, 1, "{\"_id\":\"a\",\"t\":[\"x\"]}"},
    {"{\"_id\":\"a\",\"t\":[\"z\"]}", "{\"$push\":{\"t\":{\"$each\":[\"a\",\"b\"]}}}", 0, 1,
     "{\"_id\":\"a\",\"t\":[\"z\",\"a\",\"b\"]}"},
    {"{\"_id\":\"a\",\"t\":[\"z\"]}", "{\"$push\":{\"t\":[\"a\"]}}", 0, 1, "{\"_id\":\"a\",\"t\":[\"z\",[\"a\"]]}"},
    {"{\"_id\":\"a\",\"n\":1}", "{\"$push\":{\"n\":1}}", 0, -1, "non-array"},
    {"{\"_id\":\"a\"}", "{\"$push\":{\"t\":{\"$each\":[1],\"$slice\":2}}}", 0, -1, "$slice"},
    {"{\"_id\":\"a\"}", "{\"$push\":{\"t\":{\"$each\":1}}}", 0, -1, "$each"},
    {"{\"_id\":\"a\",\"t\":[\"a\"]}", "{\"$addToSet\":{\"t\":\"a\"}}", 0, 0, NULL},
    {"{\"_id\":\"a\",\"t\":[\"a\"]}", "{\"$addToSet\":{\"t\":{\"$each\":[\"a\",\"b\",\"b\"]}}}", 0, 1,
     "{\"_id\":\"a\",\"t\":[\"a\",\"b\"]}"},
    {"{\"_id\":\"a\",\"t\":[1]}", "{\"$addToSet\":{\"t\":1.0}}", 0, 0, NULL},
    {"{\"_id\":\"a\",\"t\":[{\"k\":1,\"v\":2}]}", "{\"$addToSet\":{\"t\":{\"v\":2,\"k\":1}}}", 0, 0, NULL},
    {"{\"_id\":\"a\",\"t\":[\"a\",\"b\",\"a\"]}", "{\"$pull\":{\"t\":\"a\"}}", 0, 1, "{\"_id\":\"a\",\"t\":[\"b\"]}"},
    {"{\"_id\":\"a\"," HOLDS "}", "{\"$pull\":{\"holds\":{\"order\":\"o1\"}}}", 0, 1,
     "{\"_id\":\"a\",\"holds\":[{\"order\":\"o2\",\"qty\":1}]}"},
    {"{\"_id\":\"a\"," HOLDS "}", "{\"$pull\":{\"holds\":{\"qty\":{\"$gt\":1}}}}", 0, 1,
     "{\"_id\":\"a\",\"holds\":[{\"order\":\"o2\",\"qty\":1}]}"},
    {"{\"_id\":\"a\"," HOLDS "}", "{\"$pull\":{\"holds\":{\"order\":\"o9\"}}}", 0, 0, NULL},
    {"{\"_id\":\"a\"," HOLDS "}", "{\"$pull\":{\"holds\":{\"order\":{\"$in\":[\"o1\",\"o2\"]}}}}", 0, 1,
     "{\"_id\":\"a\",\"holds\":[]}"},
    {"{\"_id\":\"a\",\"t\":[1,2,3]}", "{\"$pull\":{\"t\":{\"$gte\":2}}}", 0, 1, "{\"_id\":\"a\",\"t\":[1]}"},
    {"{\"_id\":\"a\",\"t\":[1,{\"k\":1}]}", "{\"$pull\":{\"t\":{\"k\":1}}}", 0, 1, "{\"_id\":\"a\",\"t\":[1]}"},
    {"{\"_id\":\"a\"}", "{\"$pull\":{\"missing\":\"x\"}}", 0, 0, NULL},
    {"{\"_id\":\"a\"}", "{\"$pull\":{\"missing\":{\"k\":{\"$size\":1}}}}", 0, -1, "$size"},
    {"{\"_id\":\"a\",\"n\":1}", "{\"$pull\":{\"n\":1}}", 0, -1, "non-array"},
    {"{\"_id\":\"a\"}", "{\"$setOnInsert\":{\"c\":1}}", 0, 0, NULL},
    {"{}", "{\"$setOnInsert\":{\"c\":1}}", 1, 1, "{\"c\":1}"},
    {"{}", "{\"$setOnInsert\":{\"_id\":\"new\"}}", 1, 1, "{\"_id\":\"new\"}"},
    {"{\"_id\":\"a\"}", "{\"$set\":{\"_id\":\"b\"}}", 0, -1, "_id"},
    {"{\"_id\":\"a\"}", "{\"$set\":{\"_id\":\"a\"}}", 0, 0, NULL},
    {"{\"_id\":\"a\"}", "{\"$unset\":{\"_id\":1}}", 0, -1, "_id"},
    {"{\"_id\":\"a\"}", "{\"$inc\":{\"_id.x\":1}}", 0, -1, "_id"},
    {"{\"_id\":\"a\",\"n\":1}", "{\"x\":1}", 0, 1, "{\"_id\":\"a\",\"x\":1}"},
    {"{\"_id\":\"a\",\"n\":1}", "{\"_id\":\"a\",\"x\":1}", 0, 1, "{\"_id\":\"a\",\"x\":1}"},
    {"{\"_id\":\"a\",\"n\":1}", "{\"_id\":\"b\",\"x\":1}", 0, -1, "_id"},
    {"{\"_id\":\"a\",\"n\":1}", "{}", 0, 1, "{\"_id\":\"a\"}"},
    {"{\"_id\":\"a\"}", "{\"$set\":{\"a\":1},\"b\":2}", 0, -1, "mixes"},
    {"{\"_id\":\"a\"}", "{\"$rename\":{\"a\":\"b\"}}", 0, -1, "$rename"},
    {"{\"_id\":\"a\"}", "{\"$max\":{\"a\":1}}", 0, -1, "$max"},
    {"{\"_id\":\"a\"}", "{\"$set\":{\"a\":1},\"$inc\":{\"a\":1}}", 0, -1, "conflict"},
    {"{\"_id\":\"a\"}", "{\"$set\":{\"a\":1,\"a.b\":2}}", 0, -1, "conflict"},
    {"{\"_id\":\"a\"}", "{\"$set\":{\"ab\":1,\"a\":2}}", 0, 1, "{\"_id\":\"a\",\"ab\":1,\"a\":2}"},
    {"{\"_id\":\"a\"," HOLDS "}", "{\"$set\":{\"holds.0.qty\":5}}", 0, 1,
     "{\"_id\":\"a\",\"holds\":[{\"order\":\"o1\",\"qty\":5},{\"order\":\"o2\",\"qty\":1}]}"},
    {"{\"_id\":\"a\",\"l\":[\"a\"]}", "{\"$set\":{\"l.2\":\"x\"}}", 0, 1, "{\"_id\":\"a\",\"l\":[\"a\",null,\"x\"]}"},
    {"{\"_id\":\"a\"," HOLDS "}", "{\"$set\":{\"holds.order\":\"x\"}}", 0, -1, "array"},
    {"{\"_id\":\"a\"}", "{\"$set\":{\"a.$.b\":1}}", 0, -1, "positional"},
    {"{\"_id\":\"a\"}", "{\"$set\":\"x\"}", 0, -1, "$set"},
    {"{\"_id\":\"a\"}", "{\"$set\":{}}", 0, 0, NULL},
    {"{\"_id\":\"a\"}", "[]", 0, -1, "object"},
    /* the order flow's effects on a product (DESIGN.md, Orders and stock) */
    {"{\"_id\":\"p\",\"stock\":10,\"reserved\":0,\"holds\":[]}",
     "{\"$inc\":{\"stock\":-2,\"reserved\":2},\"$push\":{\"holds\":{\"order\":\"o1\",\"qty\":2}}}", 0, 1,
     "{\"_id\":\"p\",\"stock\":8,\"reserved\":2,\"holds\":[{\"order\":\"o1\",\"qty\":2}]}"},
    {"{\"_id\":\"p\",\"stock\":8,\"reserved\":2,\"committed\":0,\"holds\":[{\"order\":\"o1\",\"qty\":2}],\"commits\":[]"
     "}",
     "{\"$inc\":{\"reserved\":-2,\"committed\":2},\"$pull\":{\"holds\":{\"order\":\"o1\"}},"
     "\"$push\":{\"commits\":{\"order\":\"o1\",\"qty\":2}}}",
     0, 1,
     "{\"_id\":\"p\",\"stock\":8,\"reserved\":0,\"committed\":2,\"holds\":[],\"commits\":[{\"order\":\"o1\",\"qty\":2}]"
     "}"},
};

static void test_cases(void **state)
{
    (void)state;
    size_t failed = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const ucase *c = &cases[i];
        json_error_t jerr;
        json_t *doc = json_loads(c->doc, 0, &jerr), *update = json_loads(c->update, JSON_DECODE_ANY, &jerr);
        json_t *before = json_deep_copy(doc);
        if (doc == NULL || update == NULL)
            fail_msg("case %zu: bad JSON", i);
        char err[256] = "";
        int r = kr_fake_apply_update(doc, update, c->is_insert, err, sizeof(err));
        int ok;
        if (c->expect < 0) {
            ok = r == KR_EINVAL && strstr(err, c->after) != NULL && json_equal(doc, before);
        } else {
            json_t *want = c->after != NULL ? json_loads(c->after, 0, &jerr) : json_incref(before);
            ok = r == c->expect && json_equal(doc, want);
            json_decref(want);
        }
        if (!ok) {
            char *got = json_dumps(doc, JSON_COMPACT);
            print_error("case %zu: %s on %s: got %d %s (%s)\n", i, c->update, c->doc, r, got, err);
            free(got);
            failed++;
        }
        json_decref(doc);
        json_decref(update);
        json_decref(before);
    }
    assert_int_equal(failed, 0);
}

/* The filter's equality fields (top level and $and; dotted paths as
 * subdocuments; $eq counts, other operators and $or do not), then the
 * update as an insert. */
static void test_upsert_docs(void **state)
{
    (void)state;
    static const struct {
        const char *filter, *update, *want;
    } ups[] = {
        {"{\"_id\":\"x\",\"holds.order\":{\"$ne\":\"o\"}}", "{\"$set\":{\"a\":1}}", "{\"_id\":\"x\",\"a\":1}"},
        {"{\"a\":1,\"b.c\":2,\"$or\":[{\"d\":1}],\"e\":{\"$gt\":1},\"f\":{\"$eq\":3}}", "{\"$inc\":{\"n\":1}}",
         "{\"a\":1,\"b\":{\"c\":2},\"f\":3,\"n\":1}"},
        {"{\"$and\":[{\"a\":1},{\"b\":2}]}", "{\"$setOnInsert\":{\"c\":3},\"$set\":{\"d\":4}}",
         "{\"a\":1,\"b\":2,\"c\":3,\"d\":4}"},
        {"{\"_id\":\"x\",\"a\":1}", "{\"z\":1}", "{\"_id\":\"x\",\"z\":1}"},
        {"{\"key\":\"k\"}", "{\"$set\":{\"key\":\"k2\"}}", "{\"key\":\"k2\"}"},
    };
    for (size_t i = 0; i < sizeof(ups) / sizeof(ups[0]); i++) {
        json_t *f = json_loads(ups[i].filter, 0, NULL), *u = json_loads(ups[i].update, 0, NULL);
        json_t *want = json_loads(ups[i].want, 0, NULL), *got = NULL;
        char err[256] = "";
        assert_int_equal(kr_fake_upsert_doc(f, u, &got, err, sizeof(err)), 0);
        if (!json_equal(got, want)) {
            char *s = json_dumps(got, JSON_COMPACT);
            print_error("upsert %zu: got %s\n", i, s);
            free(s);
            fail();
        }
        json_decref(f);
        json_decref(u);
        json_decref(want);
        json_decref(got);
    }
    json_t *f = json_loads("{\"a\":{\"$bad\":1}}", 0, NULL), *u = json_loads("{\"$set\":{\"b\":1}}", 0, NULL), *got;
    char err[256] = "";
    assert_int_equal(kr_fake_upsert_doc(f, u, &got, err, sizeof(err)), KR_EINVAL);
    assert_null(got);
    assert_non_null(strstr(err, "$bad"));
    json_decref(f);
    json_decref(u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_upsert_docs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
