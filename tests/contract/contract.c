/* Contract suite of kr_db: what every backend must do, through the SDK.
 *
 * Every operation and operator of sdk/include/kirana/db.h, the guarded
 * stock updates and the reserve/release/commit/un-commit/ship effects of
 * DESIGN.md ("Orders and stock"), and races between threads. The races
 * need atomic single-document updates; KIRANA_TEST_DB_NO_ATOMIC=1 skips
 * them (for MongoDB-wire servers that apply updates as read-then-write).
 * KIRANA_TEST_DB_FERRETDB=1 skips the cases where FerretDB v1 is known to
 * differ from MongoDB (tests/servers/ferretdb.sh sets both on FerretDB). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "contract.h"
#include "core/db/db.h"

static krc_db *store;
static kr_db *db;

/* JSON values of the running test, freed after it. */
static json_t *held[4096];
static int nheld;

static json_t *keep(json_t *v)
{
    if (v == NULL)
        fail_msg("out of memory");
    if (nheld == (int)(sizeof(held) / sizeof(held[0])))
        fail_msg("too many JSON values in one test");
    held[nheld++] = v;
    return v;
}

/* JSON from text written with ' for " (test data has no apostrophes). */
static json_t *J(const char *text)
{
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", text);
    for (char *p = buf; *p != '\0'; p++)
        if (*p == '\'')
            *p = '"';
    json_error_t e;
    json_t *v = json_loads(buf, JSON_DECODE_ANY, &e);
    if (v == NULL)
        fail_msg("bad test JSON %s: %s", text, e.text);
    return keep(v);
}

static int teardown_test(void **state)
{
    (void)state;
    while (nheld > 0)
        json_decref(held[--nheld]);
    return 0;
}

