/* core/db/mongo_check.c: the kr_db subset held before anything reaches
 * MongoDB, which would accept much of what is refused here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/db/mongo_check.h"
#include "core/util/err.h"

/* JSON from text written with ' for ". */
static json_t *J(const char *text)
{
    char buf[2048];
    snprintf(buf, sizeof(buf), "%s", text);
    for (char *p = buf; *p != '\0'; p++)
        if (*p == '\'')
            *p = '"';
    json_error_t e;
    json_t *v = json_loads(buf, JSON_DECODE_ANY, &e);
    if (v == NULL)
        fail_msg("bad test JSON %s: %s", text, e.text);
    return v;
}

static void filter_ok(const char *f)
{
    json_t *v = J(f);
    if (krc_mongo_check_filter(v) != 0)
        fail_msg("%s refused: %s", f, krc_err_msg());
    json_decref(v);
}

/* Refused with KR_EINVAL, the message naming `names`. */
static void filter_bad(const char *f, const char *names)
{
    json_t *v = J(f);
    int rc = krc_mongo_check_filter(v);
    if (rc != KR_EINVAL)
        fail_msg("%s: expected KR_EINVAL, got %d", f, rc);
    if (strstr(krc_err_msg(), names) == NULL)
        fail_msg("%s: message \"%s\" does not name %s", f, krc_err_msg(), names);
    json_decref(v);
}

static void test_filters(void **state)
{
    (void)state;
    assert_int_equal(krc_mongo_check_filter(NULL), 0);
    filter_ok("{}");
    filter_ok("{'n': 1, 's': 'x', 'sub': {'x': 1}, 'holds.order': 'o1', 'holds.0.qty': 2, 'nul': null, 'arr': []}");
    filter_ok("{'n': {'$eq': 1, '$ne': 2, '$gt': 0, '$gte': 0, '$lt': 9, '$lte': 9}, 's': {'$in': ['a', 1, null]}}");
    filter_ok("{'t': {'$nin': []}, 'e': {'$exists': true}, 'f': {'$exists': 0}, 'b': {'$gt': false}}");
    filter_ok("{'s': {'$regex': '^b', '$options': 'i'}, '$or': [{'a': 1}, {'$and': [{'b': 2}, {'c': {'$ne': 3}}]}]}");
    filter_ok("{'sub': {'$eq': {'x': 1}}}");
    filter_ok("{'_id': 'p', '$nor': [{'holds.order': 'o1'}, {'$or': [{'a': 1}]}]}");
    filter_bad("{'$where': '1'}", "$where");
    filter_bad("{'n': {'$foo': 1}}", "$foo");
    filter_bad("{'n': {'$not': {'$gt': 1}}}", "$not");
    filter_bad("{'tags': {'$elemMatch': {'$eq': 'a'}}}", "$elemMatch");
    filter_bad("{'tags': {'$size': 2}}", "$size");
    filter_bad("{'$nor': []}", "$nor");
    filter_bad("{'$nor': [{'n': {'$not': 1}}]}", "$not");
    filter_bad("{'n': {'$in': 1}}", "$in");
    filter_bad("{'n': {'$nin': {'a': 1}}}", "$nin");
    filter_bad("{'a b': 1}", "a b");
    filter_bad("{'a..b': 1}", "a..b");
    filter_bad("{'$or': []}", "$or");
    filter_bad("{'$and': {}}", "$and");
    filter_bad("{'$or': [1]}", "JSON object");
    filter_bad("{'n': {'$gt': [1]}}", "$gt");
    filter_bad("{'n': {'$lte': null}}", "$lte");
    filter_bad("{'n': {'$exists': 'yes'}}", "$exists");
    filter_bad("{'s': {'$options': 'i'}}", "$options");
    filter_bad("{'s': {'$regex': 5}}", "$regex");
    filter_bad("{'s': {'$regex': 'a', '$options': 'u'}}", "'u'");
    filter_bad("{'s': {'$gt': 1, 'x': 2}}", "mixes");
    json_t *deep = json_pack("{s:i}", "a", 1);
    for (int i = 0; i < 40; i++)
        deep = json_pack("{s:[o]}", "$and", deep);
    assert_int_equal(krc_mongo_check_filter(deep), KR_EINVAL);
    assert_non_null(strstr(krc_err_msg(), "deeper"));
    json_decref(deep);
}