#define OK(call)                                                                                                       \
    do {                                                                                                               \
        int rc_ = (call);                                                                                              \
        if (rc_ != 0)                                                                                                  \
            fail_msg("%s: %s (%s)", #call, kr_strerror(rc_), kr_errmsg(db));                                           \
    } while (0)

#define ERR(code, call)                                                                                                \
    do {                                                                                                               \
        int rc_ = (call);                                                                                              \
        if (rc_ != (code))                                                                                             \
            fail_msg("%s: expected %s, got %s (%s)", #call, kr_strerror(code), kr_strerror(rc_), kr_errmsg(db));       \
    } while (0)

static void expect_msg(const char *part)
{
    if (strstr(kr_errmsg(db), part) == NULL)
        fail_msg("error message \"%s\" does not mention \"%s\"", kr_errmsg(db), part);
}

/* A collection emptied for this test. */
static kr_coll *fresh(const char *name)
{
    kr_coll *c = kr_db_coll(db, name);
    if (c == NULL)
        fail_msg("kr_db_coll(%s): %s", name, kr_errmsg(db));
    OK(kr_db_delete_many(c, NULL, NULL));
    return c;
}

static void insert(kr_coll *c, const char *doc)
{
    OK(kr_db_insert_one(c, J(doc), NULL));
}

static json_t *get(kr_coll *c, const char *id)
{
    json_t *out = NULL;
    int rc = kr_db_find_one(c, keep(json_pack("{s:s}", "_id", id)), NULL, NULL, &out);
    if (rc != 0)
        fail_msg("find_one %s: %s (%s)", id, kr_strerror(rc), kr_errmsg(db));
    return keep(out);
}

/* The value at a dotted path of doc (borrowed), NULL when missing. */
static json_t *at(json_t *doc, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    char *save = NULL;
    for (char *seg = strtok_r(buf, ".", &save); seg != NULL && doc != NULL; seg = strtok_r(NULL, ".", &save))
        doc = json_is_array(doc) ? json_array_get(doc, strtoul(seg, NULL, 10)) : json_object_get(doc, seg);
    return doc;
}

static void expect_json(json_t *doc, const char *path, const char *want)
{
    json_t *v = path[0] != '\0' ? at(doc, path) : doc;
    json_t *w = strcmp(want, "missing") == 0 ? NULL : J(want);
    if (v == NULL && w == NULL)
        return;
    if (v == NULL || w == NULL || !json_equal(v, w) || json_typeof(v) != json_typeof(w)) {
        char *got = v != NULL ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
        char *whole = json_dumps(doc, 0);
        fail_msg("%s is %s, expected %s in %s", path, got != NULL ? got : "missing", want, whole);
    }
}

/* The _ids that filter finds, in _id order, joined by ','. */
static void expect_ids(kr_coll *c, const char *filter, const char *ids)
{
    json_t *out = NULL;
    int rc = kr_db_find(c, J(filter), J("{'_id': 1}"), NULL, 0, 0, &out);
    if (rc != 0)
        fail_msg("find %s: %s (%s)", filter, kr_strerror(rc), kr_errmsg(db));
    keep(out);
    char got[1024] = "";
    size_t i;
    json_t *d;
    json_array_foreach(out, i, d)
    {
        size_t n = strlen(got);
        snprintf(got + n, sizeof(got) - n, "%s%s", i ? "," : "", json_string_value(json_object_get(d, "_id")));
    }
    if (strcmp(got, ids) != 0)
        fail_msg("find %s gave [%s], expected [%s]", filter, got, ids);
}

static void expect_sorted(kr_coll *c, const char *filter, const char *sort, int64_t skip, int64_t limit,
                          const char *ids)
{
    json_t *out = NULL;
    OK(kr_db_find(c, J(filter), J(sort), NULL, skip, limit, &out));
    keep(out);
    char got[1024] = "";
    size_t i;
    json_t *d;
    json_array_foreach(out, i, d)
    {
        size_t n = strlen(got);
        snprintf(got + n, sizeof(got) - n, "%s%s", i ? "," : "", json_string_value(json_object_get(d, "_id")));
    }
    if (strcmp(got, ids) != 0)
        fail_msg("find %s sort %s skip %lld limit %lld gave [%s], expected [%s]", filter, sort, (long long)skip,
                 (long long)limit, got, ids);
}

static int64_t count(kr_coll *c, const char *filter)
{
    int64_t n = -1;
    OK(kr_db_count(c, J(filter), &n));
    return n;
}

static int atomic_updates(void)
{
    const char *v = getenv("KIRANA_TEST_DB_NO_ATOMIC");
    if (v != NULL && strcmp(v, "1") == 0) {
        print_message("skipped: KIRANA_TEST_DB_NO_ATOMIC=1 says this server's updates are not atomic "
                      "(read-then-write), so races cannot be tested on it\n");
        return 0;
    }
    return 1;
}

/* A known difference of FerretDB v1 from the contract (core/db/README.md
 * lists them): with KIRANA_TEST_DB_FERRETDB=1 the case is skipped, saying
 * why. Only the runs on FerretDB set it; MongoDB and PostgreSQL run all. */
static int ferretdb_differs(const char *why)
{
    const char *v = getenv("KIRANA_TEST_DB_FERRETDB");
    if (v == NULL || strcmp(v, "1") != 0)
        return 0;
    print_message("skipped on FerretDB: %s\n", why);
    return 1;
}

/* The message names the unique index (FerretDB's duplicate-key errors
 * name none). */
static void expect_index_msg(const char *index)
{
    if (!ferretdb_differs("duplicate-key errors do not name the index (FerretDB #2045)"))
        expect_msg(index);
}

/* ---- collections and documents ---- */

static void test_collection_names(void **state)
{
    (void)state;
    kr_coll *a = kr_db_coll(db, "users");
    assert_non_null(a);
    assert_ptr_equal(a, kr_db_coll(db, "users"));
    assert_ptr_not_equal(a, kr_db_coll(db, "Users"));
    assert_non_null(kr_db_coll(db, "a23456789012345678901234567890123456789012345678901234567890123"));
    static const char *const bad[] = {"",
                                      "1abc",
                                      "_x",
                                      "a-b",
                                      "a b",
                                      "a.b",
                                      "a\"b",
                                      "a234567890123456789012345678901234567890123456789012345678901234",
                                      "x; drop table users"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (kr_db_coll(db, bad[i]) != NULL)
            fail_msg("collection name \"%s\" was accepted", bad[i]);
        expect_msg("collection name");
    }
    assert_null(kr_db_coll(db, NULL));
}

static void test_insert_and_find_one(void **state)
{
    (void)state;
    kr_coll *c = fresh("insert_find");
    char *id = NULL;
    json_t *doc = J("{'name': 'atta', 'price': 25000, 'weight': 1.5, 'tags': ['flour'], 'meta': {'a': null}}");
    OK(kr_db_insert_one(c, doc, &id));
    assert_non_null(id);
    assert_int_equal(strlen(id), 24);
    assert_int_equal(strspn(id, "0123456789abcdef"), 24);
    assert_null(json_object_get(doc, "_id")); /* borrowed, not modified */
    json_t *got = get(c, id);
    assert_string_equal(json_string_value(json_object_get(got, "_id")), id);
    expect_json(got, "name", "'atta'");
    expect_json(got, "price", "25000");
    expect_json(got, "weight", "1.5");
    expect_json(got, "tags", "['flour']");
    expect_json(got, "meta", "{'a': null}");
    free(id);

    id = NULL;
    OK(kr_db_insert_one(c, J("{'_id': 'p1', 'n': 1}"), &id));
    assert_string_equal(id, "p1");
    free(id);
    OK(kr_db_insert_one(c, J("{'_id': 'p2'}"), NULL));
    ERR(KR_EDUPLICATE, kr_db_insert_one(c, J("{'_id': 'p1', 'n': 2}"), NULL));
    expect_index_msg("_id_");
    expect_json(get(c, "p1"), "n", "1");
    ERR(KR_EINVAL, kr_db_insert_one(c, J("{'_id': 5}"), NULL));
    ERR(KR_EINVAL, kr_db_insert_one(c, J("[1]"), NULL));

    json_t *out = (json_t *)1;
    ERR(KR_ENOTFOUND, kr_db_find_one(c, J("{'_id': 'nope'}"), NULL, NULL, &out));
    assert_null(out);
    /* a NUL inside a string never matches a shorter one */
    json_t *nul = keep(json_loads("{\"_id\": \"p1\\u0000x\"}", JSON_ALLOW_NUL, NULL));
    int rc = kr_db_find_one(c, nul, NULL, NULL, &out);
    assert_true(rc == KR_ENOTFOUND || rc == KR_EINVAL);
    json_t *nul_in = keep(json_loads("{\"_id\": {\"$in\": [\"p1\\u0000x\"]}}", JSON_ALLOW_NUL, NULL));
    rc = kr_db_find_one(c, nul_in, NULL, NULL, &out);
    assert_true(rc == KR_ENOTFOUND || rc == KR_EINVAL);

    /* values that look like SQL or need escaping come back unchanged */
    json_t *evil = keep(json_pack("{s:s, s:s, s:s, s:s}", "_id", "evil'); drop table insert_find; --", "name",
                                  "'); drop table insert_find; --", "quote", "\"\\'$1 $$ \\u0041", "hindi", "नमस्ते"));
    OK(kr_db_insert_one(c, evil, NULL));
    json_t *back = get(c, "evil'); drop table insert_find; --");
    assert_true(json_equal(back, evil));
    assert_int_equal(count(c, "{}"), 4);
}

/* ---- filters ---- */

static kr_coll *filter_data(void)
{
    kr_coll *c = fresh("filters");
    insert(c, "{'_id': 'd1', 'n': 1, 's': 'apple', 'tags': ['a', 'b'], 'sub': {'x': 1}, 'flag': true,"
              " 'holds': [{'order': 'o1', 'qty': 2}, {'order': 'o2', 'qty': 1}]}");
    insert(c, "{'_id': 'd2', 'n': 2.5, 's': 'Banana', 'tags': ['c'], 'sub': {'x': 2}, 'flag': false, 'holds': []}");
    insert(c, "{'_id': 'd3', 'n': '5', 's': 'cherry', 'tags': 'a', 'sub': {'x': 1, 'y': 2}, 'nul': null}");
    if (ferretdb_differs("arrays inside arrays cannot be stored (FerretDB #3189)"))
        insert(c, "{'_id': 'd4', 'n': 10, 's': 'date', 'items': [{'p': 'x', 'q': [1, 5]}]}");
    else
        insert(c, "{'_id': 'd4', 'n': 10, 's': 'date', 'arr': [[1, 2], 3], 'items': [{'p': 'x', 'q': [1, 5]}]}");
    insert(c, "{'_id': 'd5'}");
    return c;
}

static void test_filter_equality_and_types(void **state)
{
    (void)state;
    kr_coll *c = filter_data();
    expect_ids(c, "{}", "d1,d2,d3,d4,d5");
    expect_ids(c, "{'n': 1}", "d1");
    expect_ids(c, "{'n': 1.0}", "d1");
    expect_ids(c, "{'n': 2.5}", "d2");
    expect_ids(c, "{'n': '5'}", "d3");
    expect_ids(c, "{'n': 5}", "");
    expect_ids(c, "{'n': {'$eq': 10}}", "d4");
    expect_ids(c, "{'flag': true}", "d1");
    expect_ids(c, "{'flag': {'$ne': true}}", "d2,d3,d4,d5");
    expect_ids(c, "{'sub': {'x': 1}}", "d1");
    expect_ids(c, "{'sub.x': 1}", "d1,d3");
    expect_ids(c, "{'s': 'apple', 'n': 1}", "d1");
    expect_ids(c, "{'s': 'apple', 'n': 2}", "");
}

static void test_filter_comparisons(void **state)
{
    (void)state;
    kr_coll *c = filter_data();
    /* numbers compare as numbers, and never with strings */
    expect_ids(c, "{'n': {'$gt': 1}}", "d2,d4");
    expect_ids(c, "{'n': {'$gte': 1, '$lt': 10}}", "d1,d2");
    expect_ids(c, "{'n': {'$lte': 2.5}}", "d1,d2");
    expect_ids(c, "{'n': {'$lt': 100}}", "d1,d2,d4");
    expect_ids(c, "{'n': {'$gt': '4'}}", "d3");
    /* strings compare by code point: 'B' < 'a' */
    expect_ids(c, "{'s': {'$gt': 'b'}}", "d3,d4");
    expect_ids(c, "{'s': {'$lt': 'a'}}", "d2");
    expect_ids(c, "{'flag': {'$gt': false}}", "d1");
}

static void test_filter_arrays(void **state)
{
    (void)state;
    kr_coll *c = filter_data();
    expect_ids(c, "{'tags': 'a'}", "d1,d3");
    expect_ids(c, "{'tags': ['c']}", "d2");
    expect_ids(c, "{'tags': ['a']}", "");
    expect_ids(c, "{'tags': {'$ne': 'a'}}", "d2,d4,d5");
    expect_ids(c, "{'tags': {'$in': ['b', 'c']}}", "d1,d2");
    expect_ids(c, "{'tags': {'$nin': ['a']}}", "d2,d4,d5");
    expect_ids(c, "{'holds.order': 'o2'}", "d1");
    if (!ferretdb_differs("$ne on a path through an array of documents matches when one element differs "
                          "(FerretDB #2291)"))
        expect_ids(c, "{'holds.order': {'$ne': 'o1'}}", "d2,d3,d4,d5");
    expect_ids(c, "{'holds.qty': {'$gte': 2}}", "d1");
    expect_ids(c, "{'holds.0.order': 'o1'}", "d1");
    expect_ids(c, "{'holds.1.order': 'o1'}", "");
    expect_ids(c, "{'items.q': 5}", "d4");
    expect_ids(c, "{'items.q': {'$gt': 4}}", "d4");
    if (!ferretdb_differs("arrays inside arrays cannot be stored (FerretDB #3189)")) {
        expect_ids(c, "{'arr': 3}", "d4");
        expect_ids(c, "{'arr': [1, 2]}", "d4");
    }
    if (!ferretdb_differs("equality with a document does not look into arrays (FerretDB #2970)"))
        expect_ids(c, "{'holds': {'order': 'o1', 'qty': 2}}", "d1");
    expect_ids(c, "{'holds': {'order': 'o1'}}", "");
    expect_ids(c, "{'holds': []}", "d2");
}

static void test_filter_null_exists_in(void **state)
{
    (void)state;
    kr_coll *c = filter_data();
    expect_ids(c, "{'nul': null}", "d1,d2,d3,d4,d5");
    expect_ids(c, "{'n': null}", "d5");
    expect_ids(c, "{'n': {'$ne': null}}", "d1,d2,d3,d4");
    expect_ids(c, "{'nul': {'$exists': true}}", "d3");
    expect_ids(c, "{'sub': {'$exists': false}}", "d4,d5");
    expect_ids(c, "{'sub.y': {'$exists': true}}", "d3");
    expect_ids(c, "{'holds.qty': {'$exists': true}}", "d1");
    expect_ids(c, "{'n': {'$in': [1, '5', null]}}", "d1,d3,d5");
    expect_ids(c, "{'n': {'$nin': [1, '5', null]}}", "d2,d4");
    expect_ids(c, "{'sub.x': {'$in': [2]}}", "d2");
    expect_ids(c, "{'n': {'$in': []}}", "");
    expect_ids(c, "{'_id': {'$in': ['d1', 'd4', 'zz']}}", "d1,d4");
    expect_ids(c, "{'_id': {'$nin': ['d1']}}", "d2,d3,d4,d5");
    expect_ids(c, "{'_id': {'$ne': 'd1'}}", "d2,d3,d4,d5");
    expect_ids(c, "{'_id': {'$gt': 'd3'}}", "d4,d5");
}

static void test_filter_regex_and_logic(void **state)
{
    (void)state;
    kr_coll *c = filter_data();
    expect_ids(c, "{'s': {'$regex': '^b', '$options': 'i'}}", "d2");
    expect_ids(c, "{'s': {'$regex': '^b'}}", "");
    expect_ids(c, "{'s': {'$regex': 'an'}}", "d2");
    expect_ids(c, "{'s': {'$regex': 'e$'}}", "d1,d4");
    expect_ids(c, "{'s': {'$regex': '\\\\bcher'}}", "d3");
    expect_ids(c, "{'tags': {'$regex': '^[ab]$'}}", "d1,d3");
    expect_ids(c, "{'$or': [{'n': 1}, {'s': 'date'}]}", "d1,d4");
    expect_ids(c, "{'$and': [{'tags': 'a'}, {'sub.x': 1}]}", "d1,d3");
    expect_ids(c, "{'$or': [{'n': {'$gt': 5}}, {'$and': [{'flag': false}, {'s': {'$regex': 'nan'}}]}]}", "d2,d4");
    expect_ids(c, "{'$nor': [{'n': 1}, {'s': 'date'}]}", "d2,d3,d5");
    expect_ids(c, "{'$nor': [{'holds.order': 'o1'}]}", "d2,d3,d4,d5");
    expect_ids(c, "{'$nor': [{'holds.order': 'o3'}], 'holds.order': 'o2'}", "d1");
    ERR(KR_EINVAL, kr_db_find(c, J("{'s': {'$regex': '(?<name>x)'}}"), NULL, NULL, 0, 0, &(json_t *){NULL}));
}

static void test_filter_refusals(void **state)
{
    (void)state;
    kr_coll *c = filter_data();
    json_t *out = NULL;
    static const struct {
        const char *filter, *names;
    } bad[] = {
        {"{'$where': '1'}", "$where"},
        {"{'n': {'$foo': 1}}", "$foo"},
        {"{'n': {'$not': {'$gt': 1}}}", "$not"},
        {"{'tags': {'$elemMatch': {'$eq': 'a'}}}", "$elemMatch"},
        {"{'tags': {'$size': 2}}", "$size"},
        {"{'$nor': []}", "$nor"},
        {"{'n': {'$in': 1}}", "$in"},
        {"{'a b': 1}", "a b"},
        {"{'a..b': 1}", "a..b"},
        {"{'$or': []}", "$or"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = kr_db_find(c, J(bad[i].filter), NULL, NULL, 0, 0, &out);
        if (rc != KR_EINVAL)
            fail_msg("%s: expected KR_EINVAL, got %s", bad[i].filter, kr_strerror(rc));
        expect_msg(bad[i].names);
        assert_null(out);
    }
    ERR(KR_EINVAL, kr_db_find(c, J("[1]"), NULL, NULL, 0, 0, &out));
    ERR(KR_EINVAL, kr_db_count(c, J("'x'"), &(int64_t){0}));
    ERR(KR_EINVAL, kr_db_delete_many(c, J("{'$where': 1}"), NULL));
    assert_int_equal(count(c, "{}"), 5);
}

/* ---- sort, skip, limit, projection ---- */

static void test_sort_skip_limit(void **state)
{
    (void)state;
    kr_coll *c = fresh("sorting");
    insert(c, "{'_id': 'p1', 'price': 10, 'name': 'b', 'g': 1}");
    insert(c, "{'_id': 'p2', 'price': 2, 'name': 'a', 'g': 2}");
    insert(c, "{'_id': 'p3', 'price': 2.5, 'name': 'c', 'g': 1}");
    insert(c, "{'_id': 'p4', 'price': 'x', 'name': 'e', 'g': 2}");
    insert(c, "{'_id': 'p5', 'name': 'd', 'g': 1}");
    insert(c, "{'_id': 'p6', 'price': 9.99, 'name': 'f', 'g': 2}");
    expect_sorted(c, "{'price': {'$gte': 0}}", "{'price': 1}", 0, 0, "p2,p3,p6,p1");
    expect_sorted(c, "{'price': {'$gte': 0}}", "{'price': -1}", 0, 0, "p1,p6,p3,p2");
    expect_sorted(c, "{}", "{'price': 1}", 0, 0, "p5,p2,p3,p6,p1,p4");
    expect_sorted(c, "{}", "{'name': 1}", 1, 2, "p1,p3");
    expect_sorted(c, "{}", "{'name': -1}", 0, 1, "p6");
    expect_sorted(c, "{}", "{'g': 1, 'name': -1}", 0, 0, "p5,p3,p1,p6,p4,p2");
    expect_sorted(c, "{}", "{'_id': -1}", 0, 3, "p6,p5,p4");
    expect_sorted(c, "{}", "{'name': 1}", 10, 0, "");
    json_t *one = NULL;
    OK(kr_db_find_one(c, J("{'g': 2}"), J("{'price': -1}"), NULL, &one));
    keep(one);
    expect_json(one, "_id", "'p4'");
    json_t *out = NULL;
    ERR(KR_EINVAL, kr_db_find(c, NULL, J("{'name': 2}"), NULL, 0, 0, &out));
    ERR(KR_EINVAL, kr_db_find(c, NULL, J("{'na me': 1}"), NULL, 0, 0, &out));
    ERR(KR_EINVAL, kr_db_find(c, NULL, NULL, NULL, -1, 0, &out));
    ERR(KR_EINVAL, kr_db_find(c, NULL, NULL, NULL, 0, -1, &out));
}

static void test_projection(void **state)
{
    (void)state;
    kr_coll *c = fresh("projection");
    insert(c, "{'_id': 'a', 'name': 'n', 'price': 5, 'sub': {'x': 1, 'y': 2}, 'list': [{'k': 1, 'v': 2}, 3]}");
    json_t *d = NULL;
    OK(kr_db_find_one(c, NULL, NULL, J("{'name': 1}"), &d));
    assert_true(json_equal(keep(d), J("{'_id': 'a', 'name': 'n'}")));
    OK(kr_db_find_one(c, NULL, NULL, J("{'name': 1, '_id': 0}"), &d));
    assert_true(json_equal(keep(d), J("{'name': 'n'}")));
    OK(kr_db_find_one(c, NULL, NULL, J("{'price': 0, 'sub.x': 0}"), &d));
    assert_true(json_equal(keep(d), J("{'_id': 'a', 'name': 'n', 'sub': {'y': 2}, 'list': [{'k': 1, 'v': 2}, 3]}")));
    OK(kr_db_find_one(c, NULL, NULL, J("{'_id': 0}"), &d));
    assert_null(json_object_get(keep(d), "_id"));
    OK(kr_db_find_one(c, NULL, NULL, J("{'sub.y': 1, 'list.k': 1}"), &d));
    assert_true(json_equal(keep(d), J("{'_id': 'a', 'sub': {'y': 2}, 'list': [{'k': 1}]}")));
    json_t *all = NULL;
    OK(kr_db_find(c, NULL, NULL, J("{'price': 1}"), 0, 0, &all));
    assert_true(json_equal(keep(all), J("[{'_id': 'a', 'price': 5}]")));
    ERR(KR_EINVAL, kr_db_find_one(c, NULL, NULL, J("{'name': 1, 'price': 0}"), &d));
    ERR(KR_EINVAL, kr_db_find_one(c, NULL, NULL, J("{'list': {'$slice': 1}}"), &d));
    ERR(KR_EINVAL, kr_db_find_one(c, NULL, NULL, J("{'sub': 1, 'sub.x': 1}"), &d));
}

/* ---- count and delete ---- */

static void test_count_and_delete(void **state)
{
    (void)state;
    kr_coll *c = fresh("deleting");
    for (int i = 0; i < 5; i++)
        OK(kr_db_insert_one(c, keep(json_pack("{s:i}", "k", i % 2)), NULL));
    assert_int_equal(count(c, "{}"), 5);
    assert_int_equal(count(c, "{'k': 1}"), 2);
    int64_t n = -1;
    OK(kr_db_delete_one(c, J("{'k': 0}"), &n));
    assert_int_equal(n, 1);
    assert_int_equal(count(c, "{}"), 4);
    OK(kr_db_delete_many(c, J("{'k': 0}"), &n));
    assert_int_equal(n, 2);
    OK(kr_db_delete_one(c, J("{'k': 7}"), &n));
    assert_int_equal(n, 0);
    OK(kr_db_delete_many(c, NULL, &n));
    assert_int_equal(n, 2);
    assert_int_equal(count(c, "{}"), 0);
}

/* ---- updates ---- */

static kr_update_result upd(kr_coll *c, const char *filter, const char *update)
{
    kr_update_result r;
    OK(kr_db_update_one(c, J(filter), J(update), 0, &r));
    return r;
}

static void test_update_set_unset_inc(void **state)
{
    (void)state;
    kr_coll *c = fresh("updates");
    insert(c, "{'_id': 'u', 'a': 1, 'r': 1.5, 'nums': [1, 5, 7], 'holds': [{'order': 'o1', 'qty': 2}]}");
    kr_update_result r = upd(c, "{'_id': 'u'}", "{'$set': {'b.c.d': 'deep', 'a': 2}}");
    assert_int_equal(r.matched, 1);
    assert_int_equal(r.modified, 1);
    assert_null(r.upserted_id);
    json_t *d = get(c, "u");
    expect_json(d, "b", "{'c': {'d': 'deep'}}");
    expect_json(d, "a", "2");
    r = upd(c, "{'_id': 'u'}", "{'$set': {'a': 2}}");
    assert_int_equal(r.matched, 1);
    assert_int_equal(r.modified, 0);
    upd(c, "{'_id': 'u'}", "{'$unset': {'a': '', 'b.c': 1, 'nope.x': 1}}");
    d = get(c, "u");
    expect_json(d, "a", "missing");
    expect_json(d, "b", "{}");

    upd(c, "{'_id': 'u'}", "{'$inc': {'n': 5}}");
    expect_json(get(c, "u"), "n", "5");
    upd(c, "{'_id': 'u'}", "{'$inc': {'n': -2, 'x.y': 1}}");
    d = get(c, "u");
    expect_json(d, "n", "3");
    expect_json(d, "x.y", "1");
    upd(c, "{'_id': 'u'}", "{'$inc': {'n': 0.5, 'r': 1}}");
    d = get(c, "u");
    expect_json(d, "n", "3.5");
    expect_json(d, "r", "2.5");
    upd(c, "{'_id': 'u'}", "{'$inc': {'r': 0.5, 'm': 2.0}}");
    d = get(c, "u");
    expect_json(d, "r", "3.0");
    expect_json(d, "m", "2.0");
    upd(c, "{'_id': 'u'}", "{'$set': {'nums.0': 9, 'holds.0.qty': 7, 'pad.2': 'z'}}");
    d = get(c, "u");
    expect_json(d, "nums", "[9, 5, 7]");
    expect_json(d, "holds", "[{'order': 'o1', 'qty': 7}]");
    expect_json(d, "pad", "{'2': 'z'}");
    upd(c, "{'_id': 'u'}", "{'$set': {'nums.4': 1}}");
    expect_json(get(c, "u"), "nums", "[9, 5, 7, null, 1]");
    upd(c, "{'_id': 'u'}", "{'$unset': {'nums.1': 1}}");
    if (!ferretdb_differs("$unset of an array element removes it instead of setting it to null "
                          "(FerretDB #1242)"))
        expect_json(get(c, "u"), "nums", "[9, null, 7, null, 1]");
    r = upd(c, "{'_id': 'u'}", "{'$setOnInsert': {'z': 1}}");
    assert_int_equal(r.modified, 0);
    expect_json(get(c, "u"), "z", "missing");
}

static void test_update_arrays(void **state)
{
    (void)state;
    kr_coll *c = fresh("arrays");
    insert(c, "{'_id': 'u', 'tags': ['x'], 'nums': [1, 5, 7, 5],"
              " 'holds': [{'order': 'o1', 'qty': 2}, {'order': 'o2', 'qty': 1}, {'order': 'o1', 'qty': 4}]}");
    upd(c, "{'_id': 'u'}", "{'$push': {'tags': 'y', 'fresh': {'k': 1}}}");
    json_t *d = get(c, "u");
    expect_json(d, "tags", "['x', 'y']");
    expect_json(d, "fresh", "[{'k': 1}]");
    if (ferretdb_differs("arrays inside arrays cannot be stored (FerretDB #3189)")) {
        upd(c, "{'_id': 'u'}", "{'$push': {'tags': {'$each': ['z', 'w']}}}");
    } else {
        upd(c, "{'_id': 'u'}", "{'$push': {'tags': {'$each': ['z', 'w']}, 'nested': [1, 2]}}");
        expect_json(get(c, "u"), "nested", "[[1, 2]]");
    }
    d = get(c, "u");
    expect_json(d, "tags", "['x', 'y', 'z', 'w']");
    kr_update_result r = upd(c, "{'_id': 'u'}", "{'$addToSet': {'tags': 'x'}}");
    assert_int_equal(r.modified, 0);
    upd(c, "{'_id': 'u'}", "{'$addToSet': {'tags': {'$each': ['x', 'q', 'q']}, 'set': 1.0}}");
    d = get(c, "u");
    expect_json(d, "tags", "['x', 'y', 'z', 'w', 'q']");
    expect_json(d, "set", "[1.0]");
    r = upd(c, "{'_id': 'u'}", "{'$addToSet': {'set': 1}}");
    assert_int_equal(r.modified, 0);
    if (ferretdb_differs("$pull takes values only, not conditions (FerretDB #1765)"))
        return;
    upd(c, "{'_id': 'u'}", "{'$pull': {'holds': {'order': 'o1'}}}");
    expect_json(get(c, "u"), "holds", "[{'order': 'o2', 'qty': 1}]");
    upd(c, "{'_id': 'u'}", "{'$pull': {'nums': {'$gte': 5}, 'tags': 'q'}}");
    d = get(c, "u");
    expect_json(d, "nums", "[1]");
    expect_json(d, "tags", "['x', 'y', 'z', 'w']");
    upd(c, "{'_id': 'u'}", "{'$pull': {'tags': {'$in': ['x', 'w']}, 'missing': 1}}");
    d = get(c, "u");
    expect_json(d, "tags", "['y', 'z']");
    expect_json(d, "missing", "missing");
    upd(c, "{'_id': 'u'}", "{'$pull': {'holds': {'qty': {'$lt': 5}, 'order': {'$regex': '^o'}}}}");
    expect_json(get(c, "u"), "holds", "[]");
}

static void test_update_refusals(void **state)
{
    (void)state;
    kr_coll *c = fresh("refusals");
    insert(c, "{'_id': 'u', 'a': 1, 's': 'text', 'tags': ['x']}");
    /* names: what the message must mention, where every backend's
     * message would (NULL: the code is enough) */
    static const struct {
        const char *update, *names;
    } bad[] = {
        {"{'$set': {'_id': 'x'}}", "_id"},
        {"{'$unset': {'_id': 1}}", "_id"},
        {"{'$rename': {'a': 'b'}}", "$rename"},
        {"{'$max': {'a': 5}}", "$max"},
        {"{'$set': {'a': 1}, 'b': 2}", NULL},
        {"{'$set': {'a': 1}, '$inc': {'a': 1}}", "conflict"},
        {"{'$set': {'x': 1, 'x.y': 2}}", "conflict"},
        {"{'$inc': {'a': 'one'}}", NULL},
        {"{'$inc': {'s': 1}}", "$inc"},
        {"{'$push': {'a': 1}}", NULL},
        {"{'$pull': {'a': 1}}", NULL},
        {"{'$addToSet': {'s': 1}}", NULL},
        {"{'$set': {'a.b': 1}}", "create field"},
        {"{'$set': {'tags.k': 1}}", "create field"},
        {"{'$push': {'tags': {'$slice': 1}}}", "$slice"},
        {"{'$set': {}}", "$set"},
        {"{'$set': {'a b': 1}}", "a b"},
        {"{'_id': 'other', 'a': 1}", "_id"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = kr_db_update_one(c, J("{'_id': 'u'}"), J(bad[i].update), 0, NULL);
        if (rc != KR_EINVAL)
            fail_msg("%s: expected KR_EINVAL, got %s (%s)", bad[i].update, kr_strerror(rc), kr_errmsg(db));
        if (bad[i].names != NULL)
            expect_msg(bad[i].names);
    }
    assert_true(json_equal(get(c, "u"), J("{'_id': 'u', 'a': 1, 's': 'text', 'tags': ['x']}")));
    ERR(KR_EINVAL, kr_db_update_one(c, J("{'_id': 'u'}"), NULL, 0, NULL));
    ERR(KR_EINVAL, kr_db_update_one(c, J("{'_id': 'u'}"), J("{'$set': {'a': 1}}"), KR_DB_UNIQUE, NULL));
    ERR(KR_EINVAL, kr_db_update_many(c, J("{}"), J("{'a': 1}"), 0, NULL));
}

static void test_replacement_and_many(void **state)
{
    (void)state;
    kr_coll *c = fresh("replacing");
    insert(c, "{'_id': 'r', 'a': 1, 'b': 2}");
    insert(c, "{'_id': 's', 'a': 1}");
    insert(c, "{'_id': 't', 'a': 2}");
    kr_update_result r = upd(c, "{'_id': 'r'}", "{'name': 'new'}");
    assert_int_equal(r.matched, 1);
    assert_true(json_equal(get(c, "r"), J("{'_id': 'r', 'name': 'new'}")));
    upd(c, "{'_id': 'r'}", "{'_id': 'r', 'name': 'again'}");
    assert_true(json_equal(get(c, "r"), J("{'_id': 'r', 'name': 'again'}")));
    OK(kr_db_update_many(c, J("{'a': {'$gte': 1}}"), J("{'$inc': {'k': 1}, '$set': {'seen': true}}"), 0, &r));
    assert_int_equal(r.matched, 2);
    assert_int_equal(r.modified, 2);
    OK(kr_db_update_many(c, J("{'a': {'$gte': 1}}"), J("{'$set': {'seen': true}}"), 0, &r));
    assert_int_equal(r.matched, 2);
    assert_int_equal(r.modified, 0);
    OK(kr_db_update_many(c, J("{'zz': 1}"), J("{'$set': {'seen': true}}"), 0, &r));
    assert_int_equal(r.matched, 0);
    r = upd(c, "{'nothing': 1}", "{'$set': {'x': 1}}");
    assert_int_equal(r.matched, 0);
    assert_null(r.upserted_id);
}

static void test_upsert(void **state)
{
    (void)state;
    kr_coll *c = fresh("upserts");
    kr_update_result r;
    OK(kr_db_update_one(c, J("{'_id': 'k1', 'type': 'x', 'n': {'$gte': 0}}"),
                        J("{'$set': {'a': 1}, '$setOnInsert': {'created': 5}, '$inc': {'hits': 1}}"), KR_DB_UPSERT,
                        &r));
    assert_int_equal(r.matched, 0);
    assert_string_equal(r.upserted_id, "k1");
    free(r.upserted_id);
    assert_true(json_equal(get(c, "k1"), J("{'_id': 'k1', 'type': 'x', 'a': 1, 'created': 5, 'hits': 1}")));
    OK(kr_db_update_one(c, J("{'_id': 'k1'}"), J("{'$setOnInsert': {'created': 9}, '$inc': {'hits': 1}}"), KR_DB_UPSERT,
                        &r));
    assert_int_equal(r.matched, 1);
    assert_null(r.upserted_id);
    expect_json(get(c, "k1"), "created", "5");
    expect_json(get(c, "k1"), "hits", "2");

    OK(kr_db_update_one(c, J("{'email': 'e@x', 'profile.city': 'pune', '$and': [{'role': {'$eq': 'user'}}]}"),
                        J("{'$set': {'name': 'n'}}"), KR_DB_UPSERT, &r));
    assert_non_null(r.upserted_id);
    assert_int_equal(strlen(r.upserted_id), 24);
    json_t *d = get(c, r.upserted_id);
    free(r.upserted_id);
    expect_json(d, "email", "'e@x'");
    expect_json(d, "profile", "{'city': 'pune'}");
    if (!ferretdb_differs("an upsert does not take the equality fields inside $and (FerretDB #3856)"))
        expect_json(d, "role", "'user'");
    expect_json(d, "name", "'n'");

    OK(kr_db_update_one(c, J("{'code': 'c1'}"), J("{'$setOnInsert': {'_id': 'chosen'}}"), KR_DB_UPSERT, &r));
    assert_string_equal(r.upserted_id, "chosen");
    free(r.upserted_id);

    OK(kr_db_update_one(c, J("{'_id': 'rep'}"), J("{'x': 1}"), KR_DB_UPSERT, &r));
    assert_string_equal(r.upserted_id, "rep");
    free(r.upserted_id);
    assert_true(json_equal(get(c, "rep"), J("{'_id': 'rep', 'x': 1}")));

    json_t *out = NULL;
    OK(kr_db_find_one_and_update(c, J("{'_id': 'f1'}"), J("{'$inc': {'n': 1}}"), NULL,
                                 KR_DB_UPSERT | KR_DB_RETURN_AFTER, &out));
    assert_true(json_equal(keep(out), J("{'_id': 'f1', 'n': 1}")));
    out = (json_t *)1;
    OK(kr_db_find_one_and_update(c, J("{'_id': 'f2', 'a.b': 1}"), J("{'$inc': {'n': 1}}"), NULL, KR_DB_UPSERT, &out));
    assert_null(out);
    assert_true(json_equal(get(c, "f2"), J("{'_id': 'f2', 'a': {'b': 1}, 'n': 1}")));
    OK(kr_db_find_one_and_update(c, J("{'_id': 'f2'}"), J("{'$inc': {'n': 1}}"), NULL, KR_DB_UPSERT, &out));
    expect_json(keep(out), "n", "1");
    ERR(KR_EINVAL, kr_db_update_one(c, J("{'_id': 'a'}"), J("{'$setOnInsert': {'_id': 'b'}}"), KR_DB_UPSERT, NULL));
    ERR(KR_EINVAL, kr_db_update_one(c, J("{'_id': 7}"), J("{'$set': {'x': 1}}"), KR_DB_UPSERT, NULL));
}

static void test_find_one_and_update(void **state)
{
    (void)state;
    kr_coll *c = fresh("fau");
    insert(c, "{'_id': 'q1', 'n': 1, 'g': 'a'}");
    insert(c, "{'_id': 'q2', 'n': 2, 'g': 'a'}");
    insert(c, "{'_id': 'q3', 'n': 3, 'g': 'b'}");
    json_t *out = NULL;
    OK(kr_db_find_one_and_update(c, J("{'g': 'a'}"), J("{'$inc': {'n': 10}}"), J("{'n': -1}"), 0, &out));
    assert_true(json_equal(keep(out), J("{'_id': 'q2', 'n': 2, 'g': 'a'}")));
    expect_json(get(c, "q2"), "n", "12");
    OK(kr_db_find_one_and_update(c, J("{'g': 'a'}"), J("{'$inc': {'n': 10}}"), J("{'n': 1}"), KR_DB_RETURN_AFTER,
                                 &out));
    assert_true(json_equal(keep(out), J("{'_id': 'q1', 'n': 11, 'g': 'a'}")));
    out = (json_t *)1;
    ERR(KR_ENOTFOUND, kr_db_find_one_and_update(c, J("{'g': 'zzz'}"), J("{'$set': {'x': 1}}"), NULL, 0, &out));
    assert_null(out);
    ERR(KR_ENOTFOUND,
        kr_db_find_one_and_update(c, J("{'_id': 'q3', 'n': {'$gte': 5}}"), J("{'$inc': {'n': -5}}"), NULL, 0, &out));
    OK(kr_db_find_one_and_update(c, J("{'_id': 'q3'}"), J("{'n': 0}"), NULL, KR_DB_RETURN_AFTER, &out));
    assert_true(json_equal(keep(out), J("{'_id': 'q3', 'n': 0}")));
    ERR(KR_EINVAL, kr_db_find_one_and_update(c, J("{}"), J("{'$bit': {'n': 1}}"), NULL, 0, &out));
    ERR(KR_EINVAL, kr_db_find_one_and_update(c, J("{}"), J("{'$set': {'n': 1}}"), NULL, 0x100, &out));
}

/* ---- indexes ---- */

static void test_unique_indexes(void **state)
{
    (void)state;
    kr_coll *c = fresh("indexed");
    OK(kr_db_create_index(c, J("{'phone': 1}"), KR_DB_UNIQUE, NULL));
    OK(kr_db_create_index(c, J("{'phone': 1}"), KR_DB_UNIQUE, NULL));
    insert(c, "{'_id': 'a', 'phone': '+911'}");
    ERR(KR_EDUPLICATE, kr_db_insert_one(c, J("{'phone': '+911'}"), NULL));
    expect_index_msg("phone_1");
    expect_ids(c, "{'phone': '+911'}", "a");

    OK(kr_db_create_index(c, J("{'shop': 1, 'sku': -1}"), KR_DB_UNIQUE, "shop_sku"));
    insert(c, "{'_id': 's1', 'shop': 1, 'sku': 'x'}");
    insert(c, "{'_id': 's2', 'shop': 1, 'sku': 'y'}");
    insert(c, "{'_id': 's3', 'shop': 2, 'sku': 'x'}");
    ERR(KR_EDUPLICATE, kr_db_insert_one(c, J("{'shop': 1, 'sku': 'x'}"), NULL));
    expect_index_msg("shop_sku");
    if (!ferretdb_differs("an update that breaks a unique index fails with InternalError, not 11000 "
                          "(FerretDB #3183)"))
        ERR(KR_EDUPLICATE, kr_db_update_one(c, J("{'_id': 's2'}"), J("{'$set': {'sku': 'x'}}"), 0, NULL));
    ERR(KR_EDUPLICATE,
        kr_db_update_one(c, J("{'phone': '+911', 'shop': 9}"), J("{'$set': {'n': 1}}"), KR_DB_UPSERT, NULL));

    OK(kr_db_create_index(c, J("{'p.q': 1}"), KR_DB_UNIQUE, NULL));
    insert(c, "{'p': {'q': 1}}");
    ERR(KR_EDUPLICATE, kr_db_insert_one(c, J("{'p': {'q': 1}}"), NULL));
    expect_index_msg("p.q_1");

    OK(kr_db_create_index(c, J("{'z': 1}"), 0, NULL));
    insert(c, "{'z': 1}");
    insert(c, "{'z': 1}");
    if (!ferretdb_differs("a unique index that existing documents break fails with InternalError, not "
                          "11000 (FerretDB #3183)"))
        ERR(KR_EDUPLICATE, kr_db_create_index(c, J("{'z': -1}"), KR_DB_UNIQUE, "z_unique"));
    assert_int_equal(count(c, "{'z': 1}"), 2);

    ERR(KR_EINVAL, kr_db_create_index(c, J("{'a': 2}"), 0, NULL));
    ERR(KR_EINVAL, kr_db_create_index(c, J("{'a b': 1}"), 0, NULL));
    ERR(KR_EINVAL, kr_db_create_index(c, J("{}"), 0, NULL));
    ERR(KR_EINVAL, kr_db_create_index(c, J("{'a': 1}"), 0, "bad name\""));
    ERR(KR_EINVAL, kr_db_create_index(c, J("{'a': 1}"), 0x80, NULL));
}

/* ---- orders and stock (DESIGN.md) ---- */

static int effect(kr_coll *p, json_t *filter, json_t *update)
{
    json_t *out = NULL;
    int rc = kr_db_find_one_and_update(p, filter, update, NULL, KR_DB_RETURN_AFTER, &out);
    json_decref(filter);
    json_decref(update);
    json_decref(out);
    return rc;
}

/* 0: the effects as DESIGN.md writes them; 1: as order.so sends them,
 * which FerretDB v1 applies too (the guard by $nor, $pull of the exact
 * entry: plugins/order/README.md). */
static int portable_effects;

/* What $pull removes: the entry (portable), or entries matching {order}. */
static json_t *pulled(const char *order, int q)
{
    return portable_effects ? json_pack("{s:s, s:i}", "order", order, "qty", q) : json_pack("{s:s}", "order", order);
}

static int reserve(kr_coll *p, const char *order, int q)
{
    json_t *f = portable_effects ? json_pack("{s:s, s:b, s:{s:i}, s:[{s:s}]}", "_id", "prod", "active", 1, "stock",
                                             "$gte", q, "$nor", "holds.order", order)
                                 : json_pack("{s:s, s:b, s:{s:i}, s:{s:s}}", "_id", "prod", "active", 1, "stock",
                                             "$gte", q, "holds.order", "$ne", order);
    return effect(p, f,
                  json_pack("{s:{s:i, s:i}, s:{s:{s:s, s:i}}}", "$inc", "stock", -q, "reserved", q, "$push", "holds",
                            "order", order, "qty", q));
}

static int release(kr_coll *p, const char *order, int q)
{
    return effect(p, json_pack("{s:s, s:s}", "_id", "prod", "holds.order", order),
                  json_pack("{s:{s:i, s:i}, s:{s:o}}", "$inc", "stock", q, "reserved", -q, "$pull", "holds",
                            pulled(order, q)));
}

static int commit(kr_coll *p, const char *order, int q)
{
    return effect(p, json_pack("{s:s, s:s}", "_id", "prod", "holds.order", order),
                  json_pack("{s:{s:i, s:i}, s:{s:o}, s:{s:{s:s, s:i}}}", "$inc", "reserved", -q, "committed", q,
                            "$pull", "holds", pulled(order, q), "$push", "commits", "order", order, "qty", q));
}

static int uncommit(kr_coll *p, const char *order, int q)
{
    return effect(p, json_pack("{s:s, s:s}", "_id", "prod", "commits.order", order),
                  json_pack("{s:{s:i, s:i}, s:{s:o}}", "$inc", "stock", q, "committed", -q, "$pull", "commits",
                            pulled(order, q)));
}

static int ship(kr_coll *p, const char *order, int q)
{
    return effect(p, json_pack("{s:s, s:s}", "_id", "prod", "commits.order", order),
                  json_pack("{s:{s:i, s:i}, s:{s:o}}", "$inc", "committed", -q, "shipped", q, "$pull", "commits",
                            pulled(order, q)));
}

static int64_t sum_qty(json_t *arr)
{
    int64_t s = 0;
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) s += json_integer_value(json_object_get(e, "qty"));
    return s;
}

/* stock + reserved + committed + shipped = initial; the arrays add up. */
static json_t *invariant(kr_coll *p, int64_t initial)
{
    json_t *d = get(p, "prod");
    int64_t stock = json_integer_value(at(d, "stock")), reserved = json_integer_value(at(d, "reserved"));
    int64_t committed = json_integer_value(at(d, "committed")), shipped = json_integer_value(at(d, "shipped"));
    if (stock + reserved + committed + shipped != initial || stock < 0 || reserved != sum_qty(at(d, "holds")) ||
        committed != sum_qty(at(d, "commits")))
        fail_msg("invariant broken: %s", json_dumps(d, 0));
    return d;
}

static kr_coll *product(int stock)
{
    kr_coll *p = fresh("products");
    OK(kr_db_insert_one(
        p,
        keep(json_pack("{s:s, s:b, s:i, s:i, s:i, s:i, s:[], s:[]}", "_id", "prod", "active", 1, "stock", stock,
                       "reserved", 0, "committed", 0, "shipped", 0, "holds", "commits")),
        NULL));
    return p;
}

static void order_effects(void)
{
    kr_coll *p = product(10);
    OK(reserve(p, "o1", 3));
    json_t *d = invariant(p, 10);
    expect_json(d, "stock", "7");
    expect_json(d, "holds", "[{'order': 'o1', 'qty': 3}]");
    ERR(KR_ENOTFOUND, reserve(p, "o1", 1)); /* already holds for o1 */
    ERR(KR_ENOTFOUND, reserve(p, "o2", 8)); /* short */
    OK(reserve(p, "o2", 7));
    expect_json(invariant(p, 10), "stock", "0");
    ERR(KR_ENOTFOUND, reserve(p, "o3", 1));
    OK(release(p, "o2", 7));
    ERR(KR_ENOTFOUND, release(p, "o2", 7)); /* released once only */
    expect_json(invariant(p, 10), "stock", "7");

    OK(commit(p, "o1", 3));
    d = invariant(p, 10);
    expect_json(d, "reserved", "0");
    expect_json(d, "committed", "3");
    expect_json(d, "holds", "[]");
    expect_json(d, "commits", "[{'order': 'o1', 'qty': 3}]");
    ERR(KR_ENOTFOUND, commit(p, "o1", 3));
    ERR(KR_ENOTFOUND, release(p, "o1", 3)); /* committed: cancel must un-commit */
    OK(uncommit(p, "o1", 3));
    ERR(KR_ENOTFOUND, uncommit(p, "o1", 3));
    d = invariant(p, 10);
    expect_json(d, "stock", "10");
    expect_json(d, "commits", "[]");

    OK(reserve(p, "o4", 2));
    OK(reserve(p, "o5", 1));
    ERR(KR_ENOTFOUND, reserve(p, "o4", 1)); /* holds for o4 and another order */
    OK(commit(p, "o4", 2));
    OK(ship(p, "o4", 2));
    ERR(KR_ENOTFOUND, ship(p, "o4", 2));
    ERR(KR_ENOTFOUND, uncommit(p, "o4", 2));
    d = invariant(p, 10);
    expect_json(d, "shipped", "2");
    expect_json(d, "committed", "0");
    expect_json(d, "holds", "[{'order': 'o5', 'qty': 1}]");

    OK(kr_db_update_one(p, J("{'_id': 'prod'}"), J("{'$set': {'active': false}}"), 0, NULL));
    ERR(KR_ENOTFOUND, reserve(p, "o6", 1));
    invariant(p, 10);
}

static void test_order_effects(void **state)
{
    (void)state;
    if (ferretdb_differs("the effects' guards need $pull with conditions (FerretDB #1765) and $ne through arrays "
                         "of documents (FerretDB #2291)"))
        return;
    order_effects();
}

static void test_order_effects_portable(void **state)
{
    (void)state;
    portable_effects = 1;
    order_effects();
    portable_effects = 0;
}

/* ---- races ---- */

typedef struct race {
    pthread_barrier_t *start;
    kr_coll *c;
    int index;
    int rc;
    char *upserted;
} race;

static void run_race(race *r, int n, void *(*fn)(void *))
{
    pthread_t t[64];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)n);
    for (int i = 0; i < n; i++) {
        r[i].start = &start;
        r[i].index = i;
        pthread_create(&t[i], NULL, fn, &r[i]);
    }
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start);
}

static void *take_one(void *arg)
{
    race *r = arg;
    pthread_barrier_wait(r->start);
    json_t *f = json_pack("{s:s, s:{s:i}}", "_id", "stocked", "stock", "$gte", 1);
    json_t *u = json_pack("{s:{s:i}}", "$inc", "stock", -1);
    json_t *out = NULL;
    r->rc = kr_db_find_one_and_update(r->c, f, u, NULL, 0, &out);
    json_decref(out);
    json_decref(f);
    json_decref(u);
    return NULL;
}

static void test_race_guarded_stock(void **state)
{
    (void)state;
    if (!atomic_updates())
        return;
    kr_coll *c = fresh("race_stock");
    insert(c, "{'_id': 'stocked', 'stock': 10}");
    race r[50] = {0};
    for (int i = 0; i < 50; i++)
        r[i].c = c;
    run_race(r, 50, take_one);
    int won = 0;
    for (int i = 0; i < 50; i++) {
        if (r[i].rc == 0)
            won++;
        else if (r[i].rc != KR_ENOTFOUND)
            fail_msg("thread %d: %s", i, kr_strerror(r[i].rc));
    }
    assert_int_equal(won, 10);
    expect_json(get(c, "stocked"), "stock", "0");
}

static void *upsert_same_id(void *arg)
{
    race *r = arg;
    pthread_barrier_wait(r->start);
    json_t *f = json_pack("{s:s}", "_id", "same");
    json_t *u = json_pack("{s:{s:i}, s:{s:i}}", "$inc", "n", 1, "$setOnInsert", "first", r->index);
    kr_update_result res;
    r->rc = kr_db_update_one(r->c, f, u, KR_DB_UPSERT, &res);
    r->upserted = res.upserted_id;
    json_decref(f);
    json_decref(u);
    return NULL;
}