static void regex_ok(const char *re)
{
    if (krc_mongo_check_regex(re, NULL) != 0)
        fail_msg("/%s/ refused: %s", re, krc_err_msg());
}

static void regex_bad(const char *re)
{
    if (krc_mongo_check_regex(re, NULL) != KR_EINVAL)
        fail_msg("/%s/ accepted", re);
}

static void test_regex_subset(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "^b",        "an",           "e$",     "\\bcher",     "(?i)abc", "(?ms)^a.b$", "(?:a|b)+?",     "a{2,3}",
        "a{2}x{1,}", "[[:alpha:]]+", "(?=x)y", "(?!x)y",      "(?<=a)b", "(?<!a)b",    "\\d+\\.\\d{2}", "[a\\]b]",
        "[]a]",      "[^]a]",        "(a)\\1", "\\x41\\t\\n", "a*b+c?",  "\\$\\(\\)",  "x}+",           "\\A\\w+\\z",
        "[+*?]+",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        regex_ok(ok[i]);
    static const char *const bad[] = {
        "(?<name>x)", "(?P<name>x)", "(?'name'x)", "(?>x)",  "(?|a|b)", "(?#comment)", "a(?i)b",  "a++",
        "a*+",        "a?+",         "a{2}+",      "\\p{L}", "\\P{L}",  "\\Qa.b\\E",   "a\\Kb",   "\\R",
        "\\h",        "\\X",         "\\G",        "\\y",    "\\m",     "(*UTF8)a",    "trail\\",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        regex_bad(bad[i]);
    assert_int_equal(krc_mongo_check_regex("a", "imsx"), 0);
    assert_int_equal(krc_mongo_check_regex("a", "g"), KR_EINVAL);
}

static int update_rc(const char *u)
{
    json_t *v = J(u);
    int rc = krc_mongo_check_update(v);
    json_decref(v);
    return rc;
}

static void update_bad(const char *u, const char *names)
{
    int rc = update_rc(u);
    if (rc != KR_EINVAL)
        fail_msg("%s: expected KR_EINVAL, got %d", u, rc);
    if (names != NULL && strstr(krc_err_msg(), names) == NULL)
        fail_msg("%s: message \"%s\" does not name %s", u, krc_err_msg(), names);
}

static void test_updates(void **state)
{
    (void)state;
    assert_int_equal(update_rc("{'name': 'x', 'n': 1}"), 1);
    assert_int_equal(update_rc("{'_id': 'r', 'name': 'x'}"), 1);
    assert_int_equal(update_rc("{}"), 1);
    assert_int_equal(update_rc("{'$set': {'a': 1, 'b.c': 2, 'l.0': 3}, '$unset': {'d': ''}, '$inc': {'n': -1.5}}"), 0);
    assert_int_equal(update_rc("{'$push': {'t': {'$each': [1, 2]}, 'u': {'k': 1}}, '$addToSet': {'s': 1}}"), 0);
    assert_int_equal(update_rc("{'$pull': {'h': {'order': 'o1'}, 'n': {'$gte': 5}, 't': 'x', 'e': {}}}"), 0);
    assert_int_equal(update_rc("{'$setOnInsert': {'_id': 'x', 'c': 1}, '$set': {'a': 1}}"), 0);
    update_bad("{'$set': {'_id': 'x'}}", "_id");
    update_bad("{'$unset': {'_id': 1}}", "_id");
    update_bad("{'$set': {'_id.x': 1}}", "_id");
    update_bad("{'$setOnInsert': {'_id': 5}}", "_id");
    update_bad("{'_id': 5, 'a': 1}", "_id");
    update_bad("{'$rename': {'a': 'b'}}", "$rename");
    update_bad("{'$max': {'a': 5}}", "$max");
    update_bad("{'$set': {'a': 1}, 'b': 2}", "mixes");
    update_bad("{'$set': {'a': 1}, '$inc': {'a': 1}}", "conflict");
    update_bad("{'$set': {'x': 1, 'x.y': 2}}", "conflict");
    update_bad("{'$set': {'x.y': 1}, '$unset': {'x': 1}}", "conflict");
    update_bad("{'$inc': {'a': 'one'}}", "$inc");
    update_bad("{'$push': {'tags': {'$slice': 1}}}", "$slice");
    update_bad("{'$push': {'tags': {'$each': [1], '$sort': 1}}}", "$sort");
    update_bad("{'$addToSet': {'tags': {'$each': 1}}}", "$each");
    update_bad("{'$pull': {'h': {'$gt': 1, 'k': 2}}}", "mixes");
    update_bad("{'$pull': {'h': {'$where': 1}}}", "$where");
    update_bad("{'$set': {}}", "$set");
    update_bad("{'$set': 1}", "$set");
    update_bad("{'$set': {'a b': 1}}", "a b");
    update_bad("{'$set': {'$x': 1}}", "$x");
}

static void test_sorts_and_indexes(void **state)
{
    (void)state;
    json_t *v;
    assert_int_equal(krc_mongo_check_sort(NULL), 0);
    assert_int_equal(krc_mongo_check_sort(v = J("{'a': 1, 'b.c': -1, '_id': 1.0}")), 0);
    json_decref(v);
    assert_int_equal(krc_mongo_check_sort(v = J("{'a': 2}")), KR_EINVAL);
    json_decref(v);
    assert_int_equal(krc_mongo_check_sort(v = J("{'na me': 1}")), KR_EINVAL);
    json_decref(v);
    assert_int_equal(krc_mongo_check_sort(v = J("[1]")), KR_EINVAL);
    json_decref(v);

    char name[128];
    assert_int_equal(krc_mongo_check_index(v = J("{'phone': 1}"), NULL, name), 0);
    assert_string_equal(name, "phone_1");
    json_decref(v);
    assert_int_equal(krc_mongo_check_index(v = J("{'shop': 1, 'p.q': -1}"), NULL, name), 0);
    assert_string_equal(name, "shop_1_p.q_-1");
    assert_int_equal(krc_mongo_check_index(v, "shop_sku-2.x", name), 0);
    assert_string_equal(name, "shop_sku-2.x");
    assert_int_equal(krc_mongo_check_index(v, "bad name\"", name), KR_EINVAL);
    assert_int_equal(krc_mongo_check_index(v, "", name), KR_EINVAL);
    json_decref(v);
    assert_int_equal(krc_mongo_check_index(v = J("{'a': 2}"), NULL, name), KR_EINVAL);
    json_decref(v);
    assert_int_equal(krc_mongo_check_index(v = J("{'a b': 1}"), NULL, name), KR_EINVAL);
    json_decref(v);
    json_t *many = json_object();
    char key[32];
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof(key), "field_number_%02d", i);
        json_object_set_new(many, key, json_integer(1));
    }
    assert_int_equal(krc_mongo_check_index(many, NULL, name), KR_EINVAL);
    assert_non_null(strstr(krc_err_msg(), "pass a name"));
    assert_int_equal(krc_mongo_check_index(many, "wide", name), 0);
    json_decref(many);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_regex_subset),
        cmocka_unit_test(test_updates),
        cmocka_unit_test(test_sorts_and_indexes),
    };
    return cmocka_run_group_tests_name("mongo_check", tests, NULL, NULL);
}