static void *upsert_same_key(void *arg)
{
    race *r = arg;
    pthread_barrier_wait(r->start);
    json_t *f = json_pack("{s:s}", "key", "k");
    json_t *u = json_pack("{s:{s:i}}", "$inc", "n", 1);
    kr_update_result res;
    r->rc = kr_db_update_one(r->c, f, u, KR_DB_UPSERT, &res);
    r->upserted = res.upserted_id;
    json_decref(f);
    json_decref(u);
    return NULL;
}

static void check_upsert_race(race *r, int n)
{
    int inserted = 0;
    for (int i = 0; i < n; i++) {
        if (r[i].rc != 0)
            fail_msg("thread %d: %s", i, kr_strerror(r[i].rc));
        inserted += r[i].upserted != NULL;
        free(r[i].upserted);
    }
    assert_int_equal(inserted, 1);
}

static void test_race_upserts(void **state)
{
    (void)state;
    if (!atomic_updates())
        return;
    kr_coll *c = fresh("race_upsert");
    race r[20] = {0};
    for (int i = 0; i < 20; i++)
        r[i].c = c;
    run_race(r, 20, upsert_same_id);
    check_upsert_race(r, 20);
    assert_int_equal(count(c, "{}"), 1);
    expect_json(get(c, "same"), "n", "20");

    OK(kr_db_create_index(c, J("{'key': 1}"), KR_DB_UNIQUE, NULL));
    memset(r, 0, sizeof(r));
    for (int i = 0; i < 20; i++)
        r[i].c = c;
    run_race(r, 20, upsert_same_key);
    check_upsert_race(r, 20);
    assert_int_equal(count(c, "{'key': 'k'}"), 1);
    json_t *d = NULL;
    OK(kr_db_find_one(c, J("{'key': 'k'}"), NULL, NULL, &d));
    expect_json(keep(d), "n", "20");
}

static void *reserve_own(void *arg)
{
    race *r = arg;
    char order[16];
    snprintf(order, sizeof(order), "r%d", r->index);
    pthread_barrier_wait(r->start);
    r->rc = reserve(r->c, order, 1);
    return NULL;
}

static void *reserve_shared(void *arg)
{
    race *r = arg;
    pthread_barrier_wait(r->start);
    r->rc = reserve(r->c, "shared", 1);
    return NULL;
}

static void *release_own(void *arg)
{
    race *r = arg;
    char order[16];
    snprintf(order, sizeof(order), "r%d", r->index);
    pthread_barrier_wait(r->start);
    r->rc = release(r->c, order, 1);
    return NULL;
}

static int winners(race *r, int n)
{
    int won = 0;
    for (int i = 0; i < n; i++) {
        if (r[i].rc == 0)
            won++;
        else if (r[i].rc != KR_ENOTFOUND)
            fail_msg("thread %d: %s", i, kr_strerror(r[i].rc));
    }
    return won;
}

static void test_race_order_effects(void **state)
{
    (void)state;
    if (!atomic_updates())
        return;
    kr_coll *p = product(8);
    race r[40] = {0};
    for (int i = 0; i < 40; i++)
        r[i].c = p;
    run_race(r, 40, reserve_own);
    assert_int_equal(winners(r, 40), 8);
    json_t *d = invariant(p, 8);
    expect_json(d, "stock", "0");
    assert_int_equal(json_array_size(at(d, "holds")), 8);

    run_race(r, 40, release_own);
    assert_int_equal(winners(r, 40), 8);
    d = invariant(p, 8);
    expect_json(d, "stock", "8");
    expect_json(d, "holds", "[]");

    run_race(r, 20, reserve_shared);
    assert_int_equal(winners(r, 20), 1);
    expect_json(invariant(p, 8), "holds", "[{'order': 'shared', 'qty': 1}]");
}

int main(void)
{
    char uri[1024], err[256];
    if (kt_database_uri(uri, sizeof(uri)) != 0)
        return 1;
    krc_db_opts opts = {.pool_size = 16, .timeout_ms = 10000};
    store = krc_db_open(uri, &opts, kt_host(), err, sizeof(err));
    if (store == NULL) {
        fprintf(stderr, "contract: krc_db_open: %s\n", err);
        kt_drop_database();
        return 1;
    }
    db = krc_db_handle(store);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_collection_names, teardown_test),
        cmocka_unit_test_teardown(test_insert_and_find_one, teardown_test),
        cmocka_unit_test_teardown(test_filter_equality_and_types, teardown_test),
        cmocka_unit_test_teardown(test_filter_comparisons, teardown_test),
        cmocka_unit_test_teardown(test_filter_arrays, teardown_test),
        cmocka_unit_test_teardown(test_filter_null_exists_in, teardown_test),
        cmocka_unit_test_teardown(test_filter_regex_and_logic, teardown_test),
        cmocka_unit_test_teardown(test_filter_refusals, teardown_test),
        cmocka_unit_test_teardown(test_sort_skip_limit, teardown_test),
        cmocka_unit_test_teardown(test_projection, teardown_test),
        cmocka_unit_test_teardown(test_count_and_delete, teardown_test),
        cmocka_unit_test_teardown(test_update_set_unset_inc, teardown_test),
        cmocka_unit_test_teardown(test_update_arrays, teardown_test),
        cmocka_unit_test_teardown(test_update_refusals, teardown_test),
        cmocka_unit_test_teardown(test_replacement_and_many, teardown_test),
        cmocka_unit_test_teardown(test_upsert, teardown_test),
        cmocka_unit_test_teardown(test_find_one_and_update, teardown_test),
        cmocka_unit_test_teardown(test_unique_indexes, teardown_test),
        cmocka_unit_test_teardown(test_order_effects, teardown_test),
        cmocka_unit_test_teardown(test_order_effects_portable, teardown_test),
        cmocka_unit_test_teardown(test_race_guarded_stock, teardown_test),
        cmocka_unit_test_teardown(test_race_upserts, teardown_test),
        cmocka_unit_test_teardown(test_race_order_effects, teardown_test),
    };
    int failed = cmocka_run_group_tests_name("kr_db contract", tests, NULL, NULL);
    krc_db_close(store);
    kt_drop_database();
    return failed;
}
